"""The Gemini ``generateContent`` codec shared by the ``gemini`` and ``vertex`` adapters. No I/O.

Both Google batch services run the same ``GenerateContentRequest`` per row and write the same
``GenerateContentResponse`` back; only the envelope differs (Gemini API files hold
``{"key", "request"}`` lines and ``{"key", "response" | "error"}`` results, Vertex AI holds
``{"request"}`` lines and ``{"status", "request", "response"}`` results). This module owns the
part in between, in the REST (camelCase JSON) shape that both services' files use:

* :func:`check_chat_request` and :func:`encode_generate_content_request`: neutral
  :class:`ChatRequest` -> ``GenerateContentRequest`` dict;
* :func:`response_json_schema`: a pydantic model -> the ``responseJsonSchema`` both APIs take;
* :func:`check_embed_request`, :func:`encode_embed_content_request`: the Gemini API's
  ``EmbedContentRequest`` rows.

What comes back (responses, errors, embeddings, job states) is read by :mod:`.results`.

Facts come from google-genai's own types and converters (``types.GenerateContentConfig``,
``models._GenerateContentConfig_to_mldev`` / ``_to_vertex``, ``_transformers.t_job_state``) and
the Gemini API batch reference; see ``providers.md``.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Mapping
from functools import cache
from typing import Any, NoReturn

import orjson
from pydantic import BaseModel

from ..._exceptions import InvalidRequestError
from ..._requests import ChatRequest, EmbedRequest, ImagePart, Message, TextPart

__all__ = [
    "EMBED_TASK_TYPES",
    "MAX_STOP_SEQUENCES",
    "check_chat_request",
    "check_embed_request",
    "encode_embed_content_request",
    "encode_generate_content_request",
    "response_json_schema",
]

MAX_STOP_SEQUENCES = 5
"""``stopSequences`` takes at most five entries (GenerationConfig reference)."""
EMBED_TASK_TYPES: Mapping[str, str] = {
    "search_document": "RETRIEVAL_DOCUMENT",
    "search_query": "RETRIEVAL_QUERY",
    "classification": "CLASSIFICATION",
    "clustering": "CLUSTERING",
}
"""Neutral ``EmbedRequest.input_type`` -> the ``taskType`` enum of Google's embedding models."""

_PARAM_RULES = {
    "model": "params must not set 'model'; choose it in the provider string",
    "stream": "batch APIs reject 'stream'; remove it from params",
    "contents": "params must not set 'contents'; put the conversation in messages",
}
_SCHEMA_PARAMS = ("responseSchema", "responseJsonSchema", "responseMimeType",
                  "response_schema", "response_json_schema", "response_mime_type")


# -- encode: chat ----------------------------------------------------------------------------


def check_chat_request(request: ChatRequest, provider: str) -> None:
    """Raise ``InvalidRequestError`` (naming the custom_id and rule) for what Gemini would
    reject or batchkit would silently lose. ``provider`` is the name used in the messages."""

    def fail(rule: str) -> NoReturn:
        raise InvalidRequestError(rule, custom_id=request.custom_id)

    for key, rule in _PARAM_RULES.items():
        if key in request.params:
            fail(rule)
    if request.stop is not None and len(request.stop) > MAX_STOP_SEQUENCES:
        fail(f"{provider} takes at most {MAX_STOP_SEQUENCES} stop sequences, "
             f"not {len(request.stop)}")
    if request.response_model is not None:
        config = request.params.get("generationConfig") or {}
        clash = [k for k in _SCHEMA_PARAMS if isinstance(config, dict) and k in config]
        if clash:
            fail(f"params generationConfig.{clash[0]} would replace the response_model's schema")


def encode_generate_content_request(request: ChatRequest) -> dict[str, Any]:
    """The ``GenerateContentRequest`` (REST JSON, no ``model``) for one chat request.

    System messages, wherever they stand, become ``systemInstruction`` (one part each, in
    order); ``assistant`` becomes ``model``. ``response_model`` sets ``responseMimeType:
    application/json`` and ``responseJsonSchema``. ``request.params`` is merged in last,
    recursively for objects, so ``{"generationConfig": {"topK": 40}}`` adds one field rather
    than replacing the whole config.
    """
    body: dict[str, Any] = {
        "contents": [_content(m) for m in request.messages if m.role != "system"],
    }
    system = [m for m in request.messages if m.role == "system"]
    if system:
        body["systemInstruction"] = {"parts": [{"text": m.text} for m in system]}
    config: dict[str, Any] = {}
    _put(config, "maxOutputTokens", request.max_tokens)
    _put(config, "temperature", request.temperature)
    _put(config, "topP", request.top_p)
    _put(config, "stopSequences", request.stop)
    _put(config, "seed", request.seed)
    if request.response_model is not None:
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema"] = response_json_schema(request.response_model)
    if config:
        body["generationConfig"] = config
    return _merge(body, request.params)


def _put(body: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        body[key] = value


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            base[key] = _merge(dict(base[key]), value)
        else:
            base[key] = value
    return base


def _content(message: Message) -> dict[str, Any]:
    role = "model" if message.role == "assistant" else "user"
    if isinstance(message.content, str):
        return {"role": role, "parts": [{"text": message.content}]}
    return {"role": role, "parts": [
        _image(p) if isinstance(p, ImagePart) else {"text": p.text}
        for p in message.parts if isinstance(p, ImagePart | TextPart)
    ]}


_DATA_URL = re.compile(r"^data:(?P<type>[^;,]+);base64,(?P<data>.*)$", re.DOTALL)


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


# -- encode: schema --------------------------------------------------------------------------

_SCHEMA_KEYS = frozenset({
    "$id", "$defs", "$ref", "$anchor", "type", "format", "title", "description", "enum",
    "items", "prefixItems", "minItems", "maxItems", "minimum", "maximum", "anyOf", "oneOf",
    "properties", "additionalProperties", "required", "propertyOrdering",
})
"""What ``responseJsonSchema`` supports (google-genai ``GenerateContentConfig`` docstring);
every other keyword is dropped rather than risking an INVALID_ARGUMENT for the whole row."""


def response_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The ``responseJsonSchema`` for a response model: a deep copy, safe to mutate.

    Why ``responseJsonSchema`` and not ``responseSchema``: ``responseSchema`` is an OpenAPI 3.0
    subset with no ``$ref``, so nested and recursive pydantic models would have to be inlined
    (and recursion cannot be); ``responseJsonSchema`` takes JSON Schema with ``$defs``/``$ref``,
    and both the Gemini API and Vertex AI accept it (google-genai maps it for both).

    The pydantic schema is reduced to the supported keywords: siblings of ``$ref`` are
    dropped (the API allows only ``$``-keywords beside it), a one-element ``allOf`` is
    unwrapped, ``const`` becomes a one-value ``enum``, ``exclusiveMinimum``/``Maximum`` become
    ``minimum``/``maximum``, and objects get ``propertyOrdering`` in declaration order so the
    reply's keys follow the model. pydantic still validates the reply against the full model,
    so a dropped constraint (``pattern``, ``maxLength``) shows up as a ``parse_error``, never
    as a wrong ``parsed`` object.
    """
    schema: dict[str, Any] = orjson.loads(_schema_json(model))
    return schema


@cache
def _schema_json(model: type[BaseModel]) -> bytes:
    return orjson.dumps(_reduce(model.model_json_schema()))


def _reduce(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        kept = {k: v for k, v in schema.items() if k.startswith("$")}
        if isinstance(kept.get("$defs"), dict):
            kept["$defs"] = {name: _reduce(sub) for name, sub in kept["$defs"].items()}
        return kept
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1:
        inner = dict(all_of[0]) if isinstance(all_of[0], dict) else {}
        if "$ref" in inner:
            return _reduce(inner)
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        return _reduce({**rest, **inner})
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
            out[key] = {name: _reduce(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = _reduce(value)
        elif key in ("anyOf", "oneOf", "prefixItems") and isinstance(value, list):
            out[key] = [_reduce(sub) for sub in value]
        else:
            out[key] = value
    if isinstance(out.get("properties"), dict) and "propertyOrdering" not in out:
        out["propertyOrdering"] = list(out["properties"])
    return out


# -- encode: embeddings ----------------------------------------------------------------------


def check_embed_request(request: EmbedRequest) -> None:
    """Raise ``InvalidRequestError`` for embedding params Gemini would reject."""
    for key in ("model", "content"):
        if key in request.params:
            raise InvalidRequestError(
                f"params must not set {key!r}; batchkit fills it from the request",
                custom_id=request.custom_id,
            )


def encode_embed_content_request(request: EmbedRequest, model: str | None) -> dict[str, Any]:
    """The ``EmbedContentRequest`` (REST JSON) for one embedding request.

    ``model`` (``models/...``) is written when given: the API reference marks it required in
    each row, although the batch names its model too. ``params`` merge in last.
    """
    body: dict[str, Any] = {"content": {"parts": [{"text": request.text}]}}
    if model:
        body = {"model": model, **body}
    if request.input_type is not None:
        body["taskType"] = EMBED_TASK_TYPES[request.input_type]
    _put(body, "outputDimensionality", request.dimensions)
    return _merge(body, request.params)
