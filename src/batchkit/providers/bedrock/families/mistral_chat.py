"""Mistral Large 2 on Bedrock (``mistral.mistral-large-2407-v1:0``): the chat-completion body
``{"messages", "tools", "tool_choice": auto|any|none, "max_tokens", "temperature", "top_p"}``
(message contents as strings, tool calls with JSON-text arguments), answered by
``{"choices": [{"message", "stop_reason"}]}`` (read by :mod:`.mistral`). There is no named tool
choice: a response_model becomes the only tool, ``respond``, forced with ``any``. Facts:
https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-mistral-chat-completion.html
and .../model-parameters-mistral-large-2407.html.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ...._requests import ChatRequest, Message, Request
from ...._results import Result
from ...._tools import MessageToolCall, Tool
from ..._capabilities import complete, no, yes
from ._base import BodyError, Fail, Family, put
from ._chat import TOOL_NAME, check_chat, schema
from .mistral import MISTRAL

__all__ = ["MISTRAL_CHAT"]

_CHOICES = {"auto": "auto", "required": "any", "none": "none"}
_NO = "Mistral's chat body on Bedrock has no such field; use a Claude or Nova model"
CAPABILITIES = complete({
    "tools": yes("tools[].function"), "tool_choice": yes("tool_choice auto | none"),
    "tool_choice_required": yes("tool_choice any"),
    "tool_choice_named": no("Mistral on Bedrock cannot force one named tool; use 'required' "
                            "with only that tool"),
    "parallel_tool_calls": no(_NO), "tool_results": yes("tool_calls / role tool"),
    "message_name": no(_NO), "images": no(_NO), "documents": no(_NO),
    "document_file_id": no(_NO), "cache_breakpoints": no(_NO), "reasoning": no(_NO),
    "reasoning_off": no(_NO), "n": no(_NO), "logprobs": no(_NO),
    "response_schema": yes("the only tool, respond, forced with tool_choice any"),
    "json_mode": no(_NO), "embed_texts": no(_NO), "moderation": no(_NO),
}, "bedrock")


def _encode(request: Request, options: Mapping[str, Any]) -> dict[str, Any]:
    assert isinstance(request, ChatRequest)
    body: dict[str, Any] = {"messages": [_message(m) for m in request.messages]}
    answer = schema(request)
    if answer is not None:
        body["tools"] = [_tool(TOOL_NAME, "Reply with this tool's input.", answer)]
        body["tool_choice"] = "any"
    elif request.tools:
        body["tools"] = [_tool(t.name, t.description, t.parameters) for t in request.tools]
    if answer is None and request.tool_choice is not None:
        body["tool_choice"] = _CHOICES[request.tool_choice]
    max_tokens = request.max_tokens or options.get("max_tokens")
    put(body, "max_tokens", int(max_tokens) if max_tokens else None)
    put(body, "temperature", request.temperature)
    put(body, "top_p", request.top_p)
    return body


def _message(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.text}
    if message.role == "tool":
        out["tool_call_id"] = message.tool_call_id
    if message.tool_calls:
        out["tool_calls"] = [{"id": c.id, "function": {
            "name": c.name, "arguments": orjson.dumps(c.arguments).decode()}}
            for c in message.tool_calls]
    return out


def _tool(name: str, description: str | None, parameters: dict[str, Any]) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name}
    put(function, "description", description)
    function["parameters"] = parameters
    return {"type": "function", "function": function}


def _check(request: Request, fail: Fail) -> None:
    assert isinstance(request, ChatRequest)
    check_chat(request, "Mistral AI", ("tools", "tool_choice"), fail)
    if request.stop is not None:
        fail("Mistral's chat body on Bedrock has no 'stop'; remove it for this model")
    if any(isinstance(m.content, list) for m in request.messages):
        fail("Mistral's chat body on Bedrock takes text messages only (no parts)")


def _to_request(body: dict[str, Any], custom_id: str) -> ChatRequest:
    turns = body.get("messages")
    if not isinstance(turns, list) or not turns:
        raise BodyError("'messages' must be a non-empty list")
    kept = {k: v for k, v in body.items() if k not in (
        "messages", "tools", "tool_choice", "max_tokens", "temperature", "top_p")}
    fields: dict[str, Any] = {k: body[k] for k in ("max_tokens", "temperature", "top_p")
                              if k in body}
    tools = [t.get("function") or {} for t in body.get("tools") or [] if isinstance(t, dict)]
    choice = body.get("tool_choice")
    if len(tools) == 1 and tools[0].get("name") == TOOL_NAME and choice == "any":
        fields["response_schema"] = tools[0].get("parameters")
    else:
        if tools:
            fields["tools"] = [Tool(name=str(f.get("name")), description=f.get("description"),
                                    parameters=f.get("parameters") or {}) for f in tools]
        if choice is not None:
            fields["tool_choice"] = {"any": "required"}.get(str(choice), choice)
    return ChatRequest(custom_id=custom_id, messages=[_neutral(t) for t in turns],
                       params={"bedrock": kept} if kept else {}, **fields)


def _neutral(turn: Any) -> Message:
    if not isinstance(turn, dict) or not isinstance(turn.get("content", ""), str):
        raise BodyError("each message needs a role and a string content")
    role: Any = turn.get("role")
    calls = [MessageToolCall(id=c.get("id"), name=c["function"].get("name"),
                             arguments=orjson.loads(c["function"].get("arguments") or "{}"))
             for c in turn.get("tool_calls") or [] if isinstance(c.get("function"), dict)]
    return Message(role=role, content=turn.get("content") or None,
                   tool_call_id=turn.get("tool_call_id"), tool_calls=calls or None)


def _decode(rid: str, output: dict[str, Any], row: dict[str, Any]) -> Result:
    """The shared Mistral reply, with the forced ``respond`` call as a structured answer."""
    result = MISTRAL.decode(rid, output, row)
    answer = next((c for c in result.tool_calls if c.name == TOOL_NAME), None)
    if answer is not None:
        result.text, result.finish_reason = answer.raw_arguments, "stop"
        result.tool_calls = [c for c in result.tool_calls if c is not answer]
    return result


MISTRAL_CHAT = Family(
    name="mistral-chat", kind="chat", label="Mistral AI (chat)",
    body_fields=frozenset({"messages", "tools", "tool_choice", "max_tokens", "temperature",
                           "top_p"}),
    capabilities=CAPABILITIES, encode=_encode, to_request=_to_request, decode=_decode,
    answers=MISTRAL.answers, check=_check,
)
