"""The neutral v2 features in Mistral's ``ChatCompletionRequest``, and read back. Pure.

Kept apart from :mod:`.codec` (lines, errors, statuses) so each file reads as one concern. The
spelling is Mistral's own request schema (platform OpenAPI spec, ``mistralai`` SDK types
``Tool``, ``ToolChoice``, ``ToolMessage``, ``AssistantMessage``, ``DocumentURLChunk``,
``FileChunk``, ``ResponseFormat``, ``ReasoningEffort``) and
https://docs.mistral.ai/capabilities/function_calling, .../document_ai/document_qna,
.../reasoning:

* tools: ``{"type": "function", "function": {name, description, parameters, strict}}``;
  ``tool_choice`` ``auto`` / ``none`` / ``required`` as those words (Mistral also has ``any``,
  the same as ``required``), a named tool as ``{"type": "function", "function": {"name"}}``;
* a replayed conversation: assistant ``tool_calls`` (arguments as JSON text) and ``tool``
  messages with ``tool_call_id`` and the tool's ``name``. Mistral wants call ids of exactly nine
  letters or digits; any other id (an OpenAI ``call_...``) is mapped to nine characters derived
  from it, the same for the call and its result, so a conversation from another vendor replays;
* documents: ``document_url`` chunks (a URL, or a ``data:`` URL for base64 data; ``title`` as
  ``document_name``), ``file`` chunks for a ``file_id`` of Mistral's Files API;
* reasoning: ``reasoning_effort`` (``off`` is ``none``); token budgets have no Mistral spelling;
* ``response_schema`` as a ``json_schema`` response format named by its ``title``, ``json_mode``
  as ``json_object``.

Decoding: the OpenAI family decoder reads the line; here ``thinking`` chunks become
``Result.reasoning`` and Mistral's finish words (``model_length``: the context window is full,
a cut reply) are put in batchkit's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import string
from collections.abc import Mapping
from typing import Any

import orjson

from ..._parts import DocumentPart, ImagePart, TextPart
from ..._requests import ChatRequest, Message
from ..._results import FinishReason, Result, finish_reason

__all__ = [
    "FINISH_REASONS",
    "call_id",
    "message",
    "reasoning_effort",
    "response_format_for",
    "tool_choice",
    "tools",
    "with_mistral_reading",
]

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop", "length": "length", "model_length": "length", "tool_calls": "tool_calls",
}
"""``ChatCompletionChoice.finish_reason`` in batchkit's words (``error`` is ``other``)."""

_CALL_ID = re.compile(r"^[A-Za-z0-9]{9}$")
_ALPHABET = string.ascii_letters + string.digits


def call_id(original: str) -> str:
    """``original`` if Mistral takes it (nine letters or digits), else nine derived from it."""
    if _CALL_ID.match(original):
        return original
    number = int.from_bytes(hashlib.sha256(original.encode()).digest()[:8], "big")
    chars = []
    for _ in range(9):
        number, digit = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[digit])
    return "".join(chars)


def tools(request: ChatRequest) -> list[dict[str, Any]]:
    out = []
    for tool in request.tools or ():
        function: dict[str, Any] = {"name": tool.name, "parameters": tool.parameters}
        if tool.description:
            function["description"] = tool.description
        if tool.strict is not None:
            function["strict"] = tool.strict
        out.append({"type": "function", "function": function})
    return out


def tool_choice(choice: str) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def reasoning_effort(request: ChatRequest) -> str | None:
    reasoning = request.reasoning
    if reasoning is None:
        return None
    return "none" if reasoning.off else reasoning.effort


def response_format_for(request: ChatRequest) -> dict[str, Any] | None:
    """The response format of a raw ``response_schema`` or ``json_mode`` (``response_model``
    has its own, built as the SDK builds it)."""
    if request.response_schema is not None:
        schema = request.response_schema
        name = schema.get("title") if isinstance(schema.get("title"), str) else "response"
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}
    if request.json_mode:
        return {"type": "json_object"}
    return None


def message(item: Message, names: Mapping[str, str]) -> dict[str, Any]:
    """One message; ``names`` maps a call id to its tool's name (for ``tool`` messages)."""
    out: dict[str, Any] = {"role": item.role}
    if item.role == "tool":
        out.update(tool_call_id=call_id(str(item.tool_call_id)),
                   name=names[str(item.tool_call_id)], content=item.text)
        return out
    if isinstance(item.content, str) or item.content is None:
        out["content"] = item.content
    else:
        out["content"] = [_chunk(part) for part in item.parts]
    if item.tool_calls:
        out["tool_calls"] = [{"id": call_id(call.id), "type": "function", "function": {
            "name": call.name, "arguments": orjson.dumps(call.arguments).decode()}}
            for call in item.tool_calls]
    return out


def _chunk(part: TextPart | ImagePart | DocumentPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        url = part.url if part.url is not None else f"data:{part.media_type};base64,{part.data}"
        image: dict[str, Any] = {"url": url}
        if part.detail is not None:
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    if part.file_id is not None:
        return {"type": "file", "file_id": part.file_id}
    url = part.url if part.url is not None else f"data:{part.media_type};base64,{part.data}"
    chunk: dict[str, Any] = {"type": "document_url", "document_url": url}
    if part.title is not None:
        chunk["document_name"] = part.title
    return chunk


def with_mistral_reading(result: Result) -> Result:
    """A Result decoded by the OpenAI family decoder, with Mistral's own words read: finish
    reasons by :data:`FINISH_REASONS`, ``thinking`` content chunks as ``reasoning``."""
    if result.vendor_finish_reason is not None:
        result.finish_reason = finish_reason(result.vendor_finish_reason, FINISH_REASONS)
        if result.tool_calls and result.finish_reason == "stop":
            result.finish_reason = "tool_calls"
    if result.choices:
        result.choices = [dataclasses.replace(c, finish_reason=finish_reason(
            c.vendor_finish_reason, FINISH_REASONS)) for c in result.choices]
    result.reasoning = result.reasoning or _thinking(result.raw)
    return result


def _thinking(raw: Any) -> str | None:
    body = ((raw or {}).get("response") or {}).get("body") if isinstance(raw, dict) else None
    choices = body.get("choices") if isinstance(body, dict) else None
    first = choices[0] if isinstance(choices, list) and choices else None
    content = ((first or {}).get("message") or {}).get("content") \
        if isinstance(first, dict) else None
    if not isinstance(content, list):
        return None
    texts = [str(t.get("text") or "") for chunk in content if isinstance(chunk, dict)
             and chunk.get("type") == "thinking" for t in chunk.get("thinking") or []
             if isinstance(t, dict)]
    return "".join(texts) or None

