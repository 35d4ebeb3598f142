"""The OpenAI emulator's replies to tools, reasoning and logprobs, parsed by the ``openai`` SDK's
own types, and the rules it enforces as OpenAI does (a tool result needs its call)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

from batchkit.testing.emulators.openai.replies import ReplyError, default_responder

SCHEMA = {"type": "object", "additionalProperties": False, "required": ["sku", "qty"],
          "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}}}
CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"


def chat(**body: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Order 3 of A-1"}],
            **body}


def test_a_forced_tool_is_called_with_arguments_that_fit_its_schema() -> None:
    tools = [{"type": "function", "function": {"name": "order", "parameters": SCHEMA}}]
    for choice in ("required", {"type": "function", "function": {"name": "order"}}):
        reply = ChatCompletion.model_validate(default_responder(
            CHAT, chat(tools=tools, tool_choice=choice, n=2), "c"))
        assert len(reply.choices) == 2
        for c in reply.choices:
            assert c.finish_reason == "tool_calls" and c.message.content is None
            call = (c.message.tool_calls or [])[0]
            assert call.function.name == "order"  # type: ignore[union-attr]
            jsonschema.validate(json.loads(call.function.arguments), SCHEMA)  # type: ignore[union-attr]


def test_auto_answers_in_text_and_a_missing_tool_is_a_400() -> None:
    tools = [{"type": "function", "function": {"name": "order", "parameters": SCHEMA}}]
    reply = ChatCompletion.model_validate(default_responder(CHAT, chat(tools=tools), "c"))
    assert reply.choices[0].message.content and not reply.choices[0].message.tool_calls
    with pytest.raises(ReplyError, match="no function named 'other'"):
        default_responder(CHAT, chat(tools=tools, tool_choice={
            "type": "function", "function": {"name": "other"}}), "c")


def test_a_tool_result_without_its_call_is_refused_on_both_endpoints() -> None:
    with pytest.raises(ReplyError, match="must be a response to a preceeding message"):
        default_responder(CHAT, chat(messages=[
            {"role": "user", "content": "hi"},
            {"role": "tool", "tool_call_id": "call_x", "content": "42"}]), "c")
    with pytest.raises(ReplyError, match="No tool call found for function call output"):
        default_responder(RESPONSES, {"model": "gpt-5-mini", "input": [
            {"role": "user", "content": "hi"},
            {"type": "function_call_output", "call_id": "call_x", "output": "42"}]}, "c")


def test_logprobs_and_reasoning_where_asked() -> None:
    reply = ChatCompletion.model_validate(default_responder(
        CHAT, chat(logprobs=True, top_logprobs=2), "c"))
    tokens = reply.choices[0].logprobs.content or []  # type: ignore[union-attr]
    assert tokens and all(len(t.top_logprobs) == 2 for t in tokens)
    with pytest.raises(ReplyError, match="'reasoning_effort' is not supported"):
        default_responder(CHAT, chat(reasoning_effort="low"), "c")
    open_model = default_responder(CHAT, chat(model="openai/gpt-oss-20b",
                                              reasoning_effort="low"), "c")
    assert open_model["choices"][0]["message"]["reasoning"]
    assert open_model["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    off = default_responder(CHAT, chat(model="gpt-5-mini", reasoning_effort="none"), "c")
    assert off["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0


def test_responses_function_call_and_reasoning_summary() -> None:
    body = {"model": "gpt-5-mini", "input": [{"role": "user", "content": "Order 3 of A-1"}],
            "reasoning": {"effort": "low", "summary": "auto"}, "tool_choice": "required",
            "tools": [{"type": "function", "name": "order", "parameters": SCHEMA,
                       "strict": True}]}
    reply = Response.model_validate(default_responder(RESPONSES, body, "c"))
    kinds = [item.type for item in reply.output]
    assert kinds == ["reasoning", "function_call"]
    summary = reply.output[0].summary  # type: ignore[union-attr]
    assert summary and summary[0].text
    call = reply.output[1]
    assert call.name == "order"  # type: ignore[union-attr]
    jsonschema.validate(json.loads(call.arguments), SCHEMA)  # type: ignore[union-attr,arg-type]
