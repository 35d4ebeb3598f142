"""Readers take the v2 fields from OpenAI batch files and neutral JSONL (issue #20 item 6), so a
user's tool-calling OpenAI batch file moves to another vendor with ``batchkit convert``."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

import batchkit as bk
from batchkit.cli import cli

PDF = base64.b64encode(b"%PDF-1.4\n%%EOF").decode()
TOOL = {"type": "function", "function": {
    "name": "extract", "description": "Pull the invoice fields.", "strict": True,
    "parameters": {"type": "object", "additionalProperties": False,
                   "properties": {"total": {"type": "number"}}, "required": ["total"]}}}


def _line(cid: str, **body: Any) -> dict[str, Any]:
    return {"custom_id": cid, "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "gpt-4o-mini", **body}}


def _tool_file(path: Path) -> Path:
    lines = [
        _line("forced", tools=[TOOL], tool_choice={"type": "function",
                                                   "function": {"name": "extract"}},
              parallel_tool_calls=False, reasoning_effort="low",
              messages=[{"role": "user", "name": "clerk", "content": [
                  {"type": "file", "file": {"filename": "inv.pdf",
                                            "file_data": f"data:application/pdf;base64,{PDF}"}},
                  {"type": "text", "text": "Extract the total."}]}]),
        _line("replayed", tools=[TOOL], max_completion_tokens=300, messages=[
            {"role": "user", "content": "Total of invoice 7?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_9", "type": "function",
                 "function": {"name": "extract", "arguments": "{\"total\": 12.5}"}}]},
            {"role": "tool", "tool_call_id": "call_9", "content": "stored"}]),
        _line("schema", n=2, logprobs=True, top_logprobs=3, response_format={
            "type": "json_schema", "json_schema": {"name": "Total", "strict": True, "schema": {
                "type": "object", "properties": {"total": {"type": "number"}}}}},
            messages=[{"role": "user", "content": "Total?"}]),
        _line("json", response_format={"type": "json_object"}, reasoning_effort="none",
              messages=[{"role": "user", "content": "Total as JSON?"}]),
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines))
    return path


def test_openai_tool_file_reads_into_neutral_fields(tmp_path: Path) -> None:
    forced, replayed, schema, json_mode = bk.read_requests(_tool_file(tmp_path / "b.jsonl"))
    assert isinstance(forced, bk.ChatRequest) and forced.tools is not None
    tool = forced.tools[0]
    assert (tool.name, tool.description, tool.strict) == ("extract", "Pull the invoice fields.",
                                                          True)
    assert tool.parameters["required"] == ["total"]
    assert forced.tool_choice == "extract" and forced.parallel_tool_calls is False
    assert forced.reasoning is not None and forced.reasoning.effort == "low"
    assert forced.messages[0].name == "clerk" and forced.params == {}
    document = forced.messages[0].parts[0]
    assert isinstance(document, bk.DocumentPart) and document.data == PDF
    assert document.title == "inv.pdf" and document.media_type == "application/pdf"
    assert isinstance(replayed, bk.ChatRequest) and replayed.max_tokens == 300
    call = (replayed.messages[1].tool_calls or [])[0]
    assert (call.id, call.name, call.arguments) == ("call_9", "extract", {"total": 12.5})
    assert replayed.messages[2].role == "tool" and replayed.messages[2].tool_call_id == "call_9"
    assert isinstance(schema, bk.ChatRequest) and schema.n == 2
    assert schema.logprobs is True and schema.top_logprobs == 3
    assert schema.response_schema is not None and schema.response_schema["title"] == "Total"
    assert isinstance(json_mode, bk.ChatRequest) and json_mode.json_mode
    assert json_mode.reasoning is not None and json_mode.reasoning.off


def test_neutral_jsonl_takes_the_same_fields_in_either_tool_shape(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl"
    rows = [{"custom_id": "a", "tools": [TOOL], "tool_choice": "required", "n": 3,
             "reasoning": {"effort": "high"}, "messages": [{"role": "user", "content": "x"}]},
            {"custom_id": "b", "tools": [{"name": "extract", "parameters": TOOL["function"][
                "parameters"]}], "tool_choice": {"type": "function",
                                                 "function": {"name": "extract"}},
             "json_mode": True, "messages": [{"role": "user", "content": "y"}]}]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    a, b = bk.read_requests(path)
    assert isinstance(a, bk.ChatRequest) and isinstance(b, bk.ChatRequest)
    assert a.tools and a.tools[0].name == "extract" and a.tool_choice == "required"
    assert a.n == 3 and a.reasoning is not None and a.reasoning.effort == "high"
    assert b.tools and b.tool_choice == "extract" and b.json_mode


def test_a_tool_calling_openai_file_converts_to_anthropic(tmp_path: Path) -> None:
    source = tmp_path / "tools.jsonl"
    source.write_text("\n".join(json.dumps(_line(
        f"row-{i}", tools=[TOOL], tool_choice={"type": "function", "function": {"name":
                                                                               "extract"}},
        max_completion_tokens=200, messages=[{"role": "user", "content": f"Invoice {i}"}]))
        for i in range(5)))
    out = tmp_path / "anthropic"
    result = CliRunner().invoke(cli, ["convert", str(source), "--to",
                                      "anthropic:claude-haiku-4-5", "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    [payload] = [Path(p) for p in json.loads(result.output)["files"]]
    lines = [orjson.loads(x) for x in payload.read_bytes().splitlines()]
    assert len(lines) == 5
    params = lines[0]["params"]
    assert params["tools"][0]["name"] == "extract"
    assert params["tools"][0]["input_schema"]["required"] == ["total"]
    assert params["tool_choice"] == {"type": "tool", "name": "extract"}
    assert params["max_tokens"] == 200


@pytest.mark.parametrize("options", [[], ["-s", "endpoint=responses"]])
def test_convert_to_openai_keeps_tools_on_either_endpoint(tmp_path: Path,
                                                          options: list[str]) -> None:
    out, source = tmp_path / "openai", tmp_path / "b.jsonl"
    forced = json.loads(_tool_file(source).read_text().splitlines()[0])
    del forced["body"]["messages"][0]["name"]  # the Responses endpoint keeps no message name
    source.write_text(json.dumps(forced))
    result = CliRunner().invoke(cli, ["convert", str(source), "--to",
                                      "openai:gpt-5-mini", "-o", str(out), "--json", *options,
                                      ])
    assert result.exit_code == 0, result.output
    lines = [orjson.loads(x) for p in json.loads(result.output)["files"]
             for x in Path(p).read_bytes().splitlines()]
    first = lines[0]["body"]
    if options:
        assert lines[0]["url"] == "/v1/responses"
        assert first["tools"][0]["name"] == "extract"
        assert first["tool_choice"] == {"type": "function", "name": "extract"}
        assert first["input"][0]["content"][0]["type"] == "input_file"
    else:
        assert first["tools"] == [TOOL]
        assert first["tool_choice"] == {"type": "function", "function": {"name": "extract"}}
        assert first["reasoning_effort"] == "low"
