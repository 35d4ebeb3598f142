"""The neutral v2 features spelt as a ``GenerateContentRequest`` (Gemini API and Vertex AI). No I/O.

Kept apart from :mod:`.codec` (the request's skeleton: messages, sampling, schemas) so each file
reads as one concern. Everything here is the REST (camelCase) shape both batch services' files
hold; the spelling is google-genai's own (``types.Tool.function_declarations``,
``types.FunctionDeclaration.parameters_json_schema``, ``types.ToolConfig.function_calling_config``,
``types.ThinkingConfig``, ``types.GenerationConfig.candidate_count`` / ``response_logprobs`` /
``logprobs``) and https://ai.google.dev/gemini-api/docs/function-calling,
https://ai.google.dev/gemini-api/docs/thinking, https://ai.google.dev/gemini-api/docs/document-processing.

* Tools: ``tools: [{"functionDeclarations": [...]}]``, each with ``parametersJsonSchema`` (JSON
  Schema with ``$defs``/``$ref``, what a pydantic model produces; the older ``parameters`` field
  takes only an OpenAPI subset). Gemini has no ``strict`` switch: the declared schema is what it
  follows, so ``Tool.strict`` changes nothing on the wire.
* ``tool_choice``: ``toolConfig.functionCallingConfig.mode`` ``AUTO`` / ``NONE`` / ``ANY``; a
  named tool is ``ANY`` with ``allowedFunctionNames: [name]``.
* A replayed conversation: an assistant message's calls become ``functionCall`` parts of a
  ``model`` turn; consecutive ``tool`` messages become one ``user`` turn of ``functionResponse``
  parts (Gemini pairs a turn's responses with the previous turn's calls), each named after the
  call it answers. A result that is a JSON object is sent as the ``response`` object itself,
  any other text as ``{"output": text}`` (the key Google's docs name for a function's output).
* Documents: ``inlineData`` (base64) or ``fileData`` (a URL, or a ``file_id``: a Files API URI
  on Gemini, a ``gs://`` URI on Vertex AI) with the part's MIME type. Gemini parts have no title;
  it is dropped.
* Reasoning: ``generationConfig.thinkingConfig`` with ``includeThoughts: true`` (so thought
  summaries come back and land in ``Result.reasoning``) and ``thinkingBudget`` — the request's
  ``budget_tokens``, or :data:`EFFORT_BUDGETS` for an effort level; ``off`` is a budget of 0.
"""

from __future__ import annotations

import contextlib
import mimetypes
import re
from collections.abc import Mapping
from typing import Any

import orjson

from ..._parts import DocumentPart, ImagePart, TextPart
from ..._requests import ChatRequest, Message
from ..._tools import Tool

__all__ = [
    "EFFORT_BUDGETS",
    "contents",
    "reduce_schema",
    "thinking_config",
    "tool_config",
    "tools",
]

EFFORT_BUDGETS: Mapping[str, int] = {"minimal": 512, "low": 1024, "medium": 8192, "high": 24576}
"""Effort level -> ``thinkingBudget`` tokens. Gemini 2.5 takes budgets (Flash up to 24,576;
Pro 128-32,768), so an effort becomes a budget; ``high`` is the largest budget every 2.5 model
accepts. Ask for ``budget_tokens`` directly for any other figure."""

_SCHEMA_KEYS = frozenset({
    "$id", "$defs", "$ref", "$anchor", "type", "format", "title", "description", "enum",
    "items", "prefixItems", "minItems", "maxItems", "minimum", "maximum", "anyOf", "oneOf",
    "properties", "additionalProperties", "required", "propertyOrdering",
})
"""What Gemini's JSON Schema fields take (google-genai ``GenerateContentConfig`` docstring);
every other keyword is dropped rather than risking an INVALID_ARGUMENT for the whole row."""

_DATA_URL = re.compile(r"^data:(?P<type>[^;,]+);base64,(?P<data>.*)$", re.DOTALL)


# -- tools -----------------------------------------------------------------------------------


def tools(request_tools: list[Tool]) -> list[dict[str, Any]]:
    """The request's tools as one ``Tool`` holding every ``functionDeclaration``."""
    declarations = []
    for tool in request_tools:
        declaration: dict[str, Any] = {"name": tool.name}
        if tool.description:
            declaration["description"] = tool.description
        declaration["parametersJsonSchema"] = reduce_schema(tool.parameters)
        declarations.append(declaration)
    return [{"functionDeclarations": declarations}]


def tool_config(choice: str) -> dict[str, Any]:
    """``tool_choice`` as ``toolConfig``."""
    modes = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
    if choice in modes:
        return {"functionCallingConfig": {"mode": modes[choice]}}
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [choice]}}


def thinking_config(request: ChatRequest) -> dict[str, Any] | None:
    """``reasoning`` as ``thinkingConfig``, or None when the request says nothing."""
    reasoning = request.reasoning
    if reasoning is None:
        return None
    if reasoning.off:
        return {"thinkingBudget": 0}
    budget = reasoning.budget_tokens
    if budget is None:
        budget = EFFORT_BUDGETS[str(reasoning.effort)]
    return {"includeThoughts": True, "thinkingBudget": budget}


# -- messages --------------------------------------------------------------------------------


def contents(messages: list[Message], *, call_ids: bool = True) -> list[dict[str, Any]]:
    """The non-system messages as ``contents``; tool results of one round share a turn.

    ``call_ids``: whether ``functionCall`` / ``functionResponse`` carry the call's ``id``. The
    Gemini API takes it; Vertex AI's ``FunctionCall`` has no such field (aiplatform_v1 proto)
    and pairs a turn's responses with its calls by name and order, which this keeps."""
    names = {call.id: call.name for m in messages for call in m.tool_calls or ()}
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            part = _function_response(message, names[str(message.tool_call_id)], call_ids)
            last = out[-1] if out else None
            if last is not None and last.get("_tool_turn"):
                last["parts"].append(part)
            else:
                out.append({"role": "user", "parts": [part], "_tool_turn": True})
            continue
        out.append(_content(message, call_ids))
    for content in out:
        content.pop("_tool_turn", None)
    return out


def _content(message: Message, call_ids: bool) -> dict[str, Any]:
    role = "model" if message.role == "assistant" else "user"
    parts: list[dict[str, Any]] = []
    if isinstance(message.content, str):
        parts.append({"text": message.content})
    for part in message.parts:
        if isinstance(part, TextPart):
            parts.append({"text": part.text})
        elif isinstance(part, ImagePart):
            parts.append(_image(part))
        elif isinstance(part, DocumentPart):
            parts.append(_document(part))
    for call in message.tool_calls or ():
        function_call: dict[str, Any] = {"id": call.id} if call_ids else {}
        function_call.update(name=call.name, args=dict(call.arguments))
        parts.append({"functionCall": function_call})
    return {"role": role, "parts": parts}


def _function_response(message: Message, name: str, call_ids: bool) -> dict[str, Any]:
    text = message.text
    response: Any = None
    with contextlib.suppress(orjson.JSONDecodeError):
        response = orjson.loads(text)
    if not isinstance(response, dict):
        response = {"output": text}
    function_response: dict[str, Any] = {"id": message.tool_call_id} if call_ids else {}
    function_response.update(name=name, response=response)
    return {"functionResponse": function_response}


def _image(part: ImagePart) -> dict[str, Any]:
    """Inline bytes for ``data:`` URLs and base64 data; ``fileData`` for other URLs, with a
    MIME type from ``media_type`` or the file extension (Vertex AI requires one). ``detail``
    has no per-part equivalent and is dropped (it is a cost hint, not content)."""
    if part.url is None:
        return {"inlineData": {"mimeType": str(part.media_type), "data": str(part.data)}}
    inline = _DATA_URL.match(part.url)
    if inline is not None:
        return {"inlineData": {"mimeType": inline["type"], "data": inline["data"]}}
    file_data = {"fileUri": part.url}
    mime = part.media_type or mimetypes.guess_type(part.url.split("?", 1)[0])[0]
    if mime:
        file_data["mimeType"] = mime
    return {"fileData": file_data}


def _document(part: DocumentPart) -> dict[str, Any]:
    if part.data is not None:
        return {"inlineData": {"mimeType": part.media_type, "data": part.data}}
    return {"fileData": {"mimeType": part.media_type, "fileUri": str(part.url or part.file_id)}}


# -- schemas ---------------------------------------------------------------------------------


def reduce_schema(schema: Any) -> Any:
    """A JSON schema reduced to the keywords Gemini takes.

    Siblings of ``$ref`` are dropped (the API allows only ``$``-keywords beside it), a
    one-element ``allOf`` is unwrapped, ``const`` becomes a one-value ``enum``,
    ``exclusiveMinimum``/``Maximum`` become ``minimum``/``maximum``, and objects get
    ``propertyOrdering`` in declaration order so the reply's keys follow the model. The caller
    still validates the reply against the full schema, so a dropped constraint (``pattern``,
    ``maxLength``) shows up as a parse error, never as a silently wrong object.
    """
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        kept = {k: v for k, v in schema.items() if k.startswith("$")}
        if isinstance(kept.get("$defs"), dict):
            kept["$defs"] = {name: reduce_schema(sub) for name, sub in kept["$defs"].items()}
        return kept
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1:
        inner = dict(all_of[0]) if isinstance(all_of[0], dict) else {}
        if "$ref" in inner:
            return reduce_schema(inner)
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        return reduce_schema({**rest, **inner})
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "const" and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            out["enum"] = [value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and isinstance(value, (int, float)):
            out.setdefault("minimum" if key == "exclusiveMinimum" else "maximum", value)
        elif key == "enum" and isinstance(value, list):
            if all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
                out["enum"] = value
        elif key not in _SCHEMA_KEYS:
            continue
        elif key in ("properties", "$defs") and isinstance(value, dict):
            out[key] = {name: reduce_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = reduce_schema(value)
        elif key in ("anyOf", "oneOf", "prefixItems") and isinstance(value, list):
            out[key] = [reduce_schema(sub) for sub in value]
        else:
            out[key] = value
    if isinstance(out.get("properties"), dict) and "propertyOrdering" not in out:
        out["propertyOrdering"] = list(out["properties"])
    return out
