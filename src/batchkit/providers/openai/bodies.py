"""The chat and Responses request bodies of the OpenAI family: messages, tools and the v2
features (reasoning, n, logprobs, raw schemas, JSON mode). Pure: no SDK, no I/O.

Kept apart from :mod:`.codec` (which owns the line envelope and the per-vendor
:class:`~.codec.LineFormat`) so each half stays readable. Chat Completions and Responses carry
the same neutral request in two shapes: chat has ``messages`` with ``tool_calls`` and ``tool``
turns, Responses has ``input`` items where a call is a ``function_call`` item and its result a
``function_call_output`` item (https://platform.openai.com/docs/api-reference/responses).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ..._parts import DocumentPart, ImagePart, TextPart
from ..._requests import ChatRequest, Message
from ..._tools import Tool
from .._strict_schema import StrictSchemaError, to_strict_schema

__all__ = [
    "OPENAI_EFFORTS",
    "TEXT_MESSAGE_FIELDS",
    "chat_message",
    "chat_tools",
    "feature_fields",
    "responses_input",
    "responses_tools",
    "strict_parameters",
]

OPENAI_EFFORTS: Mapping[str, str] = {
    "off": "none", "minimal": "minimal", "low": "low", "medium": "medium", "high": "high",
}
"""Neutral effort -> OpenAI's ``reasoning_effort`` (``none`` turns thinking off on gpt-5.1+)."""

TEXT_MESSAGE_FIELDS = frozenset({"role", "content", "cache"})
"""A message setting only these (cache is a no-op here) is ``{"role", "content"}`` on the wire."""
_TOOL_CACHE: dict[int, tuple[Tool, bool, bool, dict[str, Any]]] = {}
_FRAGMENT_CACHE: dict[int, tuple[Tool, bool, bool, orjson.Fragment]] = {}
_TOOL_CACHE_SIZE = 1024


def strict_parameters(tool: Tool) -> dict[str, Any]:
    """``tool.parameters`` in OpenAI's strict form (every property required, no extras); raises
    :class:`StrictSchemaError` when the schema cannot be made strict."""
    return to_strict_schema(tool.parameters)


def _tool(tool: Tool, strict: bool, responses: bool) -> dict[str, Any]:
    """One tool in the endpoint's shape, computed once per Tool object: a job of a million rows
    usually shares one tool, and its schema is the costly part of the line."""
    hit = _TOOL_CACHE.get(id(tool))
    if hit is not None and hit[0] is tool and hit[1] is strict and hit[2] is responses:
        return hit[3]
    is_strict = bool(strict and tool.strict)
    function: dict[str, Any] = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    function["parameters"] = strict_parameters(tool) if is_strict else tool.parameters
    if responses:  # Responses tools are flat and always say whether they are strict
        encoded = {"type": "function", **function, "strict": is_strict}
    else:
        if strict and tool.strict is not None:
            function["strict"] = is_strict
        encoded = {"type": "function", "function": function}
    if len(_TOOL_CACHE) >= _TOOL_CACHE_SIZE:
        _TOOL_CACHE.clear()
    _TOOL_CACHE[id(tool)] = (tool, strict, responses, encoded)
    return encoded


def _tool_fragment(tool: Tool, strict: bool, responses: bool) -> orjson.Fragment:
    """:func:`_tool` serialized once per Tool object: its schema is usually the biggest part of
    a tool-calling line, and the same in every line of the job."""
    hit = _FRAGMENT_CACHE.get(id(tool))
    if hit is not None and hit[0] is tool and hit[1] is strict and hit[2] is responses:
        return hit[3]
    fragment = orjson.Fragment(orjson.dumps(_tool(tool, strict, responses)))
    if len(_FRAGMENT_CACHE) >= _TOOL_CACHE_SIZE:
        _FRAGMENT_CACHE.clear()
    _FRAGMENT_CACHE[id(tool)] = (tool, strict, responses, fragment)
    return fragment


def chat_tools(req: ChatRequest, body: dict[str, Any], strict: bool, *,
               spliced: bool = False) -> None:
    """``tools``, ``tool_choice`` and ``parallel_tool_calls`` of a chat body (``spliced``: each
    tool as bytes serialized once, for a line that orjson writes)."""
    if req.tools:
        make = _tool_fragment if spliced else _tool
        body["tools"] = [make(t, strict, False) for t in req.tools]
    choice = req.tool_choice
    if choice is not None:
        body["tool_choice"] = (choice if choice in ("auto", "none", "required")
                               else {"type": "function", "function": {"name": choice}})
    if req.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = req.parallel_tool_calls


def responses_tools(req: ChatRequest, body: dict[str, Any], strict: bool, *,
                    spliced: bool = False) -> None:
    """The same three fields in the Responses spelling (flat tools, flat named choice)."""
    if req.tools:
        make = _tool_fragment if spliced else _tool
        body["tools"] = [make(t, strict, True) for t in req.tools]
    choice = req.tool_choice
    if choice is not None:
        body["tool_choice"] = (choice if choice in ("auto", "none", "required")
                               else {"type": "function", "name": choice})
    if req.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = req.parallel_tool_calls


def feature_fields(req: ChatRequest, body: dict[str, Any],
                   efforts: Mapping[str, Mapping[str, Any]]) -> None:
    """Chat fields for reasoning, n and logprobs. ``efforts`` maps a neutral effort to the
    vendor's body fields (OpenAI ``reasoning_effort``; Together turns thinking off with
    ``reasoning.enabled``); the codec's check has refused an effort the vendor lacks."""
    if req.reasoning is not None:
        effort = "off" if req.reasoning.off else req.reasoning.effort
        if effort is not None:
            body.update(efforts[effort])
    if req.n is not None and req.n > 1:
        body["n"] = req.n
    if req.logprobs:
        body["logprobs"] = True
        if req.top_logprobs is not None:
            body["top_logprobs"] = req.top_logprobs


def _image_url(part: ImagePart) -> str:
    return part.url if part.url is not None else f"data:{part.media_type};base64,{part.data}"


def _data_url(part: DocumentPart) -> str:
    return f"data:{part.media_type};base64,{part.data}"


def _filename(part: DocumentPart) -> str:
    return part.title or ("document.pdf" if part.media_type == "application/pdf" else "document")


def _chat_part(part: TextPart | ImagePart | DocumentPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        image: dict[str, Any] = {"url": _image_url(part)}
        if part.detail is not None:
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    if part.file_id is not None:
        return {"type": "file", "file": {"file_id": part.file_id}}
    return {"type": "file", "file": {"file_data": _data_url(part), "filename": _filename(part)}}


def chat_message(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role}
    if message.role == "tool":  # a tool result is text in every vendor of the family
        out["content"] = message.text
    elif isinstance(message.content, list):
        out["content"] = [_chat_part(p) for p in message.content]
    else:
        out["content"] = message.content
    if message.name is not None:
        out["name"] = message.name
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": orjson.dumps(c.arguments).decode()}}
            for c in message.tool_calls]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    return out


def _responses_part(part: TextPart | ImagePart | DocumentPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "input_text", "text": part.text}
    if isinstance(part, ImagePart):
        return {"type": "input_image", "image_url": _image_url(part),
                "detail": part.detail or "auto"}
    if part.file_id is not None:
        return {"type": "input_file", "file_id": part.file_id}
    if part.url is not None:
        return {"type": "input_file", "file_url": part.url}
    return {"type": "input_file", "file_data": _data_url(part), "filename": _filename(part)}


def responses_input(req: ChatRequest) -> list[dict[str, Any]]:
    """``input`` items: messages (system text goes to ``instructions``), each earlier tool call
    a ``function_call`` item and each tool result a ``function_call_output`` item."""
    items: list[dict[str, Any]] = []
    for m in req.messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            items.append({"type": "function_call_output", "call_id": m.tool_call_id,
                          "output": m.text})
            continue
        if m.content is not None:
            # Assistant turns take plain text (input_* parts are for user turns); images and
            # documents in them are refused by LineFormat.check, so .text loses nothing.
            if isinstance(m.content, str) or m.role == "assistant":
                items.append({"role": m.role, "content": m.text})
            else:
                items.append({"role": m.role,
                              "content": [_responses_part(p) for p in m.content]})
        for call in m.tool_calls or ():
            items.append({"type": "function_call", "call_id": call.id, "name": call.name,
                          "arguments": orjson.dumps(call.arguments).decode()})
    return items


def strict_tool_problem(req: ChatRequest) -> str | None:
    """Why a strict tool's schema cannot be sent strict (None: every strict tool can)."""
    for tool in req.tools or ():
        if tool.strict:
            try:
                strict_parameters(tool)
            except StrictSchemaError as exc:
                return f"tool {tool.name!r} cannot be sent as a strict schema: {exc}"
    return None
