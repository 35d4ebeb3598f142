"""One row of an emulated Gemini batch: is it valid, and what does the model answer.

Why the SDK's types: the emulator must judge requests by Google's rules, never batchkit's. A
``GenerateContentRequest`` row is checked piece by piece with google-genai's own pydantic models
(``types.Content``, ``types.GenerationConfig``, ``types.SafetySetting``, ``types.Tool``,
``types.ToolConfig``; an ``EmbedContentRequest`` with ``types.Content`` and
``types.EmbedContentConfig``), which forbid unknown fields as the API's proto parser does, plus
the API's semantic rules (roles, stop sequences, schema fields). A bad row ends with the
``google.rpc.Status`` the API writes for it (``INVALID_ARGUMENT``), not with an HTTP error.

Replies are a pure function of the request: JSON satisfying ``responseJsonSchema`` (or the
OpenAPI ``responseSchema``), else a short text; ``maxOutputTokens`` truncates with
``MAX_TOKENS``; 2.5-series models report thinking tokens, as they do; embeddings are unit
vectors of ``outputDimensionality`` (default 3072, gemini-embedding-001's size).
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import warnings
from collections.abc import Callable
from typing import Any

from batchkit.testing._schema_fill import SchemaFillError, fill_schema
from batchkit.testing._text import digest, estimate_tokens

from .features import candidates, feature_problem, openapi_to_json_schema

Responder = Callable[[str, dict[str, Any], str], dict[str, Any]]
"""``responder(model, request, key) -> GenerateContentResponse`` (REST JSON) for one row."""

DEFAULT_EMBED_DIMENSIONS = 3072
MAX_STOP_SEQUENCES = 5
TASK_TYPES = frozenset({
    "TASK_TYPE_UNSPECIFIED", "RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY",
    "CLASSIFICATION", "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION",
    "CODE_RETRIEVAL_QUERY",
})
"""The API reference's ``TaskType`` enum (google-genai types it as a plain string)."""
INVALID_ARGUMENT = 3

# Proto JSON accepts a field's lowerCamel name and its original snake_case name.
_GENERATE_FIELDS = {
    "model": "model", "contents": "contents", "systemInstruction": "systemInstruction",
    "system_instruction": "systemInstruction", "generationConfig": "generationConfig",
    "generation_config": "generationConfig", "safetySettings": "safetySettings",
    "safety_settings": "safetySettings", "tools": "tools", "toolConfig": "toolConfig",
    "tool_config": "toolConfig", "cachedContent": "cachedContent",
    "cached_content": "cachedContent",
}
_EMBED_FIELDS = {
    "model": "model", "content": "content", "taskType": "taskType", "task_type": "taskType",
    "title": "title", "outputDimensionality": "outputDimensionality",
    "output_dimensionality": "outputDimensionality",
}


def _unknown(name: str) -> str:
    return (f"Invalid JSON payload received. Unknown name \"{name}\" at 'request': "
            "Cannot find field.")


def _sdk_problem(model_name: str, value: Any, where: str) -> str | None:
    """Validate ``value`` with ``google.genai.types.<model_name>`` (from JSON, so base64 bytes
    decode as the API's do); the vendor-style message, or None."""
    from google.genai import types
    from pydantic import ValidationError

    model = getattr(types, model_name)
    with warnings.catch_warnings(record=True) as caught:
        # The SDK keeps unknown enum values with a UserWarning; the API refuses them.
        warnings.simplefilter("always")
        try:
            model.model_validate_json(json.dumps(value))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in (where, *err["loc"]))
            return f"Invalid value at '{loc}': {err['msg']}"
    for warning in caught:
        if "is not a valid" in str(warning.message):
            return f"Invalid value at '{where}': {warning.message}"
    return None


def generate_problem(request: Any, model: str = "") -> tuple[dict[str, Any], str | None]:
    """``(the request with camelCase top-level names, why it is invalid or None)``; ``model``
    (when known) for the rules that depend on it (thinking)."""
    if not isinstance(request, dict):
        return {}, "Invalid JSON payload received. 'request' must be an object."
    body: dict[str, Any] = {}
    for name, value in request.items():
        if name not in _GENERATE_FIELDS:
            return body, _unknown(name)
        body[_GENERATE_FIELDS[name]] = value
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return body, "* GenerateContentRequest.contents: contents is not specified"
    for index, content in enumerate(contents):
        problem = _sdk_problem("Content", content, f"request.contents[{index}]")
        if problem:
            return body, problem
        if content.get("role", "user") not in ("user", "model"):
            return body, "Please use a valid role: user, model."
        if not content.get("parts"):
            return body, f"* GenerateContentRequest.contents[{index}].parts: contents.parts " \
                         "must not be empty."
    checks = [("Content", body.get("systemInstruction"), "request.system_instruction"),
              ("GenerationConfig", body.get("generationConfig"), "request.generation_config"),
              ("ToolConfig", body.get("toolConfig"), "request.tool_config")]
    checks += [("SafetySetting", s, "request.safety_settings") for s in
               body.get("safetySettings") or []]
    checks += [("Tool", t, "request.tools") for t in body.get("tools") or []]
    for model_name, value, where in checks:
        if value is not None:
            problem = _sdk_problem(model_name, value, where)
            if problem:
                return body, problem
    return body, _config_problem(body.get("generationConfig") or {}) or \
        feature_problem(model, body)


def _config_problem(config: dict[str, Any]) -> str | None:
    """The API's rules that the types alone do not carry."""
    get = config.get
    json_schema = get("responseJsonSchema", get("response_json_schema"))
    schema = get("responseSchema", get("response_schema"))
    mime = get("responseMimeType", get("response_mime_type"))
    if json_schema is not None and schema is not None:
        return "responseJsonSchema and responseSchema cannot both be set."
    if (json_schema is not None or schema is not None) and mime not in (
            "application/json", "text/x.enum"):
        return ("* GenerateContentRequest.generation_config.response_mime_type: "
                "response_mime_type must be application/json when a response schema is set.")
    stops = get("stopSequences", get("stop_sequences")) or []
    if len(stops) > MAX_STOP_SEQUENCES:
        return (f"* GenerateContentRequest.generation_config.stop_sequences: at most "
                f"{MAX_STOP_SEQUENCES} stop sequences are allowed.")
    temperature = get("temperature")
    if isinstance(temperature, (int, float)) and not 0 <= temperature <= 2:
        return "* GenerateContentRequest.generation_config.temperature: must be in [0.0, 2.0]."
    cap = get("maxOutputTokens", get("max_output_tokens"))
    if isinstance(cap, int) and cap < 1:
        return "* GenerateContentRequest.generation_config.max_output_tokens: must be positive."
    return None


def embed_problem(request: Any) -> tuple[dict[str, Any], str | None]:
    """``(the request with camelCase names, why it is invalid or None)``."""
    if not isinstance(request, dict):
        return {}, "Invalid JSON payload received. 'request' must be an object."
    body: dict[str, Any] = {}
    for name, value in request.items():
        if name not in _EMBED_FIELDS:
            return body, _unknown(name)
        body[_EMBED_FIELDS[name]] = value
    if "content" not in body:
        return body, "* EmbedContentRequest.content: content is not specified"
    problem = _sdk_problem("Content", body["content"], "request.content")
    if problem:
        return body, problem
    config = {k: body[k] for k in ("taskType", "title", "outputDimensionality") if k in body}
    problem = _sdk_problem("EmbedContentConfig", config, "request")
    if problem:
        return body, problem
    if "taskType" in body and body["taskType"] not in TASK_TYPES:
        return body, (f"Invalid value at 'request.task_type' "
                      f"(type.googleapis.com/google.ai.generativelanguage.v1beta.TaskType), "
                      f"\"{body['taskType']}\"")
    dims = body.get("outputDimensionality")
    if dims is not None and (not isinstance(dims, int) or dims < 1):
        return body, "* EmbedContentRequest.output_dimensionality: must be positive."
    return body, None


def row_error(code: int, message: str) -> dict[str, Any]:
    """A ``google.rpc.Status`` as result lines carry it."""
    return {"code": code, "message": message}


# -- replies ---------------------------------------------------------------------------------



def prompt_text(request: dict[str, Any]) -> str:
    """The text of every part of ``systemInstruction`` and ``contents``."""
    contents = [request.get("systemInstruction") or {}, *(request.get("contents") or [])]
    return " ".join(str(p["text"]) for c in contents if isinstance(c, dict)
                    for p in c.get("parts") or [] if isinstance(p, dict) and "text" in p)


def generate_reply(model: str, request: dict[str, Any], key: str) -> dict[str, Any]:
    """The default responder: a ``GenerateContentResponse`` for one valid row (function calls,
    thoughts, candidates and logprobs by :func:`.features.candidates`)."""
    config = request.get("generationConfig") or {}
    seed = digest("reply", key, json.dumps(request, sort_keys=True))
    schema = config.get("responseJsonSchema")
    if schema is None and config.get("responseSchema") is not None:
        schema = openapi_to_json_schema(config["responseSchema"])
    prompt = prompt_text(request)

    def answer(own: str) -> str:
        if schema is not None:
            try:
                return json.dumps(fill_schema(schema, seed=own), ensure_ascii=False)
            except SchemaFillError:
                return "{}"
        if config.get("responseMimeType") == "application/json":
            return json.dumps({"answer": f"Emulated ({own[:8]})"})
        words = prompt.split()
        return f"Emulated answer ({own[:8]}) to: " + " ".join(words[-12:])

    found, output_tokens, thoughts = candidates(model, request, seed, answer)
    prompt_tokens = estimate_tokens(prompt) + 3 * len(request.get("contents") or [])
    usage: dict[str, Any] = {"promptTokenCount": prompt_tokens,
                             "candidatesTokenCount": output_tokens}
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    usage["totalTokenCount"] = sum(usage.values())
    usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt_tokens}]
    return {
        "candidates": found,
        "usageMetadata": usage,
        "modelVersion": model.removeprefix("models/"),
        "responseId": seed[:22],
    }


def unit_vector(model: str, text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector whose components are exact float32 values."""
    raw = b""
    counter = 0
    while len(raw) < dimensions * 4:
        raw += hashlib.sha256(f"{model}\x1f{text}\x1f{counter}".encode()).digest()
        counter += 1
    values = [((b % 200) - 100) / 100.0 for b in raw[:dimensions]]
    values = [v if v else 0.01 for v in values]
    norm = math.sqrt(sum(v * v for v in values))
    return list(struct.unpack(f"<{dimensions}f", struct.pack(f"<{dimensions}f",
                                                             *(v / norm for v in values))))


def embed_reply(model: str, request: dict[str, Any]) -> dict[str, Any]:
    """An ``EmbedContentResponse`` for one valid row."""
    content = request.get("content") or {}
    text = " ".join(str(p.get("text", "")) for p in content.get("parts") or []
                    if isinstance(p, dict))
    dims = int(request.get("outputDimensionality") or DEFAULT_EMBED_DIMENSIONS)
    return {"embedding": {"values": unit_vector(model, text, dims)}}
