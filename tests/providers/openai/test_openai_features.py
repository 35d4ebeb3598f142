"""The OpenAI family codec on the v2 request: every feature's spelling on both endpoints (checked
against OpenAI's own request schemas), the decoding of tool calls, reasoning, refusals, choices
and logprobs, and each vendor's capability table agreeing with what its codec does."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests._fixtures import PDF
from tests.conformance.test_feature_matrix import PROBES, USER

from batchkit._exceptions import InvalidRequestError
from batchkit._registry import make_adapter
from batchkit._requests import ChatRequest
from batchkit.providers._capabilities import FEATURES, Feature
from batchkit.providers.openai.codec import LineFormat
from batchkit.providers.openai.results import decode_line
from batchkit.testing.emulators.openai.validation import body_problem

CHAT = LineFormat("gpt-5-mini")
RESPONSES = LineFormat("gpt-5-mini", chat_endpoint="responses")
FAMILY = ["openai:gpt-5-mini", "azure:gpt-5-mini", "groq:openai/gpt-oss-20b",
          "together:openai/gpt-oss-20b"]


def probe(feature: Feature) -> ChatRequest:
    return ChatRequest(custom_id=feature, **{"messages": [USER], **PROBES[feature].request})


def body(fmt: LineFormat, request: ChatRequest) -> dict[str, Any]:
    fmt.check(request)
    line = orjson.loads(fmt.encode(request, request.custom_id))
    problem = body_problem(fmt.url(request), line["body"])
    assert problem is None, problem.message
    decoded: dict[str, Any] = line["body"]
    return decoded


@pytest.mark.parametrize("feature", FEATURES)
def test_every_feature_has_a_valid_chat_spelling(feature: Feature) -> None:
    sent = body(CHAT, probe(feature))
    expected: dict[str, Any] = {
        "tools": lambda b: b["tools"][0]["function"]["name"] == "lookup"
        and b["tools"][0]["function"]["strict"] is True
        and b["tools"][0]["function"]["parameters"]["additionalProperties"] is False,
        "tool_choice": lambda b: b["tool_choice"] == "auto",
        "tool_choice_required": lambda b: b["tool_choice"] == "required",
        "tool_choice_named": lambda b: b["tool_choice"] == {"type": "function",
                                                            "function": {"name": "note"}},
        "parallel_tool_calls": lambda b: b["parallel_tool_calls"] is False,
        "tool_results": lambda b: b["messages"][1]["tool_calls"][0]["function"] == {
            "name": "lookup", "arguments": '{"sku":"A-1","quantity":1}'}
        and b["messages"][1]["content"] is None
        and b["messages"][2] == {"role": "tool", "content": "7 in stock",
                                 "tool_call_id": "call_1"},
        "message_name": lambda b: b["messages"][0]["name"] == "alice",
        "images": lambda b: b["messages"][0]["content"][0]["image_url"]["url"].startswith(
            "data:image/png;base64,"),
        "documents": lambda b: b["messages"][0]["content"][0] == {"type": "file", "file": {
            "file_data": f"data:application/pdf;base64,{PDF}", "filename": "a.pdf"}},
        "document_file_id": lambda b: b["messages"][0]["content"][0] == {
            "type": "file", "file": {"file_id": "file-abc123"}},
        "cache_breakpoints": lambda b: b["messages"] == [USER],
        "reasoning": lambda b: b["reasoning_effort"] == "low",
        "reasoning_off": lambda b: b["reasoning_effort"] == "none",
        "n": lambda b: b["n"] == 2,
        "logprobs": lambda b: b["logprobs"] is True and b["top_logprobs"] == 2,
        "response_schema": lambda b: b["response_format"]["json_schema"]["name"] == "Answer"
        and b["response_format"]["json_schema"]["strict"] is True,
        "json_mode": lambda b: b["response_format"] == {"type": "json_object"},
    }
    assert expected[feature](sent), sent


@pytest.mark.parametrize("feature", [f for f in FEATURES if f not in ("n", "message_name")])
def test_every_feature_but_two_has_a_valid_responses_spelling(feature: Feature) -> None:
    sent = body(RESPONSES, probe(feature))
    expected: dict[str, Any] = {
        "tools": lambda b: b["tools"][0]["name"] == "lookup" and b["tools"][0]["strict"],
        "tool_choice_named": lambda b: b["tool_choice"] == {"type": "function", "name": "note"},
        "tool_results": lambda b: b["input"][1] == {
            "type": "function_call", "call_id": "call_1", "name": "lookup",
            "arguments": '{"sku":"A-1","quantity":1}'}
        and b["input"][2] == {"type": "function_call_output", "call_id": "call_1",
                              "output": "7 in stock"},
        "documents": lambda b: b["input"][0]["content"][0]["type"] == "input_file",
        "document_file_id": lambda b: b["input"][0]["content"][0] == {
            "type": "input_file", "file_id": "file-abc123"},
        "reasoning": lambda b: b["reasoning"] == {"effort": "low", "summary": "auto"},
        "reasoning_off": lambda b: b["reasoning"] == {"effort": "none"},
        "logprobs": lambda b: b["include"] == ["message.output_text.logprobs"]
        and b["top_logprobs"] == 2,
        "response_schema": lambda b: b["text"]["format"]["type"] == "json_schema",
        "json_mode": lambda b: b["text"] == {"format": {"type": "json_object"}},
    }
    assert expected.get(feature, lambda b: True)(sent), sent


@pytest.mark.parametrize(("fmt", "kw", "rule"), [
    (RESPONSES, {"n": 2}, "has no n: send 2 requests"),
    (RESPONSES, {"messages": [{**USER, "name": "a"}]}, "keeps no message 'name'"),
    (CHAT, {"messages": [{"role": "user", "content": [
        {"type": "document", "url": "https://x.test/a.pdf"}]}]}, "not url"),
    (CHAT, {"reasoning": 1024}, "not a token budget"),
    (CHAT, {"tools": [{"name": "t", "strict": True, "parameters": {
        "type": "object", "properties": {"x": {}}}}]}, "tool 't' cannot be sent as a strict"),
    (LineFormat("openai/gpt-oss-20b", key="groq", efforts={"low": {"reasoning_effort": "low"}}),
     {"reasoning": "minimal"}, "not 'minimal'"),
])
def test_finer_rules_refuse_in_one_line(fmt: LineFormat, kw: dict[str, Any], rule: str) -> None:
    request = ChatRequest(custom_id="x", **{"messages": [USER], **kw})
    with pytest.raises(InvalidRequestError, match=rule) as info:
        fmt.check(request)
    assert "\n" not in str(info.value) and "custom_id 'x'" in str(info.value)


def test_together_turns_thinking_off_its_own_way() -> None:
    together = make_adapter("together:openai/gpt-oss-20b")
    line = orjson.loads(together.encode(probe("reasoning_off"), "r"))
    assert line["body"]["reasoning"] == {"enabled": False}
    assert "reasoning_effort" not in line["body"]


@pytest.mark.parametrize("provider", FAMILY)
@pytest.mark.parametrize("feature", FEATURES)
def test_capability_table_agrees_with_the_codec(provider: str, feature: Feature) -> None:
    """A feature the table supports is spelt on the line (or is a no-op it notes); one it
    refuses never reaches the codec."""
    adapter = make_adapter(provider)
    assert adapter.capabilities is not None
    support, request = adapter.capabilities[feature], probe(feature)
    if not support.supported:
        with pytest.raises(InvalidRequestError, match=f"{adapter.name}: .* unsupported"):
            adapter.check_request(request)
        return
    adapter.check_request(request)
    plain = orjson.loads(adapter.encode(ChatRequest(custom_id=feature, messages=[USER]), "r"))
    line = orjson.loads(adapter.encode(request, "r"))
    assert line != plain or "no-op" in support.note


def _chat_line(**message: Any) -> bytes:
    choices = [{"index": i, "finish_reason": reason, "message": {"role": "assistant", **message},
                "logprobs": {"content": [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105],
                                          "top_logprobs": [{"token": "Hey", "logprob": -2.0}]}]}}
               for i, reason in enumerate(["tool_calls", "length"])]
    return orjson.dumps({"id": "b", "custom_id": "c", "error": None, "response": {
        "status_code": 200, "body": {"choices": choices, "usage": {
            "prompt_tokens": 5, "completion_tokens": 9,
            "completion_tokens_details": {"reasoning_tokens": 4}}}}})


def test_chat_decode_keeps_calls_choices_logprobs_and_reasoning() -> None:
    result = decode_line(_chat_line(content=None, reasoning="I should call it.", tool_calls=[
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}},
        {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "{oops"}}]))
    assert result.ok and result.text is None and result.reasoning == "I should call it."
    first, broken = result.tool_calls
    assert (first.id, first.name, first.arguments, first.raw_arguments) == (
        "call_1", "f", {"a": 1}, '{"a": 1}')
    assert broken.arguments is None and broken.parse_error and broken.raw_arguments == "{oops"
    assert result.finish_reason == "tool_calls" and result.vendor_finish_reason == "tool_calls"
    assert result.choices is not None and [c.finish_reason for c in result.choices] == [
        "tool_calls", "length"]
    assert result.logprobs == [{"token": "Hi", "logprob": -0.1,
                                "top_logprobs": [{"token": "Hey", "logprob": -2.0}]}]
    assert result.usage is not None and result.usage.reasoning_tokens == 4


def test_chat_refusal_is_a_succeeded_result_saying_so() -> None:
    result = decode_line(_chat_line(content=None, refusal="I can't help with that."))
    assert result.ok and result.refusal == "I can't help with that."
    assert result.finish_reason == "refusal" and result.error is not None


def test_responses_decode_reads_function_calls_summaries_and_refusals() -> None:
    output = [{"type": "reasoning", "id": "rs", "summary": [{"type": "summary_text",
                                                               "text": "Weighing it."}]},
              {"type": "function_call", "id": "fc", "call_id": "call_7", "name": "f",
               "arguments": '{"x": [1]}', "status": "completed"}]
    line = orjson.dumps({"id": "b", "custom_id": "c", "error": None, "response": {
        "status_code": 200, "body": {"object": "response", "status": "completed",
                                     "output": output, "usage": {
                                         "input_tokens": 3, "output_tokens": 8,
                                         "output_tokens_details": {"reasoning_tokens": 5}}}}})
    result = decode_line(line)
    assert result.reasoning == "Weighing it." and result.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [("call_7", "f",
                                                                         {"x": [1]})]
    assert result.vendor_finish_reason == "completed" and result.usage is not None
    assert result.usage.reasoning_tokens == 5
