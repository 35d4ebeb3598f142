"""Anthropic Claude on Bedrock (``anthropic.claude-*``): the Messages body with
``anthropic_version: bedrock-2023-05-31`` and no ``model`` key, answered by a Messages
``message``. A ``response_model`` becomes a forced ``respond`` tool, which every Claude 3+ model
on Bedrock supports (``output_config.format`` only Claude 4.5+). Facts:
https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages.html.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from ...._requests import (
    ChatRequest,
    DocumentPart,
    ImagePart,
    Message,
    Reasoning,
    Request,
    TextPart,
)
from ...._tools import MessageToolCall, Tool
from ...anthropic.features import check_features, encode_thinking, encode_tools
from ...anthropic.messages import (
    DEFAULT_MAX_TOKENS,
    check_messages,
    encode_messages,
    encode_system,
)
from ...anthropic.reply import decode_message
from ..capabilities import CAPABILITIES
from ._base import BodyError, Fail, Family, put
from ._chat import TOOL_NAME, check_chat, schema

__all__ = ["ANTHROPIC_VERSION", "CLAUDE"]

ANTHROPIC_VERSION = "bedrock-2023-05-31"
_BODY_FIELDS = frozenset({"anthropic_version", "anthropic_beta", "max_tokens", "messages",
                          "system", "stop_sequences", "temperature", "top_p", "top_k", "tools",
                          "tool_choice", "thinking"})
_READ = frozenset({"anthropic_version", "max_tokens", "messages", "system", "stop_sequences",
                   "temperature", "top_p", "tools", "tool_choice", "thinking"})


def _encode(request: Request, options: Mapping[str, Any]) -> dict[str, Any]:
    assert isinstance(request, ChatRequest)
    max_tokens = request.max_tokens or int(options.get("max_tokens") or DEFAULT_MAX_TOKENS)
    thinking, max_tokens = encode_thinking(request, max_tokens)
    body: dict[str, Any] = {
        "anthropic_version": ANTHROPIC_VERSION,
        "max_tokens": max_tokens,
        "messages": encode_messages(request.messages),
    }
    put(body, "system", encode_system(request))
    put(body, "temperature", request.temperature)
    put(body, "top_p", request.top_p)
    put(body, "stop_sequences", request.stop)
    body.update(encode_tools(request, strict=False))
    put(body, "thinking", thinking)
    answer = schema(request)
    if answer is not None:
        body["tools"] = [{"name": TOOL_NAME, "description": "Reply with this tool's input.",
                          "input_schema": answer}]
        body["tool_choice"] = {"type": "tool", "name": TOOL_NAME}
    return body


def _check(request: Request, fail: Fail) -> None:
    """The Messages API's own rules, plus Bedrock's: documents inline only, no thinking with
    sampling changes, and a structured answer (a forced ``respond`` tool) without thinking."""
    assert isinstance(request, ChatRequest)
    check_chat(request, "Anthropic Claude", ("tools", "tool_choice"), fail)
    check_messages(request, fail, links=False)
    check_features(request, fail)
    thinking = request.reasoning is not None and not request.reasoning.off
    if thinking and (request.temperature is not None or request.top_p is not None):
        fail("Claude cannot think with temperature or top_p changed; remove them or reasoning")
    structured = request.response_model is not None or request.response_schema is not None
    if structured and thinking:
        fail("on Bedrock a response_model/response_schema is a forced tool, and Claude cannot "
             "think while a tool is forced; drop reasoning or the response format")


# -- body -> neutral -------------------------------------------------------------------------


def _to_request(body: dict[str, Any], custom_id: str) -> ChatRequest:
    if not isinstance(body.get("messages"), list):
        raise BodyError("'messages' must be a list of Messages turns")
    kept = {k: v for k, v in body.items() if k not in _READ}
    if body.get("anthropic_version") not in (None, ANTHROPIC_VERSION):
        kept["anthropic_version"] = body["anthropic_version"]
    messages = _system(body.get("system"))
    for turn in body["messages"]:
        messages += _turn(turn)
    fields: dict[str, Any] = {"max_tokens": body.get("max_tokens"),
                              "temperature": body.get("temperature"), "top_p": body.get("top_p"),
                              "stop": body.get("stop_sequences")}
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    choice = body.get("tool_choice") if isinstance(body.get("tool_choice"), dict) else None
    if len(tools) == 1 and tools[0].get("name") == TOOL_NAME and choice == {
            "type": "tool", "name": TOOL_NAME}:
        fields["response_schema"] = tools[0].get("input_schema")
    else:
        if tools:
            fields["tools"] = [Tool(name=str(t.get("name")), description=t.get("description"),
                                    parameters=t.get("input_schema") or {}) for t in tools]
        if choice is not None:
            kind = choice.get("type")
            fields["tool_choice"] = {"any": "required", "tool": choice.get("name")}.get(
                str(kind), kind)
            if choice.get("disable_parallel_tool_use"):
                fields["parallel_tool_calls"] = False
    thinking = body.get("thinking")
    if isinstance(thinking, dict):
        fields["reasoning"] = (Reasoning(effort="off") if thinking.get("type") == "disabled"
                               else Reasoning(budget_tokens=thinking.get("budget_tokens")))
    return ChatRequest(custom_id=custom_id, messages=messages,
                       params={"bedrock": kept} if kept else {},
                       **{k: v for k, v in fields.items() if v is not None})


def _system(system: Any) -> list[Message]:
    if system is None:
        return []
    if isinstance(system, str):
        return [Message(role="system", content=system)]
    if not isinstance(system, list):
        raise BodyError("'system' must be a string or a list of text blocks")
    return [Message(role="system", content=str(b.get("text")), cache="cache_control" in b)
            for b in system if isinstance(b, dict)]


def _turn(turn: Any) -> list[Message]:
    """One Messages turn as neutral messages: ``tool_result`` blocks become tool messages."""
    if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant"):
        raise BodyError("each message needs role 'user' or 'assistant'")
    role, content = turn["role"], turn.get("content")
    if isinstance(content, str):
        return [Message(role=role, content=content)]
    if not isinstance(content, list) or not content:
        raise BodyError("a message's content must be a string or a list of blocks")
    out: list[Message] = []
    parts: list[Any] = []
    calls: list[MessageToolCall] = []
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        cache = isinstance(block, dict) and "cache_control" in block
        if kind == "tool_result":
            result = block.get("content")
            out.append(Message(role="tool", tool_call_id=block.get("tool_use_id"), cache=cache,
                               content=result if isinstance(result, str)
                               else [_part(b, False) for b in result or []]))
        elif kind == "tool_use":
            calls.append(MessageToolCall(id=block.get("id"), name=block.get("name"),
                                         arguments=block.get("input") or {}))
        else:
            parts.append(_part(block, cache))
    if parts or calls:
        out.append(_spoken(role, parts, calls, "cache_control" in content[-1]))
    return out


def _spoken(role: str, parts: list[Any], calls: list[MessageToolCall],
            last_cached: bool) -> Message:
    """A user or assistant message. One text block beside tool calls or marked for the cache
    is the message's text (what ``encode_message`` writes for a string content), and its cache
    mark or that of a closing ``tool_use`` block is the message's breakpoint."""
    if len(parts) == 1 and isinstance(parts[0], TextPart) and (calls or parts[0].cache):
        return Message(role=role, content=parts[0].text, tool_calls=calls or None,  # type: ignore[arg-type]
                       cache=parts[0].cache or (bool(calls) and last_cached))
    return Message(role=role, content=parts or None, tool_calls=calls or None,  # type: ignore[arg-type]
                   cache=bool(calls) and last_cached)


def _part(block: Any, cache: bool) -> TextPart | ImagePart | DocumentPart:
    kind = block.get("type") if isinstance(block, dict) else None
    source = block.get("source") if isinstance(block, dict) else None
    source = source if isinstance(source, dict) else {}
    if kind == "text":
        return TextPart(text=str(block.get("text")), cache=cache)
    if kind == "image" and source.get("type") == "base64":
        return ImagePart(data=source.get("data"), media_type=source.get("media_type"),
                         cache=cache)
    if kind == "image" and source.get("type") == "url":
        return ImagePart(url=source.get("url"), cache=cache)
    if kind == "document":
        title = block.get("title")
        if source.get("type") == "text":
            data = base64.b64encode(str(source.get("data")).encode()).decode()
            return DocumentPart(data=data, media_type="text/plain", title=title, cache=cache)
        if source.get("type") == "base64":
            return DocumentPart(data=source.get("data"), media_type=str(source.get("media_type")),
                                title=title, cache=cache)
        if source.get("type") == "url":
            return DocumentPart(url=source.get("url"), title=title, cache=cache)
    raise BodyError(f"a {kind!r} block of source {source.get('type')!r} has no neutral form")


CLAUDE = Family(
    name="claude", kind="chat", label="Anthropic Claude", body_fields=_BODY_FIELDS,
    capabilities=CAPABILITIES, encode=_encode, to_request=_to_request,
    decode=lambda rid, output, row: decode_message(rid, output, row, answer_tool=TOOL_NAME),
    answers=lambda output: output.get("type") == "message" or isinstance(
        output.get("content"), list),
    check=_check,
)
