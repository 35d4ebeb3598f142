"""The encoders write the same bytes as before they were made fast: every vendor, every shape.

``bk.encode`` of a varied set of requests (plain, sampling, structured, tools and tool turns,
reasoning, images, documents, cache breakpoints, n, logprobs, raw schemas, JSON mode, scoped and
unscoped params, ids the vendor rewrites, embeddings) for every registered vendor with a
capability table, compared byte for byte with files written by the encoders before their speed
work (``tests/encode_golden/``): each payload line and each request-index line, or, for a request
the vendor cannot take, the refusal's message. One job per vendor also mixes chat and embeddings
with copies at temperature 0, so the planner's grouping and de-duplication are covered.

A byte that changes fails here. When an encoder's output is meant to change, write the files
anew and review the diff: ``python tests/test_encode_identity.py --write``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script (--write): the repo root makes `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit._exceptions import BatchkitError
from tests._fixtures import DOCUMENT, DOCUMENT_BY_ID, IMAGE, LOOKUP, NOTE, SCHEMA, TURNS, asking

GOLDEN = Path(__file__).parent / "encode_golden"


class Verdict(BaseModel):
    """A small classification, the usual response model of a structured job."""

    spam: bool
    confidence: float
    reason: str


SYSTEM = {"role": "system", "content": "Classify the email as spam or ham and say why."}
USER = {"role": "user",
        "content": "Where is it sunny today? Answer in JSON. \u00e9\u4e2d\U0001f600"}

CHAT: dict[str, dict[str, Any]] = {
    "plain": {"messages": [SYSTEM, USER], "max_tokens": 100},
    "user_only": {"messages": [USER]},
    "sampling": {"messages": [USER], "temperature": 0.3, "top_p": 0.9, "stop": ["END"],
                 "seed": 7},
    "temperature_only": {"messages": [SYSTEM, USER], "temperature": 0.0, "max_tokens": 20},
    "structured": {"messages": [SYSTEM, USER], "max_tokens": 100, "response_model": Verdict},
    "structured_sampled": {"messages": [USER], "response_model": Verdict, "temperature": 0.5},
    "metadata": {"messages": [USER], "metadata": {"row": 3, "tag": "x"}},
    "conversation": {"messages": [SYSTEM, USER, {"role": "assistant", "content": "Paris."},
                                  {"role": "user", "content": "And tomorrow?"}]},
    "tools": {"messages": [USER], "tools": [LOOKUP]},
    "tool_choice": {"messages": [USER], "tools": [LOOKUP], "tool_choice": "auto"},
    "tool_choice_none": {"messages": [USER], "tools": [LOOKUP], "tool_choice": "none"},
    "tool_choice_required": {"messages": [USER], "tools": [LOOKUP], "tool_choice": "required"},
    "tool_choice_named": {"messages": [USER], "tools": [LOOKUP, NOTE], "tool_choice": "note"},
    "parallel_tool_calls": {"messages": [USER], "tools": [LOOKUP], "tool_choice": "required",
                            "parallel_tool_calls": False},
    "tool_results": {"messages": TURNS, "tools": [LOOKUP]},
    "tools_structured": {"messages": [SYSTEM, USER], "tools": [LOOKUP],
                         "response_model": Verdict},
    "message_name": {"messages": [{**USER, "name": "alice"}]},
    "images": {"messages": [asking(IMAGE)]},
    "image_url": {"messages": [asking({"type": "image", "url": "https://example.com/a.png",
                                       "detail": "low"})]},
    "documents": {"messages": [asking(DOCUMENT)]},
    "document_file_id": {"messages": [asking(DOCUMENT_BY_ID)]},
    "document_url": {"messages": [asking({"type": "document",
                                          "url": "https://example.com/a.pdf"})]},
    "cache_breakpoints": {"messages": [SYSTEM, {**USER, "cache": True}]},
    "reasoning": {"messages": [USER], "reasoning": "low", "max_tokens": 2000},
    "reasoning_room": {"messages": [SYSTEM, USER], "reasoning": "high", "max_tokens": 40000},
    "reasoning_budget": {"messages": [USER], "reasoning": {"budget_tokens": 1024},
                         "max_tokens": 4000},
    "reasoning_off": {"messages": [USER], "reasoning": "off"},
    "n": {"messages": [USER], "n": 2},
    "n_one": {"messages": [USER], "n": 1},
    "logprobs": {"messages": [USER], "logprobs": True, "top_logprobs": 2},
    "response_schema": {"messages": [USER], "response_schema": SCHEMA},
    "json_mode": {"messages": [USER], "json_mode": True},
    "params_unscoped": {"messages": [USER], "params": {"user": "u-1"}},
    "params_scoped": {"messages": [USER], "params": {
        "openai": {"user": "u-1"}, "anthropic": {"metadata": {"user_id": "u-1"}},
        "gemini": {"labels": {"a": "b"}}, "mistral": {"random_seed": 3}}},
    "params_model": {"messages": [USER], "params": {"model": "other"}},
}
EMBED: dict[str, dict[str, Any]] = {
    "embed": {"text": "The quick brown fox."},
    "embed_dimensions": {"text": "The quick brown fox.", "dimensions": 64},
    "embed_input_type": {"text": "a query", "input_type": "search_query"},
    "embed_float": {"text": "floats please", "params": {"encoding_format": "float"}},
}
ODD_IDS = ["needs/escaping id", "x" * 80]
"""Ids some vendors cannot take as they are (the adapter sends a rewritten vendor id)."""


def _columns() -> dict[str, tuple[str, str | None, dict[str, Any]]]:
    """Column name -> (chat provider, embed provider or None, options): every vendor with a
    capability table, and the endpoints and models that change how a line is spelt."""
    return {
        "openai": ("openai:gpt-4o-mini", "openai:text-embedding-3-small", {}),
        "openai-reasoning": ("openai:gpt-5-mini", None, {}),
        "openai-responses": ("openai:gpt-5-mini", None, {"endpoint": "responses"}),
        "anthropic": ("anthropic:claude-haiku-4-5", None, {}),
        "anthropic-cache-system": ("anthropic:claude-haiku-4-5", None, {"cache_system": True}),
        "anthropic-drop-sampling": ("anthropic:claude-haiku-4-5", None,
                                    {"drop_sampling": True, "max_tokens": 512}),
        "azure": ("azure:gpt-4o-mini", None, {}),
        "azure-responses": ("azure:gpt-4o-mini", None, {"api": "responses"}),
        "bedrock": ("bedrock:anthropic.claude-3-5-haiku-20241022-v1:0",
                    "bedrock:amazon.titan-embed-text-v2:0", {}),
        "cohere": ("cohere:command-r-08-2024", "cohere:embed-english-v3.0", {}),
        "gemini": ("gemini:gemini-2.5-flash", "gemini:gemini-embedding-001", {}),
        "groq": ("groq:llama-3.1-8b-instant", None, {}),
        "groq-reasoning": ("groq:openai/gpt-oss-20b", None, {}),
        "mistral": ("mistral:mistral-small-latest", "mistral:codestral-embed", {}),
        "together": ("together:openai/gpt-oss-20b", None, {}),
        "vertex": ("vertex:gemini-2.5-flash", "vertex:text-embedding-005", {}),
    }


COLUMNS = _columns()


def _encode(requests: list[bk.ChatRequest | bk.EmbedRequest], provider: str,
            options: dict[str, Any]) -> dict[str, Any]:
    """Every payload and index line ``bk.encode`` writes, or the refusal's message."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            paths = bk.encode(requests, provider, tmp, options=dict(options))
        except BatchkitError as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}
        files = sorted(Path(tmp).glob("*.jsonl"))
        return {path.name: path.read_bytes().decode().splitlines() for path in files} | {
            "payloads": [p.name for p in paths]}


def _cases(column: str) -> Iterator[tuple[str, list[bk.ChatRequest | bk.EmbedRequest], str]]:
    chat, embed, _ = COLUMNS[column]
    for name, fields in CHAT.items():
        yield name, [bk.ChatRequest(custom_id=name, **fields)], chat
    for cid in ODD_IDS:
        yield f"id:{cid[:20]}", [bk.ChatRequest(custom_id=cid, **CHAT["plain"])], chat
    if embed is not None:
        for name, fields in EMBED.items():
            yield name, [bk.EmbedRequest(custom_id=name, **fields)], embed
    # One job through the whole planner: copies at temperature 0 share a line.
    job = [bk.ChatRequest(custom_id=f"job-{i}", **{**CHAT["structured"], "temperature": 0,
                                                   "messages": [SYSTEM, {
                                                       "role": "user",
                                                       "content": f"email {i % 3}"}]})
           for i in range(6)]
    job += [bk.ChatRequest(custom_id=f"plain-{i}", **CHAT["plain"]) for i in range(3)]
    yield "job", list(job), chat
    if embed is not None:
        copies: list[bk.ChatRequest | bk.EmbedRequest] = [
            bk.EmbedRequest(custom_id=f"e-{i}", text=f"text {i % 2}") for i in range(4)]
        yield "embed_job", copies, embed


def encode_column(column: str) -> dict[str, Any]:
    options = COLUMNS[column][2]
    return {name: _encode(requests, provider, options)
            for name, requests, provider in _cases(column)}


@pytest.fixture(autouse=True)
def _bedrock_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bedrock's per-job minimum of 100 records, lowered so one request makes a job."""
    monkeypatch.setenv("BATCHKIT_BEDROCK_MIN_RECORDS", "1")


@pytest.mark.parametrize("column", list(COLUMNS))
def test_encoded_bytes_are_unchanged(column: str) -> None:
    expected = json.loads((GOLDEN / f"{column}.json").read_text())
    got = encode_column(column)
    assert sorted(got) == sorted(expected)
    for case, files in expected.items():
        assert got[case] == files, f"{column} / {case}: the encoded bytes changed"


def test_the_golden_files_hold_lines() -> None:
    """The comparison is between written lines, not between two empty sets or two errors."""
    lines = 0
    for column in COLUMNS:
        for files in json.loads((GOLDEN / f"{column}.json").read_text()).values():
            lines += sum(len(v) for k, v in files.items() if k.endswith(".payload.jsonl"))
    assert lines > 300


def _write() -> None:
    os.environ["BATCHKIT_BEDROCK_MIN_RECORDS"] = "1"
    GOLDEN.mkdir(exist_ok=True)
    for column in COLUMNS:
        text = json.dumps(encode_column(column), indent=1, ensure_ascii=False, sort_keys=True)
        (GOLDEN / f"{column}.json").write_text(text + "\n")
        print("wrote", GOLDEN / f"{column}.json")


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    # Imported under its test name, so the response models' paths in the index are the ones
    # the test sees (not "__main__:Verdict").
    __import__("tests.test_encode_identity", fromlist=["_write"])._write()
