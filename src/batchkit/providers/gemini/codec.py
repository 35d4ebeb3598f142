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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, NoReturn

import orjson
from pydantic import BaseModel

from ..._exceptions import InvalidRequestError
from ..._requests import ChatRequest, EmbedRequest
from .._capabilities import vendor_params
from .features import contents, reduce_schema, thinking_config, tool_config, tools

__all__ = [
    "EMBED_TASK_TYPES",
    "GEMINI",
    "MAX_STOP_SEQUENCES",
    "Dialect",
    "chat_params",
    "check_chat_request",
    "check_embed_request",
    "encode_embed_content_request",
    "encode_generate_content_request",
    "gemini_request_fields",
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


# -- dialects --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    """What differs between the two services that run ``GenerateContentRequest`` rows: the
    vendor's name (messages, ``params`` scope), whether function calls and responses carry an
    ``id`` (the Gemini API's ``FunctionCall.id``; Vertex AI's proto has none and pairs them by
    name and order), and the request fields an unscoped ``params`` key may name, read once
    from the vendor's SDK."""

    vendor: str
    call_ids: bool
    request_fields: Callable[[], frozenset[str]]


@cache
def gemini_request_fields() -> frozenset[str]:
    """The Gemini API's ``GenerateContentRequest`` fields (camelCase and snake_case, as proto
    JSON reads both), ``model`` and ``contents`` aside (batchkit writes them): google-genai's
    ``GenerateContentConfig`` fields that live at the request's top level, and
    ``generationConfig`` for the rest."""
    from google.genai import types

    top_level = {"system_instruction", "tools", "tool_config", "safety_settings",
                 "cached_content"}
    snake = {f for f in types.GenerateContentConfig.model_fields if f in top_level}
    snake.add("generation_config")
    return frozenset(snake | {_camel(f) for f in snake})


GEMINI = Dialect("gemini", call_ids=True, request_fields=gemini_request_fields)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


# -- encode: chat ----------------------------------------------------------------------------


def check_chat_request(request: ChatRequest, dialect: Dialect = GEMINI, model: str = ""
                       ) -> None:
    """Raise ``InvalidRequestError`` (naming the custom_id and rule) for what Gemini would
    reject or batchkit would silently lose; ``model`` (when given) for the thinking rules:
    models before 2.5 do not think, and Pro models cannot stop (their least budget is 128)."""
    provider = dialect.vendor

    def fail(rule: str) -> NoReturn:
        raise InvalidRequestError(rule, custom_id=request.custom_id)

    scoped = request.params.get(provider)
    for key, rule in _PARAM_RULES.items():
        if key in request.params or (isinstance(scoped, Mapping) and key in scoped):
            fail(rule)
    params = chat_params(request, dialect)
    name = model.rsplit("/", 1)[-1]
    if request.reasoning is not None and name.startswith(("gemini-1.", "gemini-2.0")):
        fail(f"{name} does not think; leave reasoning unset or use a 2.5 or later model")
    if request.reasoning is not None and request.reasoning.off and "-pro" in name:
        fail(f"{name} cannot turn thinking off; use reasoning='minimal' or budget_tokens=128")
    if request.stop is not None and len(request.stop) > MAX_STOP_SEQUENCES:
        fail(f"{provider} takes at most {MAX_STOP_SEQUENCES} stop sequences, "
             f"not {len(request.stop)}")
    asked = ("response_model" if request.response_model is not None else
             "response_schema" if request.response_schema is not None else
             "json_mode" if request.json_mode else None)
    if asked is not None:
        config = params.get("generationConfig") or {}
        clash = [k for k in _SCHEMA_PARAMS if isinstance(config, dict) and k in config]
        if clash:
            fail(f"params generationConfig.{clash[0]} would replace what {asked} asks for")


def chat_params(request: ChatRequest, dialect: Dialect = GEMINI) -> dict[str, Any]:
    """The raw params for the dialect's rows (refusing another vendor's unscoped fields)."""
    if not request.params:  # most rows: nothing to scope, so no registry lookup per row
        return {}
    from ..._registry import available_providers

    vendors = [name for name, _, _ in available_providers()]
    return vendor_params(request, dialect.vendor, vendors, dialect.request_fields())


def encode_generate_content_request(request: ChatRequest, dialect: Dialect = GEMINI
                                    ) -> dict[str, Any]:
    """The ``GenerateContentRequest`` (REST JSON, no ``model``) for one chat request.

    System messages, wherever they stand, become ``systemInstruction`` (one part each, in
    order); ``assistant`` becomes ``model``; tools, tool calls, documents and reasoning are
    spelt by :mod:`.features`. ``response_model`` / ``response_schema`` set ``responseMimeType:
    application/json`` and ``responseJsonSchema``; ``json_mode`` the MIME type alone; ``n`` is
    ``candidateCount``; ``logprobs`` / ``top_logprobs`` are ``responseLogprobs`` / ``logprobs``.
    The raw params for the dialect's vendor (:func:`vendor_params`) merge in last, recursively for
    objects, so ``{"generationConfig": {"topK": 40}}`` adds one field rather than replacing
    the whole config.
    """
    body: dict[str, Any] = {"contents": contents(request.messages, call_ids=dialect.call_ids)}
    system = [m for m in request.messages if m.role == "system"]
    if system:
        body["systemInstruction"] = {"parts": [{"text": m.text} for m in system]}
    if request.tools:
        body["tools"] = tools(request.tools)
    if request.tool_choice is not None:
        body["toolConfig"] = tool_config(request.tool_choice)
    config: dict[str, Any] = {}
    _put(config, "maxOutputTokens", request.max_tokens)
    _put(config, "temperature", request.temperature)
    _put(config, "topP", request.top_p)
    _put(config, "stopSequences", request.stop)
    _put(config, "seed", request.seed)
    if request.n is not None and request.n > 1:
        config["candidateCount"] = request.n
    if request.logprobs:
        config["responseLogprobs"] = True
        _put(config, "logprobs", request.top_logprobs)
    if request.response_model is not None:
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema"] = response_json_schema(request.response_model)
    elif request.response_schema is not None:
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema"] = reduce_schema(request.response_schema)
    elif request.json_mode:
        config["responseMimeType"] = "application/json"
    _put(config, "thinkingConfig", thinking_config(request))
    if config:
        body["generationConfig"] = config
    return _merge(body, chat_params(request, dialect))


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


# -- encode: schema --------------------------------------------------------------------------


def response_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The ``responseJsonSchema`` for a response model: a deep copy, safe to mutate.

    Why ``responseJsonSchema`` and not ``responseSchema``: ``responseSchema`` is an OpenAPI 3.0
    subset with no ``$ref``, so nested and recursive pydantic models would have to be inlined
    (and recursion cannot be); ``responseJsonSchema`` takes JSON Schema with ``$defs``/``$ref``,
    and both the Gemini API and Vertex AI accept it (google-genai maps it for both). The schema
    is reduced to the keywords Gemini takes (:func:`.features.reduce_schema`); pydantic still
    validates the reply against the full model.
    """
    schema: dict[str, Any] = orjson.loads(_schema_json(model))
    return schema


@cache
def _schema_json(model: type[BaseModel]) -> bytes:
    return orjson.dumps(reduce_schema(model.model_json_schema()))


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
