"""The v2 features on Mistral lines: spelt as Mistral's request schema and SDK types have them,
answered by the emulator, decoded back, and the capability table agreeing with the codec."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit.providers._capabilities import FEATURES
from batchkit.providers.mistral.adapter import MistralAdapter
from batchkit.providers.mistral.capabilities import CAPABILITIES
from batchkit.providers.mistral.codec import decode_line, request_body
from batchkit.providers.mistral.features import call_id
from batchkit.testing import _spec
from batchkit.testing.emulators.mistral.replies import check_body, default_responder

CHAT = "/v1/chat/completions"


class Invoice(BaseModel):
    """An invoice's key fields."""

    number: str
    total: float


TOOL = bk.Tool.from_model(Invoice)
ASK = {"role": "user", "content": "Extract the invoice."}
CALL = {"role": "assistant", "content": None, "tool_calls": [
    {"id": "call_abc123", "name": "Invoice", "arguments": {"number": "7", "total": 1.5}}]}
ANSWER = {"role": "tool", "tool_call_id": "call_abc123", "content": '{"ok": true}'}


def _chat(**kw: Any) -> bk.ChatRequest:
    kw.setdefault("messages", [ASK])
    return bk.ChatRequest(custom_id="r", **kw)


def _body(request: bk.ChatRequest) -> dict[str, Any]:
    body = {"model": "mistral-small-latest", **request_body(request)}
    assert _spec.validate("mistral", "ChatCompletionRequest", body) == []
    assert check_body(CHAT, body) is None
    return body


def _line(body: dict[str, Any]) -> bytes:
    reply = default_responder(CHAT, body, "r")
    return orjson.dumps({"id": "x", "custom_id": "r",
                         "response": {"status_code": 200, "body": reply}})


def test_tools_choices_and_a_replayed_round() -> None:
    body = _body(_chat(tools=[TOOL], tool_choice="Invoice", parallel_tool_calls=False,
                       messages=[ASK, CALL, ANSWER]))
    assert body["tools"][0] == {"type": "function", "function": {
        "name": "Invoice", "parameters": TOOL.parameters, "description": TOOL.description,
        "strict": True}}
    assert body["tool_choice"] == {"type": "function", "function": {"name": "Invoice"}}
    assert body["parallel_tool_calls"] is False
    assistant, tool = body["messages"][1], body["messages"][2]
    mapped = call_id("call_abc123")
    assert len(mapped) == 9 and mapped.isalnum() and call_id("abcDEF123") == "abcDEF123"
    assert assistant["tool_calls"] == [{"id": mapped, "type": "function", "function": {
        "name": "Invoice", "arguments": '{"number":"7","total":1.5}'}}]
    assert tool == {"role": "tool", "tool_call_id": mapped, "name": "Invoice",
                    "content": '{"ok": true}'}
    for choice in ("auto", "none", "required"):
        assert _body(_chat(tools=[TOOL], tool_choice=choice))["tool_choice"] == choice


def test_documents_reasoning_n_and_formats() -> None:
    uuid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    body = _body(_chat(messages=[{"role": "user", "content": [
        {"type": "text", "text": "Summarise"},
        {"type": "document", "url": "https://example.com/a.pdf", "title": "a.pdf"},
        {"type": "document", "data": "JVBERi0="},
        {"type": "document", "file_id": uuid}]}], reasoning="high", n=2, json_mode=True))
    chunks = body["messages"][0]["content"]
    assert chunks[1] == {"type": "document_url", "document_url": "https://example.com/a.pdf",
                         "document_name": "a.pdf"}
    assert chunks[2]["document_url"] == "data:application/pdf;base64,JVBERi0="
    assert chunks[3] == {"type": "file", "file_id": uuid}
    assert (body["reasoning_effort"], body["n"]) == ("high", 2)
    assert body["response_format"] == {"type": "json_object"}
    assert _body(_chat(reasoning="off"))["reasoning_effort"] == "none"
    schema = {"title": "Row", "type": "object", "properties": {"a": {"type": "integer"}}}
    assert _body(_chat(response_schema=schema))["response_format"] == {
        "type": "json_schema", "json_schema": {"name": "Row", "schema": schema}}


def test_emulated_replies_decode_into_calls_choices_and_reasoning() -> None:
    body = _body(_chat(tools=[TOOL], tool_choice="required", n=3))
    result = decode_line(_line(body))
    assert result.finish_reason == "tool_calls" and result.choices is not None
    assert len(result.choices) == 3
    for choice in result.choices:
        call = choice.tool_calls[0]
        assert call.name == "Invoice" and len(call.id) == 9
        assert isinstance(Invoice.model_validate(call.arguments), Invoice)
    thought = decode_line(_line(_body(_chat(reasoning="medium"))))
    assert thought.reasoning and thought.text and thought.reasoning not in thought.text
    cut = orjson.loads(_line(_body(_chat())))
    cut["response"]["body"]["choices"][0]["finish_reason"] = "model_length"
    decoded = decode_line(orjson.dumps(cut))
    assert (decoded.finish_reason, decoded.vendor_finish_reason) == ("length", "model_length")


@pytest.mark.parametrize("messages, tool_choice, words", [
    ([ASK, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}],
     None, "length of 9"),
    ([ASK, {"role": "tool", "tool_call_id": "abcdefghi", "name": "f", "content": "x"}],
     None, "no matching tool call"),
    ([ASK], {"type": "function", "function": {"name": "g"}}, "not in tools"),
])
def test_the_emulator_refuses_what_mistral_refuses(messages: list[Any], tool_choice: Any,
                                                   words: str) -> None:
    body: dict[str, Any] = {"model": "m", "messages": messages,
                            "tools": [{"type": "function", "function": {
                                "name": "f", "parameters": {"type": "object"}}}]}
    if tool_choice is not None:
        body["tool_choice"] = tool_choice
    refused = check_body(CHAT, body)
    assert refused is not None and refused.status_code == 400 and words in str(refused)


def test_capability_table_agrees_with_the_codec() -> None:
    adapter = MistralAdapter("mistral-small-latest")
    examples: dict[str, bk.ChatRequest] = {
        "tools": _chat(tools=[TOOL]),
        "tool_choice": _chat(tools=[TOOL], tool_choice="auto"),
        "tool_choice_required": _chat(tools=[TOOL], tool_choice="required"),
        "tool_choice_named": _chat(tools=[TOOL], tool_choice="Invoice"),
        "parallel_tool_calls": _chat(tools=[TOOL], parallel_tool_calls=True),
        "tool_results": _chat(tools=[TOOL], messages=[ASK, CALL, ANSWER]),
        "message_name": _chat(messages=[ASK | {"name": "ann"}]),
        "images": _chat(messages=[{"role": "user", "content": [
            {"type": "image", "url": "https://example.com/a.png"}]}]),
        "documents": _chat(messages=[{"role": "user", "content": [
            {"type": "document", "url": "https://example.com/a.pdf"}]}]),
        "document_file_id": _chat(messages=[{"role": "user", "content": [
            {"type": "document", "file_id": "0f8fad5b-d9cb-469f-a165-70867728950e"}]}]),
        "cache_breakpoints": _chat(messages=[ASK | {"cache": True}]),
        "reasoning": _chat(reasoning="low"),
        "reasoning_off": _chat(reasoning="off"),
        "n": _chat(n=2),
        "logprobs": _chat(logprobs=True),
        "response_schema": _chat(response_schema={"type": "object"}),
        "json_mode": _chat(json_mode=True),
    }
    assert set(examples) == set(FEATURES)
    plain = adapter.encode(_chat(), "r")
    for feature, request in examples.items():
        if CAPABILITIES[feature].supported:
            adapter.check_request(request)
            line = adapter.encode(request, "r")
            assert line != plain or feature == "cache_breakpoints", feature
            assert check_body(CHAT, {"model": "m", **orjson.loads(line)["body"]}) is None
        else:
            with pytest.raises(bk.InvalidRequestError, match="unsupported"):
                adapter.check_request(request)
