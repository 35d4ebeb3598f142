"""The Gemini ``generateContent`` codec shared by the ``gemini`` and ``vertex`` adapters. No I/O.

Both Google batch services run the same ``GenerateContentRequest`` per row and write the same
``GenerateContentResponse`` back; only the envelope differs (Gemini API files hold
``{"key", "request"}`` lines and ``{"key", "response" | "error"}`` results, Vertex AI holds
``{"request"}`` lines and ``{"status", "request", "response"}`` results). This module owns the
part in between, in the REST (camelCase JSON) shape that both services' files use:

* :func:`check_chat_request` and :func:`encode_generate_content_request`: neutral
  :class:`ChatRequest` -> ``GenerateContentRequest`` dict;
* :func:`response_json_schema`: a pydantic model -> the ``responseJsonSchema`` both APIs take;
* :func:`decode_generate_content_response`, :func:`error_result`, :func:`map_finish_reason`,
  :func:`usage_from_metadata`: ``GenerateContentResponse`` / ``google.rpc.Status`` -> Result;
* :func:`encode_embed_content_request`, :func:`decode_embed_content_response`: the Gemini API's
  ``EmbedContentRequest`` / ``ContentEmbedding`` rows;
* :func:`map_job_state`: both state vocabularies (``BATCH_STATE_*`` from the Gemini REST API,
  ``JOB_STATE_*`` from google-genai and Vertex AI) -> :class:`JobState`.

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

import numpy as np
import orjson
from pydantic import BaseModel, ValidationError

from ..._exceptions import InvalidRequestError
from ..._requests import ChatRequest, EmbedRequest, ImagePart, Message
from ..._results import ErrorInfo, Result, Usage
from ..._state import JobState

__all__ = [
    "EMBED_TASK_TYPES",
    "MAX_STOP_SEQUENCES",
    "check_chat_request",
    "check_embed_request",
    "decode_embed_content_response",
    "decode_generate_content_response",
    "encode_embed_content_request",
    "encode_generate_content_request",
    "error_result",
    "map_finish_reason",
    "map_job_state",
    "response_json_schema",
    "usage_from_metadata",
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
        _image(p) if isinstance(p, ImagePart) else {"text": p.text} for p in message.content
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


# -- decode ----------------------------------------------------------------------------------

_FINISH = {
    "STOP": "stop", "MAX_TOKENS": "length",
    "SAFETY": "content_filter", "RECITATION": "content_filter", "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter", "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter", "LANGUAGE": "content_filter",
    "MALFORMED_FUNCTION_CALL": "tool_calls", "UNEXPECTED_TOOL_CALL": "tool_calls",
    "TOO_MANY_TOOL_CALLS": "tool_calls",
}


def map_finish_reason(reason: str | None) -> str | None:
    """A ``Candidate.finishReason`` in chat-completions words (``stop``, ``length``,
    ``content_filter``, ``tool_calls``), so one job reads the same on every vendor. Other
    reasons (``OTHER``, ``NO_IMAGE``, ...) come back lower-cased rather than guessed at."""
    if not reason or reason == "FINISH_REASON_UNSPECIFIED":
        return None
    return _FINISH.get(reason, reason.lower())


def usage_from_metadata(usage: Any) -> Usage | None:
    """``usageMetadata`` -> Usage.

    Gemini counts thinking (``thoughtsTokenCount``) beside ``candidatesTokenCount``; batchkit's
    ``output_tokens`` is everything billed as output, so it is their sum, with the thoughts
    also in ``reasoning_tokens``. ``promptTokenCount`` already contains the cached part
    (``cachedContentTokenCount``) and ``toolUsePromptTokenCount`` is billed as input too.
    """
    if not isinstance(usage, Mapping):
        return None

    def count(name: str) -> int:
        value = usage.get(name)
        return int(value) if isinstance(value, (int, str)) and str(value).isdigit() else 0

    thoughts = count("thoughtsTokenCount")
    return Usage(
        input_tokens=count("promptTokenCount") + count("toolUsePromptTokenCount"),
        output_tokens=count("candidatesTokenCount") + thoughts,
        cached_input_tokens=count("cachedContentTokenCount"),
        reasoning_tokens=thoughts,
    )


def decode_generate_content_response(
    custom_id: str,
    response: Mapping[str, Any],
    *,
    raw: Any = None,
    response_model: type[BaseModel] | None = None,
) -> Result:
    """One ``GenerateContentResponse`` (REST JSON) -> a Result under ``custom_id``.

    * No candidates: ``errored``, code ``prompt_blocked`` when ``promptFeedback.blockReason``
      says why, else ``no_candidates``; usage is kept (the prompt was still counted).
    * A candidate: ``succeeded``; ``text`` joins its text parts, leaving out thought summaries
      (``thought: true``); with no text but a ``functionCall``, the call's ``args`` as JSON (a
      forced function call carries the answer). A candidate stopped by a safety filter with
      no text is still ``succeeded`` (it was billed) with ``error.code == "content_filter"``.
    * ``response_model``: the text is parsed into ``parsed``; a reply that does not fit leaves
      ``parse_error`` instead of raising. (The batchkit normalizer parses again by import path;
      this is for callers, such as ``bk.decode``, that have the class at hand.)

    Raises ``ValueError`` only for a response that is not an object at all.
    """
    if not isinstance(response, Mapping):
        raise ValueError(f"line for {custom_id!r}: the response is not an object")
    raw = dict(response) if raw is None else raw
    usage = usage_from_metadata(response.get("usageMetadata"))
    candidates = response.get("candidates")
    if not isinstance(candidates, list) or not candidates:
        found_feedback = response.get("promptFeedback")
        feedback = found_feedback if isinstance(found_feedback, Mapping) else {}
        reason = feedback.get("blockReason")
        error: ErrorInfo | None
        if reason:
            message = str(feedback.get("blockReasonMessage") or f"blocked: {reason}")
            error = ErrorInfo("prompt_blocked", f"the prompt was blocked ({reason}): {message}",
                              http_status=400)
        else:
            error = ErrorInfo("no_candidates", "the response has no candidates", retryable=True)
        return Result(custom_id, "errored", usage=usage, error=error, raw=raw)
    first = candidates[0] if isinstance(candidates[0], Mapping) else {}
    content = first.get("content")
    found = content.get("parts") if isinstance(content, Mapping) else None
    parts = [p for p in found if isinstance(p, Mapping)] if isinstance(found, list) else []
    texts = [str(p["text"]) for p in parts if "text" in p and not p.get("thought")]
    calls = [p["functionCall"] for p in parts if isinstance(p.get("functionCall"), Mapping)]
    text: str | None = "".join(texts) if texts else None
    if text is None and calls:
        text = orjson.dumps(calls[0].get("args") or {}).decode()
    raw_reason = first.get("finishReason")
    finish = map_finish_reason(raw_reason if isinstance(raw_reason, str) else None)
    if calls and finish == "stop":
        finish = "tool_calls"
    error = None
    if finish == "content_filter" and not text:
        error = ErrorInfo("content_filter", f"the reply was stopped ({raw_reason})")
    result = Result(custom_id, "succeeded", text=text, finish_reason=finish, usage=usage,
                    error=error, raw=raw)
    if response_model is not None:
        _parse_into(result, response_model)
    return result


def _parse_into(result: Result, model: type[BaseModel]) -> None:
    if result.text is None:
        result.parse_error = "the reply has no text to parse"
        return
    try:
        result.parsed = model.model_validate_json(result.text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "reply"
        result.parse_error = f"{where}: {first['msg']}"


_RPC_CODES = {
    1: ("CANCELLED", 499), 2: ("UNKNOWN", 500), 3: ("INVALID_ARGUMENT", 400),
    4: ("DEADLINE_EXCEEDED", 504), 5: ("NOT_FOUND", 404), 6: ("ALREADY_EXISTS", 409),
    7: ("PERMISSION_DENIED", 403), 8: ("RESOURCE_EXHAUSTED", 429),
    9: ("FAILED_PRECONDITION", 400), 10: ("ABORTED", 409), 11: ("OUT_OF_RANGE", 400),
    12: ("UNIMPLEMENTED", 501), 13: ("INTERNAL", 500), 14: ("UNAVAILABLE", 503),
    15: ("DATA_LOSS", 500), 16: ("UNAUTHENTICATED", 401),
}
"""google.rpc.Code number -> (name, HTTP status) from googleapis ``google/rpc/code.proto``."""
_RPC_BY_HTTP = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                404: "NOT_FOUND", 409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED",
                500: "INTERNAL", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE",
                504: "DEADLINE_EXCEEDED"}
_RETRYABLE = frozenset({"RESOURCE_EXHAUSTED", "UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED",
                        "ABORTED", "UNKNOWN"})


def error_result(custom_id: str, error: Any, *, raw: Any = None) -> Result:
    """A per-row error -> an ``errored`` Result.

    Takes a ``google.rpc.Status`` (``{"code": 3, "message", "details"}``, as in Gemini API
    result lines), the HTTP-style ``{"error": {"code": 400, "message", "status"}}`` (as in
    Vertex AI's ``status`` column, once parsed), or a plain message string. The code becomes
    the lower-case status name (``invalid_argument``, ``resource_exhausted``, ...).
    """
    if isinstance(error, Mapping) and isinstance(error.get("error"), Mapping):
        error = error["error"]
    if not isinstance(error, Mapping):
        return Result(custom_id, "errored", raw=raw if raw is not None else error,
                      error=ErrorInfo("unknown_error", str(error)[:1000]))
    code = error.get("code")
    name = error.get("status") if isinstance(error.get("status"), str) else None
    http: int | None = None
    if isinstance(code, int) and code in _RPC_CODES:
        name, http = name or _RPC_CODES[code][0], _RPC_CODES[code][1]
    elif isinstance(code, int):
        http, name = code, name or _RPC_BY_HTTP.get(code)
    name = name or "UNKNOWN"
    return Result(custom_id, "errored", raw=raw if raw is not None else dict(error),
                  error=ErrorInfo(name.lower(), str(error.get("message") or ""),
                                  retryable=name in _RETRYABLE, http_status=http))


def decode_embed_content_response(
    custom_id: str, response: Mapping[str, Any], *, raw: Any = None
) -> Result:
    """One embedding response -> a Result with ``embedding`` (float32).

    Accepts the ``EmbedContentResponse`` shape ``{"embedding": {"values": [...]}}`` and the
    bare ``ContentEmbedding`` ``{"values": [...]}``. A response without values is
    ``errored/no_embedding`` rather than an exception.
    """
    if not isinstance(response, Mapping):
        raise ValueError(f"line for {custom_id!r}: the response is not an object")
    raw = dict(response) if raw is None else raw
    inner = response.get("embedding", response)
    values = inner.get("values") if isinstance(inner, Mapping) else None
    usage = usage_from_metadata(response.get("usageMetadata"))
    if not isinstance(values, list) or not values:
        return Result(custom_id, "errored", raw=raw, usage=usage,
                      error=ErrorInfo("no_embedding", "the response has no embedding values"))
    tokens = response.get("tokenCount")
    if usage is None and isinstance(tokens, int):
        usage = Usage(input_tokens=tokens)
    return Result(custom_id, "succeeded", embedding=np.asarray(values, dtype=np.float32),
                  usage=usage, raw=raw)


# -- status ----------------------------------------------------------------------------------

_STATES: Mapping[str, JobState] = {
    "PENDING": JobState.QUEUED, "QUEUED": JobState.QUEUED, "RUNNING": JobState.RUNNING,
    "UPDATING": JobState.RUNNING, "PAUSED": JobState.RUNNING,
    "SUCCEEDED": JobState.COMPLETED, "PARTIALLY_SUCCEEDED": JobState.COMPLETED,
    "FAILED": JobState.FAILED, "CANCELLING": JobState.CANCELLING,
    "CANCELLED": JobState.CANCELLED, "EXPIRED": JobState.EXPIRED,
}


def map_job_state(state: str) -> JobState | None:
    """``BATCH_STATE_X`` or ``JOB_STATE_X`` -> JobState; None for an unknown or unspecified
    state, so the caller can refuse to guess whether the batch is done.

    ``PENDING`` (accepted, not started) is ``queued``; ``PAUSED`` and ``UPDATING`` (Vertex AI)
    keep the batch ``running``; ``PARTIALLY_SUCCEEDED`` is ``completed``, since the failed rows
    have their own error lines.
    """
    for prefix in ("BATCH_STATE_", "JOB_STATE_"):
        if state.startswith(prefix):
            return _STATES.get(state[len(prefix):])
    return None

