"""The v2 features in the Gemini codec (shared by Vertex AI): encoded as google-genai's types
spell them, decoded back, and the capability tables agreeing with what the codec does."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from google.genai import types
from pydantic import BaseModel

import batchkit as bk
from batchkit.providers._capabilities import FEATURES
from batchkit.providers.gemini.adapter import GeminiAdapter
from batchkit.providers.gemini.capabilities import CAPABILITIES as GEMINI
from batchkit.providers.gemini.codec import (
    encode_generate_content_request,
    gemini_request_fields,
)
from batchkit.providers.gemini.results import decode_generate_content_response
from batchkit.providers.vertex.adapter import VertexAdapter
from batchkit.providers.vertex.capabilities import CAPABILITIES as VERTEX
from batchkit.providers.vertex.codec import VERTEX as VERTEX_DIALECT
from batchkit.providers.vertex.codec import vertex_request_fields
from batchkit.testing.emulators.gemini.replies import generate_problem, generate_reply
from batchkit.testing.emulators.vertex.replies import check_chat_row


class Invoice(BaseModel):
    """An invoice's key fields."""

    number: str
    total: float


TOOL = bk.Tool.from_model(Invoice)
ASK = {"role": "user", "content": "Extract the invoice."}
CALL = {"role": "assistant", "content": None,
        "tool_calls": [{"id": "c1", "name": "Invoice", "arguments": {"number": "7",
                                                                     "total": 1.5}}]}


def _chat(**kw: Any) -> bk.ChatRequest:
    kw.setdefault("messages", [ASK])
    return bk.ChatRequest(custom_id="r", **kw)


def _sdk_valid(body: dict[str, Any]) -> None:
    """The body parses with google-genai's own types (unknown fields forbidden)."""
    for content in body["contents"]:
        types.Content.model_validate_json(orjson.dumps(content))
    for tool in body.get("tools", []):
        types.Tool.model_validate_json(orjson.dumps(tool))
    if "toolConfig" in body:
        types.ToolConfig.model_validate_json(orjson.dumps(body["toolConfig"]))
    types.GenerationConfig.model_validate_json(orjson.dumps(body.get("generationConfig", {})))


def test_tools_and_every_tool_choice() -> None:
    body = encode_generate_content_request(_chat(tools=[TOOL], tool_choice="Invoice"))
    _sdk_valid(body)
    declaration = body["tools"][0]["functionDeclarations"][0]
    assert declaration["name"] == "Invoice" and declaration["description"].startswith("An inv")
    assert declaration["parametersJsonSchema"]["required"] == ["number", "total"]
    assert body["toolConfig"] == {"functionCallingConfig": {
        "mode": "ANY", "allowedFunctionNames": ["Invoice"]}}
    for choice, mode in [("auto", "AUTO"), ("none", "NONE"), ("required", "ANY")]:
        got = encode_generate_content_request(_chat(tools=[TOOL], tool_choice=choice))
        assert got["toolConfig"] == {"functionCallingConfig": {"mode": mode}}


def test_a_replayed_tool_round_pairs_calls_and_responses() -> None:
    second = {"role": "assistant", "content": "Two calls.", "tool_calls": [
        {"id": "a", "name": "Invoice", "arguments": {}}, {"id": "b", "name": "Invoice"}]}
    request = _chat(tools=[TOOL], messages=[
        ASK, CALL, {"role": "tool", "tool_call_id": "c1", "content": '{"ok": true}'},
        second, {"role": "tool", "tool_call_id": "a", "content": "plain text"},
        {"role": "tool", "tool_call_id": "b", "content": "[1, 2]"}])
    body = encode_generate_content_request(request)
    _sdk_valid(body)
    roles = [c["role"] for c in body["contents"]]
    assert roles == ["user", "model", "user", "model", "user"]
    assert body["contents"][1]["parts"] == [{"functionCall": {
        "id": "c1", "name": "Invoice", "args": {"number": "7", "total": 1.5}}}]
    assert body["contents"][2]["parts"] == [{"functionResponse": {
        "id": "c1", "name": "Invoice", "response": {"ok": True}}}]
    assert body["contents"][3]["parts"][0] == {"text": "Two calls."}
    responses = [p["functionResponse"]["response"] for p in body["contents"][4]["parts"]]
    assert responses == [{"output": "plain text"}, {"output": "[1, 2]"}]
    _, problem = generate_problem(body, "models/gemini-2.5-flash")
    assert problem is None
    vertex = encode_generate_content_request(request, VERTEX_DIALECT)
    assert vertex["contents"][1]["parts"] == [{"functionCall": {
        "name": "Invoice", "args": {"number": "7", "total": 1.5}}}]
    assert vertex["contents"][2]["parts"] == [{"functionResponse": {
        "name": "Invoice", "response": {"ok": True}}}]
    assert check_chat_row({"request": vertex}, "gemini-2.5-flash") is None


def test_documents_reasoning_n_logprobs_and_formats() -> None:
    pdf = {"type": "document", "data": "JVBERi0=", "title": "a.pdf"}
    linked = {"type": "document", "url": "https://example.com/a.pdf"}
    held = {"type": "document", "file_id": "gs://bucket/a.pdf"}
    request = _chat(messages=[{"role": "user", "content": [
        {"type": "text", "text": "Summarise"}, pdf, linked, held]}],
        reasoning="medium", n=3, logprobs=True, top_logprobs=4, json_mode=True)
    body = encode_generate_content_request(request)
    _sdk_valid(body)
    parts = body["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}}
    assert parts[2]["fileData"]["fileUri"] == "https://example.com/a.pdf"
    assert parts[3]["fileData"] == {"mimeType": "application/pdf",
                                    "fileUri": "gs://bucket/a.pdf"}
    config = body["generationConfig"]
    assert config["thinkingConfig"] == {"includeThoughts": True, "thinkingBudget": 8192}
    assert (config["candidateCount"], config["responseLogprobs"], config["logprobs"]) == (
        3, True, 4)
    assert config["responseMimeType"] == "application/json"
    assert "responseJsonSchema" not in config
    off = encode_generate_content_request(_chat(reasoning="off"))
    assert off["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 0}
    budget = encode_generate_content_request(_chat(reasoning=3000))
    assert budget["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 3000
    schema = {"title": "Row", "type": "object", "properties": {"a": {"type": "integer"}},
              "required": ["a"], "pattern_unknown_keyword": 1}
    raw = encode_generate_content_request(_chat(response_schema=schema))
    assert raw["generationConfig"]["responseJsonSchema"] == {
        "title": "Row", "type": "object", "properties": {"a": {"type": "integer"}},
        "required": ["a"], "propertyOrdering": ["a"]}


def test_emulated_reply_decodes_into_tool_calls_thoughts_choices_logprobs() -> None:
    body = encode_generate_content_request(_chat(
        tools=[TOOL], tool_choice="required", reasoning="low", n=2, logprobs=True))
    assert generate_problem(body, "models/gemini-2.5-flash")[1] is None
    result = decode_generate_content_response("r", generate_reply(
        "models/gemini-2.5-flash", body, "r"))
    assert result.finish_reason == "tool_calls" and result.vendor_finish_reason == "STOP"
    call = result.tool_calls[0]
    assert call.name == "Invoice" and Invoice.model_validate(call.arguments)
    assert orjson.loads(call.raw_arguments) == call.arguments
    assert result.reasoning and result.usage is not None and result.usage.reasoning_tokens > 0
    assert result.choices is not None and [c.index for c in result.choices] == [0, 1]
    assert result.choices[1].tool_calls[0].id != call.id
    text = encode_generate_content_request(_chat(logprobs=True, top_logprobs=2))
    logged = decode_generate_content_response("r", generate_reply(
        "models/gemini-2.5-flash", text, "r"))
    assert logged.text and logged.logprobs is not None
    assert "".join(step["token"] for step in logged.logprobs) == logged.text
    assert all(len(step["top_logprobs"]) == 2 for step in logged.logprobs)
    assert logged.tool_calls == [] and logged.choices is None


def test_a_call_without_id_gets_a_stable_one_and_finish_words_are_batchkits() -> None:
    response = {"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "f", "args": {"x": 1}}},
        {"functionCall": {"name": "g"}}]}, "finishReason": "STOP"}]}
    first = decode_generate_content_response("r", response)
    again = decode_generate_content_response("r", response)
    assert [c.id for c in first.tool_calls] == ["call_0", "call_1"] == \
        [c.id for c in again.tool_calls]
    assert first.tool_calls[1].arguments == {}
    other = decode_generate_content_response("r", {"candidates": [{"content": {"parts": [
        {"text": "x"}]}, "finishReason": "OTHER"}]})
    assert (other.finish_reason, other.vendor_finish_reason) == ("other", "OTHER")


@pytest.mark.parametrize("body, words", [
    ({"contents": [{"role": "user", "parts": [{"text": "q"}]}, {"role": "user", "parts": [
        {"functionResponse": {"name": "f", "response": {}}}]}]}, "function response"),
    ({"contents": [{"role": "user", "parts": [{"text": "q"}]}],
      "tools": [{"functionDeclarations": [{"name": "f"}]}],
      "toolConfig": {"functionCallingConfig": {"mode": "AUTO",
                                               "allowedFunctionNames": ["f"]}}}, "ANY"),
    ({"contents": [{"role": "user", "parts": [{"text": "q"}]}],
      "tools": [{"functionDeclarations": [{"name": "f"}]}],
      "toolConfig": {"functionCallingConfig": {"mode": "ANY",
                                               "allowedFunctionNames": ["g"]}}}, "declared"),
    ({"contents": [{"role": "user", "parts": [{"text": "q"}]}],
      "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}}, "thinking mode"),
    ({"contents": [{"role": "user", "parts": [{"text": "q"}]}],
      "generationConfig": {"logprobs": 3}}, "response_logprobs"),
])
def test_the_emulator_refuses_what_gemini_refuses(body: dict[str, Any], words: str) -> None:
    _, problem = generate_problem(body, "models/gemini-2.5-pro")
    assert problem is not None and words in problem


@pytest.mark.parametrize("adapter, table", [(GeminiAdapter("gemini-2.5-flash"), GEMINI),
                                            (VertexAdapter("gemini-2.5-flash"), VERTEX)])
def test_capability_table_agrees_with_the_codec(adapter: Any, table: Any) -> None:
    """Each feature the table says yes to is accepted and changes the encoded line; each it
    refuses is refused at planning."""
    examples: dict[str, bk.ChatRequest] = {
        "tools": _chat(tools=[TOOL]),
        "tool_choice": _chat(tools=[TOOL], tool_choice="auto"),
        "tool_choice_required": _chat(tools=[TOOL], tool_choice="required"),
        "tool_choice_named": _chat(tools=[TOOL], tool_choice="Invoice"),
        "parallel_tool_calls": _chat(tools=[TOOL], parallel_tool_calls=False),
        "tool_results": _chat(tools=[TOOL], messages=[
            ASK, CALL, {"role": "tool", "tool_call_id": "c1", "content": "ok"}]),
        "message_name": _chat(messages=[ASK | {"name": "ann"}]),
        "images": _chat(messages=[{"role": "user", "content": [
            {"type": "image", "url": "https://example.com/a.png"}]}]),
        "documents": _chat(messages=[{"role": "user", "content": [
            {"type": "document", "url": "https://example.com/a.pdf"}]}]),
        "document_file_id": _chat(messages=[{"role": "user", "content": [
            {"type": "document", "file_id": "gs://b/a.pdf"}]}]),
        "cache_breakpoints": _chat(messages=[ASK | {"cache": True}]),
        "reasoning": _chat(reasoning="high"),
        "reasoning_off": _chat(reasoning="off"),
        "n": _chat(n=2),
        "logprobs": _chat(logprobs=True),
        "response_schema": _chat(response_schema={"type": "object"}),
        "json_mode": _chat(json_mode=True),
    }
    assert set(examples) == set(FEATURES)
    plain = adapter.encode(_chat(), "r")
    for feature, request in examples.items():
        if table[feature].supported:
            adapter.check_request(request)
            line = adapter.encode(request, "r")
            assert line != plain or feature == "cache_breakpoints", feature
        else:
            with pytest.raises(bk.InvalidRequestError, match="unsupported"):
                adapter.check_request(request)


def test_unscoped_params_must_be_google_request_fields() -> None:
    adapter = GeminiAdapter("gemini-2.5-flash")
    for field in ("logit_bias", "service_tier", "logprobs"):
        with pytest.raises(bk.InvalidRequestError, match=f"'{field}' is not a gemini"):
            adapter.check_request(_chat(params={field: 1}))
    scoped = _chat(params={"gemini": {"generationConfig": {"topK": 3}},
                           "openai": {"logit_bias": {"1": 2}}})
    adapter.check_request(scoped)
    line = orjson.loads(adapter.encode(scoped, "r"))
    assert line["request"]["generationConfig"] == {"topK": 3}
    assert "logit_bias" not in orjson.dumps(line).decode()
    assert {"generationConfig", "safetySettings", "toolConfig"} <= gemini_request_fields()
    assert "labels" in vertex_request_fields() and "labels" not in gemini_request_fields()
    assert "contents" not in vertex_request_fields() | gemini_request_fields()


@pytest.mark.parametrize("model, reasoning, words", [
    ("gemini-2.5-pro", "off", "cannot turn thinking off"),
    ("gemini-2.0-flash", "low", "does not think"),
])
def test_thinking_a_model_cannot_do_is_refused_at_planning(model: str, reasoning: str,
                                                           words: str) -> None:
    for adapter in (GeminiAdapter(model), VertexAdapter(model)):
        with pytest.raises(bk.InvalidRequestError, match=words):
            adapter.check_request(_chat(reasoning=reasoning))
    GeminiAdapter("gemini-2.5-pro").check_request(_chat(reasoning="minimal"))
