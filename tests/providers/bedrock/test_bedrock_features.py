"""Bedrock's v2 features: Claude's body carries the shared Anthropic Messages features (checked
by the emulator's model-input validator), Bedrock's own limits are refused before sending, and
Nova refuses what batchkit does not spell for it yet."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit._registry import make_adapter
from batchkit.providers._capabilities import FEATURES, features_used
from batchkit.providers.bedrock.capabilities import CAPABILITIES
from batchkit.providers.bedrock.codec import CLAUDE, NOVA, decode_line, encode_record
from batchkit.testing.emulators.bedrock.replies import default_responder, input_problem

from .conftest import CLAUDE as CLAUDE_PROVIDER
from .conftest import NOVA as NOVA_PROVIDER

MODEL = CLAUDE_PROVIDER.removeprefix("bedrock:")
PDF = base64.b64encode(b"%PDF-1.4 a tiny document").decode()


class Invoice(BaseModel):
    number: str
    total: float


TOOL = bk.Tool.from_model(Invoice)
LOOKUP = bk.Tool.from_schema("lookup", {"type": "object", "properties": {
    "q": {"type": "string"}}, "required": ["q"]})
CONVERSATION = [
    {"role": "user", "content": "total of A1?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "toolu_a", "name": "lookup", "arguments": {"q": "A1"}}]},
    {"role": "tool", "tool_call_id": "toolu_a", "content": "A1: 10"},
]


def chat(**kw: Any) -> bk.ChatRequest:
    kw.setdefault("messages", [{"role": "user", "content": "read the invoice"}])
    return bk.ChatRequest(custom_id="r1", **kw)


def body(request: bk.ChatRequest) -> dict[str, Any]:
    make_adapter(CLAUDE_PROVIDER).check_request(request)
    out: dict[str, Any] = orjson.loads(encode_record(request, "r1", CLAUDE, {}))["modelInput"]
    problem = input_problem(MODEL, out)
    assert problem is None, problem
    return out


def refused(request: bk.ChatRequest, provider: str = CLAUDE_PROVIDER) -> str:
    with pytest.raises(bk.InvalidRequestError) as info:
        make_adapter(provider).check_request(request)
    return str(info.value)


def test_claude_tools_choice_and_parallel_without_strict() -> None:
    sent = body(chat(tools=[TOOL, LOOKUP], tool_choice="required", parallel_tool_calls=False))
    assert [t["name"] for t in sent["tools"]] == ["Invoice", "lookup"]
    assert all("strict" not in t for t in sent["tools"])
    assert sent["tools"][0]["input_schema"] == TOOL.parameters
    assert sent["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}


def test_claude_conversation_with_a_tool_result() -> None:
    sent = body(chat(messages=CONVERSATION, tools=[LOOKUP]))
    assert sent["messages"][1:] == [
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_a", "name": "lookup", "input": {"q": "A1"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_a", "content": "A1: 10"}]}]
    orphan = dict(sent, messages=[sent["messages"][0], sent["messages"][2]])
    assert "unexpected `tool_use_id`" in str(input_problem(MODEL, orphan))


def test_claude_documents_cache_and_thinking() -> None:
    sent = body(chat(reasoning="low", messages=[{"role": "user", "content": [
        {"type": "document", "data": PDF, "cache": True}, {"type": "text", "text": "total?"}]}]))
    assert sent["messages"][0]["content"][0] == {
        "type": "document", "cache_control": {"type": "ephemeral"},
        "source": {"type": "base64", "media_type": "application/pdf", "data": PDF}}
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}


def test_response_schema_is_the_forced_respond_tool_and_decodes_as_text() -> None:
    schema = {"type": "object", "properties": {"total": {"type": "number"}},
              "required": ["total"]}
    sent = body(chat(response_schema=schema))
    assert sent["tool_choice"] == {"type": "tool", "name": "respond"}
    output = default_responder(MODEL, sent, "r1")
    result = decode_line(orjson.dumps({"recordId": "r1", "modelOutput": output}))
    assert isinstance(orjson.loads(result.text or "")["total"], float | int)
    assert result.tool_calls == [] and result.finish_reason == "stop"


def test_forced_tool_reply_and_thinking_reply_decode() -> None:
    output = default_responder(MODEL, body(chat(tools=[TOOL], tool_choice="Invoice")), "r1")
    result = decode_line(orjson.dumps({"recordId": "r1", "modelOutput": output}))
    [call] = result.tool_calls
    assert Invoice.model_validate(call.arguments) and result.finish_reason == "tool_calls"
    output = default_responder(MODEL, body(chat(reasoning=2000)), "r1")
    result = decode_line(orjson.dumps({"recordId": "r1", "modelOutput": output}))
    assert result.reasoning and result.usage and result.usage.reasoning_tokens > 0


@pytest.mark.parametrize(("request_", "words"), [
    (chat(messages=[{"role": "user", "content": [
        {"type": "document", "url": "https://example.com/a.pdf"}]}]), "base64 data"),
    (chat(reasoning="low", temperature=0.5), "cannot think with temperature"),
    (chat(response_model=Invoice, tools=[LOOKUP]), "cannot share the request with tools"),
    (chat(response_model=Invoice, reasoning="low"), "cannot think while a tool is forced"),
    (chat(n=2), "send N records"),
    (chat(params={"logit_bias": {"1": 2}}), "'logit_bias' is not a bedrock request field"),
])
def test_bedrock_refusals_name_the_rule(request_: bk.ChatRequest, words: str) -> None:
    message = refused(request_)
    assert "custom_id 'r1'" in message and words in message


NOVA_MODEL = NOVA_PROVIDER.removeprefix("bedrock:")


def nova_body(request: bk.ChatRequest) -> dict[str, Any]:
    make_adapter(NOVA_PROVIDER).check_request(request)
    out: dict[str, Any] = orjson.loads(encode_record(request, "r1", NOVA, {}))["modelInput"]
    problem = input_problem(NOVA_MODEL, out)
    assert problem is None, problem
    return out


def test_nova_tools_and_choices_in_tool_config() -> None:
    sent = nova_body(chat(tools=[TOOL, LOOKUP], tool_choice="required"))
    assert sent["toolConfig"]["tools"][1] == {"toolSpec": {
        "name": "lookup", "inputSchema": {"json": LOOKUP.parameters}}}
    assert sent["toolConfig"]["toolChoice"] == {"any": {}}
    choices = {c: nova_body(chat(tools=[TOOL], tool_choice=c))["toolConfig"]["toolChoice"]
               for c in ("auto", "Invoice")}
    assert choices == {"auto": {"auto": {}}, "Invoice": {"tool": {"name": "Invoice"}}}
    output = default_responder(NOVA_MODEL, sent, "r1")
    result = decode_line(orjson.dumps({"recordId": "r1", "modelOutput": output}))
    [call] = result.tool_calls
    assert call.name == "Invoice" and Invoice.model_validate(call.arguments)
    assert result.finish_reason == "tool_calls" and result.vendor_finish_reason == "tool_use"


def test_nova_conversation_documents_and_cache_points() -> None:
    sent = nova_body(chat(tools=[LOOKUP], messages=[
        *CONVERSATION[:2], {**CONVERSATION[2], "cache": True},
        {"role": "user", "content": [{"type": "document", "data": PDF, "title": "inv 7.pdf"},
                                     {"type": "text", "text": "and this?", "cache": True}]}]))
    assert sent["messages"][1:3] == [
        {"role": "assistant", "content": [
            {"toolUse": {"toolUseId": "toolu_a", "name": "lookup", "input": {"q": "A1"}}}]},
        {"role": "user", "content": [
            {"toolResult": {"toolUseId": "toolu_a", "content": [{"text": "A1: 10"}]}},
            {"cachePoint": {"type": "default"}}]}]
    assert sent["messages"][3]["content"] == [
        {"document": {"format": "pdf", "name": "inv 7-pdf", "source": {"bytes": PDF}}},
        {"text": "and this?"}, {"cachePoint": {"type": "default"}}]
    orphan = dict(sent, messages=[sent["messages"][0], sent["messages"][2]])
    assert "matches no toolUse" in str(input_problem(NOVA_MODEL, orphan))


@pytest.mark.parametrize(("request_", "words"), [
    (chat(reasoning="low"), "bedrock (Amazon Nova): reasoning unsupported"),
    (chat(tools=[TOOL], tool_choice="none"), "no tool_choice 'none'"),
    (chat(tools=[TOOL], parallel_tool_calls=False), "no parallel_tool_calls"),
    (chat(messages=CONVERSATION), "needs the request's tools"),
])
def test_nova_refuses_what_its_body_cannot_say(request_: bk.ChatRequest, words: str) -> None:
    assert words in refused(request_, NOVA_PROVIDER)


SAMPLES: dict[str, dict[str, Any]] = {
    "tools": {"tools": [TOOL]}, "tool_choice": {"tools": [TOOL], "tool_choice": "none"},
    "tool_choice_required": {"tools": [TOOL], "tool_choice": "required"},
    "tool_choice_named": {"tools": [TOOL], "tool_choice": "Invoice"},
    "parallel_tool_calls": {"tools": [TOOL], "parallel_tool_calls": False},
    "tool_results": {"messages": CONVERSATION, "tools": [LOOKUP]},
    "message_name": {"messages": [{"role": "user", "content": "hi", "name": "al"}]},
    "images": {"messages": [{"role": "user", "content": [
        {"type": "image", "data": "AAAA", "media_type": "image/png"}]}]},
    "documents": {"messages": [{"role": "user", "content": [{"type": "document",
                                                             "data": PDF}]}]},
    "document_file_id": {"messages": [{"role": "user", "content": [
        {"type": "document", "file_id": "file_1"}]}]},
    "cache_breakpoints": {"messages": [{"role": "user", "content": "hi", "cache": True}]},
    "reasoning": {"reasoning": "low"}, "reasoning_off": {"reasoning": "off"}, "n": {"n": 2},
    "logprobs": {"logprobs": True}, "response_schema": {"response_schema": {"type": "object"}},
    "json_mode": {"json_mode": True},
}


@pytest.mark.parametrize("feature", FEATURES)
def test_capability_table_agrees_with_the_claude_codec(feature: str) -> None:
    request = chat(**SAMPLES[feature])
    assert feature in features_used(request)
    if CAPABILITIES[feature].supported:
        body(request)
    else:
        refused(request)


@pytest.mark.parametrize("raw", [{"tools": []}, {"bedrock": {"tool_choice": {"type": "any"}}}])
def test_raw_params_cannot_replace_the_respond_tool_scoped_or_not(raw: dict[str, Any]) -> None:
    assert "would replace the tool" in refused(chat(response_model=Invoice, params=raw))
    assert "choose it in the provider string" in refused(chat(params={"bedrock": {"model": "x"}}))
