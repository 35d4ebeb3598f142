"""Conversion between every pair of chat-capable vendors, for a file of a plain, a structured
(response schema) and a tool request: each line either arrives saying the same thing (read back
by the target's own reader) or, where the target cannot express it, is refused in one line
naming the line and the id, with nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import batchkit as bk
from batchkit._convert import convert
from batchkit._registry import input_format, make_adapter

from ._samples import CHAT_SAMPLES, sample

TARGETS = {
    "openai": "openai:gpt-4o-mini",
    "azure": "azure:gpt-4o-mini-batch",
    "groq": "groq:llama-3.3-70b-versatile",
    "together": "together:meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "mistral": "mistral:mistral-small-latest",
    "anthropic": "anthropic:claude-haiku-4-5",
    "gemini": "gemini:gemini-2.5-flash",
    "vertex": "vertex:gemini-2.5-flash",
    "bedrock": "bedrock:anthropic.claude-3-5-haiku-20241022-v1:0",
    "cohere": "cohere:command-r-plus-08-2024",
}
READ_BACK = ("openai", "azure", "groq", "together", "mistral", "anthropic", "gemini", "vertex",
             "bedrock", "cohere")
"""Targets whose written lines are read back by their own reader (every one)."""


def _core(request: bk.Request) -> dict[str, Any]:
    """What a request says, in terms every chat vendor can carry: ids of tool calls may be
    re-made (Vertex has none, Mistral takes nine characters), so calls are matched by position."""
    assert isinstance(request, bk.ChatRequest)
    messages = []
    for m in request.messages:
        text: Any = m.text
        if m.role == "tool":
            text = json.loads(text)
        messages.append((m.role, text, [(c.name, c.arguments) for c in m.tool_calls or ()]))
    schema = request.response_schema or {}
    return {"messages": messages, "max_tokens": request.max_tokens,
            "schema": (schema.get("properties"), schema.get("required")),
            "tools": [(t.name, t.description) for t in request.tools or ()],
            "tool_choice": request.tool_choice}


def _refusal(request: bk.Request, target: str) -> str | None:
    try:
        make_adapter(TARGETS[target]).check_request(request)
    except bk.InvalidRequestError as exc:
        return exc.rule
    return None


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("source", sorted(CHAT_SAMPLES))
def test_every_line_converts_or_is_refused_naming_it(tmp_path: Path, source: str,
                                                     target: str) -> None:
    for line_no, raw in enumerate(sample(source).read_text().splitlines(), start=1):
        one = tmp_path / f"line{line_no}.jsonl"
        one.write_text(raw + "\n")
        [request] = bk.read_requests(one)
        out = tmp_path / f"out{line_no}.jsonl"
        rule = _refusal(request, target)
        if line_no == 1:
            assert rule is None, f"plain request refused by {target}: {rule}"
        if rule is not None:
            with pytest.raises(bk.InvalidRequestError) as caught:
                convert(one, TARGETS[target], out)
            assert str(caught.value) == f"line 1, custom_id {request.custom_id!r}: {rule}"
            assert not out.exists() and list(tmp_path.glob(".out*")) == []
            continue
        assert convert(one, TARGETS[target], out) == 1
        written = out.read_text().splitlines()
        assert len(written) == 1 and isinstance(json.loads(written[0]), dict)
        if target in READ_BACK:
            model = TARGETS[target].partition(":")[2]
            [back] = bk.read_requests(out, format=f"{input_format(target)[0]}:{model}")
            assert _core(back) == _core(request), (source, target, line_no)


def test_a_whole_file_with_one_refused_line_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "cohere.jsonl"
    out.write_text("kept\n")
    lines = sample("openai_chat").read_text().splitlines()
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join([lines[0], lines[0].replace("plain-1", "plain-2"), lines[2]]))
    with pytest.raises(bk.InvalidRequestError, match=r"^line 3, custom_id 'tool-1': cohere"):
        convert(source, "cohere:command-r-plus-08-2024", out)
    assert out.read_text() == "kept\n"
