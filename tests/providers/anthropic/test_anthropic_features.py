"""Anthropic's v2 features: each neutral feature spelt as the SDK's types say, checked by the
emulator's validator (the SDK's ``MessageCreateParamsNonStreaming`` plus the API's own rules),
replies decoded back, and the capability table agreeing with the codec."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit.providers._capabilities import FEATURES, features_used
from batchkit.providers.anthropic.capabilities import CAPABILITIES
from batchkit.providers.anthropic.codec import decode_line, encode_request
from batchkit.providers.anthropic.features import THINKING_BUDGETS
from batchkit.providers.anthropic.messages import DEFAULT_MAX_TOKENS
from batchkit.providers.anthropic.reply import FINISH_REASONS
from batchkit.testing.emulators.anthropic.replies import default_responder
from batchkit.testing.emulators.anthropic.routes import ParamsChecker

MODEL = "claude-sonnet-4-5"
CHECKER = ParamsChecker()
PDF = base64.b64encode(b"%PDF-1.4 a tiny document").decode()


class Invoice(BaseModel):
    """An invoice's fields."""

    number: str
    total: float


def chat(**kw: Any) -> bk.ChatRequest:
    kw.setdefault("messages", [{"role": "user", "content": "read the invoice"}])
    return bk.ChatRequest(custom_id="r1", **kw)


def params(request: bk.ChatRequest, **options: Any) -> dict[str, Any]:
    from batchkit.providers.anthropic.codec import check_request

    check_request(request, options)
    body: dict[str, Any] = orjson.loads(encode_request(request, "r1", MODEL, options))["params"]
    problem = CHECKER.problem(body)
    assert problem is None, problem
    return body


def refused(request: bk.ChatRequest) -> str:
    from batchkit._registry import make_adapter

    with pytest.raises(bk.InvalidRequestError) as info:
        make_adapter(f"anthropic:{MODEL}").check_request(request)
    return str(info.value)


TOOL = bk.Tool.from_model(Invoice)
LOOKUP = bk.Tool.from_schema("lookup", {"type": "object", "properties": {
    "q": {"type": "string"}}, "required": ["q"]}, description="Search the ledger.")


def test_tools_and_every_tool_choice() -> None:
    body = params(chat(tools=[TOOL, LOOKUP]))
    invoice, lookup = body["tools"]
    assert invoice["name"] == "Invoice" and invoice["strict"] is True
    assert invoice["description"] == "An invoice's fields."
    assert invoice["input_schema"]["additionalProperties"] is False  # made strict-compatible
    assert lookup == {"name": "lookup", "description": "Search the ledger.",
                      "input_schema": LOOKUP.parameters}
    assert "tool_choice" not in body
    spelt = {choice: params(chat(tools=[TOOL, LOOKUP], tool_choice=choice))["tool_choice"]
             for choice in ("auto", "none", "required", "lookup")}
    assert spelt == {"auto": {"type": "auto"}, "none": {"type": "none"},
                     "required": {"type": "any"}, "lookup": {"type": "tool", "name": "lookup"}}


def test_parallel_tool_calls_false_disables_parallel_use() -> None:
    body = params(chat(tools=[TOOL], parallel_tool_calls=False))
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    body = params(chat(tools=[TOOL], tool_choice="Invoice", parallel_tool_calls=False))
    assert body["tool_choice"] == {"type": "tool", "name": "Invoice",
                                   "disable_parallel_tool_use": True}
    assert "tool_choice" not in params(chat(tools=[TOOL], parallel_tool_calls=True))


CONVERSATION = [
    {"role": "system", "content": "You keep books."},
    {"role": "user", "content": "total of A1 and B2?"},
    {"role": "assistant", "content": "Looking both up.", "tool_calls": [
        {"id": "toolu_a", "name": "lookup", "arguments": {"q": "A1"}},
        {"id": "toolu_b", "type": "function",
         "function": {"name": "lookup", "arguments": '{"q": "B2"}'}}]},
    {"role": "tool", "tool_call_id": "toolu_a", "content": "A1: 10"},
    {"role": "tool", "tool_call_id": "toolu_b", "content": "B2: 5", "cache": True},
    {"role": "user", "content": "and in words?"},
]


def test_tool_calls_and_results_become_tool_use_and_one_tool_result_turn() -> None:
    body = params(chat(messages=CONVERSATION, tools=[LOOKUP]))
    assert body["system"] == "You keep books."
    assert body["messages"] == [
        {"role": "user", "content": "total of A1 and B2?"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Looking both up."},
            {"type": "tool_use", "id": "toolu_a", "name": "lookup", "input": {"q": "A1"}},
            {"type": "tool_use", "id": "toolu_b", "name": "lookup", "input": {"q": "B2"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_a", "content": "A1: 10"},
            {"type": "tool_result", "tool_use_id": "toolu_b", "content": "B2: 5",
             "cache_control": {"type": "ephemeral"}}]},
        {"role": "user", "content": "and in words?"},
    ]


def test_emulator_rejects_a_tool_result_without_its_tool_use() -> None:
    body = params(chat(messages=CONVERSATION, tools=[LOOKUP]))
    body["messages"][1]["content"] = "no tools used"
    assert "unexpected `tool_use_id`" in str(CHECKER.problem(body))
    body = params(chat(messages=CONVERSATION, tools=[LOOKUP]))
    body["messages"][2]["content"].pop()
    assert "without `tool_result`" in str(CHECKER.problem(body))


def test_documents_every_source_and_cache_breakpoints() -> None:
    text = base64.b64encode(b"plain words").decode()
    body = params(chat(messages=[{"role": "user", "cache": True, "content": [
        {"type": "document", "data": PDF, "title": "inv.pdf", "cache": True},
        {"type": "document", "url": "https://example.com/a.pdf"},
        {"type": "document", "file_id": "file_011"},
        {"type": "document", "data": text, "media_type": "text/plain"},
        {"type": "text", "text": "what is the total?"}]}]))
    pdf, url, file, plain, question = body["messages"][0]["content"]
    assert pdf == {"type": "document", "title": "inv.pdf", "cache_control": {"type": "ephemeral"},
                   "source": {"type": "base64", "media_type": "application/pdf", "data": PDF}}
    assert url["source"] == {"type": "url", "url": "https://example.com/a.pdf"}
    assert file["source"] == {"type": "file", "file_id": "file_011"}
    assert plain["source"] == {"type": "text", "media_type": "text/plain", "data": "plain words"}
    assert question["cache_control"] == {"type": "ephemeral"}  # the message's breakpoint
    system = params(chat(messages=[{"role": "system", "content": "rules", "cache": True},
                                   {"role": "user", "content": "hi"}]))["system"]
    assert system == [{"type": "text", "text": "rules", "cache_control": {"type": "ephemeral"}}]


def test_document_types_claude_cannot_read_are_refused() -> None:
    doc = {"type": "document", "data": PDF, "media_type": "application/msword"}
    assert "application/pdf or text/plain" in refused(
        chat(messages=[{"role": "user", "content": [doc]}]))


@pytest.mark.parametrize(("effort", "budget"), sorted(THINKING_BUDGETS.items()))
def test_reasoning_effort_maps_to_a_thinking_budget(effort: str, budget: int) -> None:
    body = params(chat(reasoning=effort))
    assert body["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert body["max_tokens"] == budget + DEFAULT_MAX_TOKENS  # the budget counts against it


def test_reasoning_budget_off_and_its_rules() -> None:
    body = params(chat(reasoning=3000, max_tokens=5000))
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 3000}
    assert body["max_tokens"] == 5000
    assert params(chat(reasoning="off"))["thinking"] == {"type": "disabled"}
    assert "at least 1024" in refused(chat(reasoning=500))
    assert "must exceed the thinking budget" in refused(chat(reasoning=3000, max_tokens=2000))
    assert "cannot think while" in refused(chat(reasoning="low", tools=[TOOL],
                                                tool_choice="required"))


def test_response_schema_goes_out_as_output_format() -> None:
    schema = {"title": "Answer", "type": "object",
              "properties": {"total": {"type": "number"}}, "required": ["total"]}
    fmt = params(chat(response_schema=schema))["output_config"]["format"]
    assert fmt["type"] == "json_schema" and fmt["schema"]["properties"] == schema["properties"]


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"n": 3}, "send N requests"),
    ({"logprobs": True}, "no log probabilities"),
    ({"json_mode": True}, "response_schema"),
    ({"messages": [{"role": "user", "content": "hi", "name": "alice"}]}, "message text"),
])
def test_what_anthropic_cannot_do_is_refused_with_a_way_forward(kwargs: dict[str, Any],
                                                                words: str) -> None:
    message = refused(chat(**kwargs))
    assert "custom_id 'r1'" in message and "anthropic:" in message and words in message


SAMPLES: dict[str, dict[str, Any]] = {
    "tools": {"tools": [TOOL]}, "tool_choice": {"tools": [TOOL], "tool_choice": "auto"},
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
def test_capability_table_agrees_with_the_codec(feature: str) -> None:
    request = chat(**SAMPLES[feature])
    assert feature in features_used(request)
    if CAPABILITIES[feature].supported:
        params(request)  # encodes, and the emulator's SDK-typed validator takes it
    else:
        refused(request)


def _reply(params_: dict[str, Any]) -> bk.Result:
    message = default_responder("/v1/messages", params_, "r1")
    line = {"custom_id": "r1", "result": {"type": "succeeded", "message": message}}
    return decode_line(orjson.dumps(line))


def test_forced_tool_reply_decodes_into_tool_calls_fitting_the_model() -> None:
    result = _reply(params(chat(tools=[TOOL], tool_choice="Invoice")))
    [call] = result.tool_calls
    assert call.name == "Invoice" and call.id.startswith("toolu_")
    assert Invoice.model_validate(call.arguments) and orjson.loads(call.raw_arguments)
    assert result.finish_reason == "tool_calls" and result.vendor_finish_reason == "tool_use"
    assert result.text is None


def test_thinking_reply_decodes_into_reasoning_and_tokens() -> None:
    result = _reply(params(chat(reasoning="minimal")))
    assert result.reasoning and result.reasoning.startswith("Considering")
    assert result.usage is not None and result.usage.reasoning_tokens > 0
    assert result.usage.reasoning_tokens <= result.usage.output_tokens
    assert result.text and result.finish_reason == "stop"


@pytest.mark.parametrize("stop", ["end_turn", "max_tokens", "stop_sequence", "tool_use",
                                  "pause_turn", "refusal", "model_context_window_exceeded"])
def test_every_sdk_stop_reason_has_a_shared_word(stop: str) -> None:
    from typing import get_args

    from anthropic.types import StopReason

    assert set(get_args(StopReason)) == set(FINISH_REASONS)
    message = {"content": [{"type": "text", "text": "x"}], "stop_reason": stop,
               "usage": {"input_tokens": 1, "output_tokens": 1}}
    result = decode_line(orjson.dumps({"custom_id": "r1", "result": {
        "type": "succeeded", "message": message}}))
    assert result.finish_reason == FINISH_REASONS[stop] and result.vendor_finish_reason == stop


@pytest.mark.parametrize("raw", [{"output_config": {}}, {"anthropic": {"output_config": {}}}])
def test_raw_params_cannot_replace_the_output_format_scoped_or_not(raw: dict[str, Any]) -> None:
    request = chat(response_schema={"type": "object"}, params=raw)
    assert "would replace the response format" in refused(request)
    assert "reject 'stream'" in refused(chat(params={"anthropic": {"stream": True}}))
