"""The v2 features on Cohere batch chat lines: spelt as the v2 chat schema has them, answered
by the emulator, decoded back, and the capability table agreeing with the codec."""

from __future__ import annotations

import inspect
from typing import Any

import orjson
import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit._registry import make_adapter
from batchkit.providers._capabilities import FEATURES
from batchkit.providers.cohere.capabilities import CAPABILITIES
from batchkit.providers.cohere.chat import CHAT_FIELDS, decode_chat_record, encode_chat
from batchkit.providers.cohere.codec import check_chat
from batchkit.testing import _spec
from batchkit.testing.emulators.cohere.replies import body_problem, default_chat_responder

MODEL = "command-a-03-2025"


class Invoice(BaseModel):
    """An invoice's key fields."""

    number: str
    total: float


TOOL = bk.Tool.from_model(Invoice)
ASK = {"role": "user", "content": "Extract the invoice."}
CALL = {"role": "assistant", "content": None, "tool_calls": [
    {"id": "call_1", "name": "Invoice", "arguments": {"number": "7", "total": 1.5}}]}
ANSWER = {"role": "tool", "tool_call_id": "call_1", "content": '{"ok": true}'}


def _chat(**kw: Any) -> bk.ChatRequest:
    kw.setdefault("messages", [ASK])
    return bk.ChatRequest(custom_id="r", **kw)


def _body(request: bk.ChatRequest) -> dict[str, Any]:
    check_chat(request)
    body: dict[str, Any] = orjson.loads(encode_chat(request, "r"))["body"]
    assert body_problem(body, MODEL) is None
    return body


def _decoded(body: dict[str, Any]) -> bk.Result:
    return decode_chat_record("r", {"custom_id": "r", "error": "",
                                    "body": default_chat_responder(body, "r", MODEL)})


def test_chat_fields_are_the_v2_chat_request_fields() -> None:
    assert _spec.property_names("cohere", "V2ChatRequest") - {"model", "stream"} == CHAT_FIELDS
    from cohere.v2.client import V2Client

    sdk = set(inspect.signature(V2Client.chat).parameters) - {"self", "request_options"}
    assert sdk - {"model"} == CHAT_FIELDS


def test_tools_choice_thinking_logprobs_and_a_replayed_round() -> None:
    body = _body(_chat(tools=[TOOL], tool_choice="required", reasoning="low", logprobs=True,
                       messages=[ASK, CALL, ANSWER]))
    assert body["tools"] == [{"type": "function", "function": {
        "name": "Invoice", "parameters": TOOL.parameters, "description": TOOL.description}}]
    assert body["strict_tools"] is True and body["tool_choice"] == "REQUIRED"
    assert body["thinking"] == {"type": "enabled", "token_budget": 1024}
    assert body["logprobs"] is True
    assert body["messages"][1] == {"role": "assistant", "tool_calls": [{
        "id": "call_1", "type": "function",
        "function": {"name": "Invoice", "arguments": '{"number":"7","total":1.5}'}}]}
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "call_1",
                                   "content": '{"ok": true}'}
    assert "tool_choice" not in _body(_chat(tools=[TOOL], tool_choice="auto"))
    assert _body(_chat(tools=[TOOL], tool_choice="none"))["tool_choice"] == "NONE"
    assert _body(_chat(reasoning="off"))["thinking"] == {"type": "disabled"}
    assert _body(_chat(reasoning=300))["thinking"]["token_budget"] == 300
    assert _body(_chat(json_mode=True))["response_format"] == {"type": "json_object"}
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    assert _body(_chat(response_schema=schema))["response_format"] == {
        "type": "json_object", "json_schema": schema}


def test_emulated_replies_decode() -> None:
    forced = _decoded(_body(_chat(tools=[TOOL], tool_choice="required", reasoning="high")))
    assert forced.finish_reason == "tool_calls" and forced.vendor_finish_reason == "TOOL_CALL"
    assert isinstance(Invoice.model_validate(forced.tool_calls[0].arguments), Invoice)
    assert forced.reasoning and forced.text is None
    logged = _decoded(_body(_chat(logprobs=True)))
    assert logged.text and logged.logprobs is not None and logged.finish_reason == "stop"
    assert "".join(step["token"] + " " for step in logged.logprobs).strip() == logged.text


@pytest.mark.parametrize("body, words", [
    ({"messages": [ASK, {"role": "tool", "tool_call_id": "x", "content": "r"}]},
     "not in a previous assistant"),
    ({"messages": [ASK], "tool_choice": "REQUIRED"}, "requires tools"),
    ({"messages": [ASK], "tool_choice": "AUTO"}, "invalid request"),
])
def test_the_emulator_refuses_what_cohere_refuses(body: dict[str, Any], words: str) -> None:
    problem = body_problem(body, MODEL)
    assert problem is not None and words in problem


def test_capability_table_agrees_with_the_codec() -> None:
    adapter = make_adapter(f"cohere:{MODEL}", {})
    examples: dict[str, bk.ChatRequest] = {
        "tools": _chat(tools=[TOOL]),
        "tool_choice": _chat(tools=[TOOL], tool_choice="none"),
        "tool_choice_required": _chat(tools=[TOOL], tool_choice="required"),
        "tool_choice_named": _chat(tools=[TOOL], tool_choice="Invoice"),
        "parallel_tool_calls": _chat(tools=[TOOL], parallel_tool_calls=False),
        "tool_results": _chat(tools=[TOOL], messages=[ASK, CALL, ANSWER]),
        "message_name": _chat(messages=[ASK | {"name": "ann"}]),
        "images": _chat(messages=[{"role": "user", "content": [
            {"type": "image", "url": "https://example.com/a.png"}]}]),
        "documents": _chat(messages=[{"role": "user", "content": [
            {"type": "document", "url": "https://example.com/a.pdf"}]}]),
        "document_file_id": _chat(messages=[{"role": "user", "content": [
            {"type": "document", "file_id": "f-1"}]}]),
        "cache_breakpoints": _chat(messages=[ASK | {"cache": True}]),
        "reasoning": _chat(reasoning="medium"),
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
            assert body_problem(orjson.loads(line)["body"], MODEL) is None
        else:
            with pytest.raises(bk.InvalidRequestError, match="unsupported"):
                adapter.check_request(request)
    with pytest.raises(bk.InvalidRequestError, match="top_logprobs"):
        adapter.check_request(_chat(logprobs=True, top_logprobs=2))
