"""What the Vertex AI emulator does with one input row: check it, and answer it.

Rows are checked with the SDK's own types, not batchkit's: a chat row's ``request`` must parse
as ``google.cloud.aiplatform_v1.GenerateContentRequest`` (protobuf ``json_format``, unknown
fields refused), plus the rules the proto cannot say (roles ``user``/``model``, a response schema
only with ``responseMimeType: application/json``). Text-embedding instances have no proto in the
SDK; they are checked against the instance fields Google documents (``content``, ``task_type``,
``title``). A bad row does not fail the job: it becomes a failed row whose ``status`` holds the
error text, as the batch-prediction docs show (``'Bad Request: {"error": {...}}'``).

Default answers are pure functions of the row: text derived from the prompt, JSON satisfying a
requested schema, unit vectors of the requested dimension.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from batchkit.testing._schema_fill import fill_schema
from batchkit.testing._text import digest, estimate_tokens

from ..gemini.features import candidates, feature_problem, openapi_to_json_schema

ChatResponder = Callable[[dict[str, Any], str], dict[str, Any]]
"""``responder(request, model) -> GenerateContentResponse`` (REST JSON) for one chat row."""
EmbeddingResponder = Callable[[dict[str, Any], int], dict[str, Any]]
"""``responder(instance, dimensions) -> prediction`` (``{"embeddings": {...}}``) for one row."""

EMBEDDING_TASK_TYPES = frozenset({
    "RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY", "CLASSIFICATION",
    "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY",
})
"""The ``task_type`` values of Vertex AI text-embedding instances (embeddings API reference)."""
DEFAULT_DIMENSIONS = 768
"""text-embedding-005's output size when ``outputDimensionality`` is not set."""
_REASONS = {400: ("Bad Request", "INVALID_ARGUMENT"), 429: ("Too Many Requests",
            "RESOURCE_EXHAUSTED"), 500: ("Internal Server Error", "INTERNAL"),
            503: ("Service Unavailable", "UNAVAILABLE")}


def status_text(code: int, message: str) -> str:
    """A failed row's ``status`` column: the HTTP reason, then the error body as JSON."""
    reason, status = _REASONS.get(code, ("Error", "UNKNOWN"))
    body = {"error": {"code": code, "message": message, "status": status}}
    return f"{reason}: {json.dumps(body)}"


def check_chat_row(row: Any, model: str = "") -> str | None:
    """None if the row is a valid ``{"request": GenerateContentRequest}``, else its status
    (``model``, when known, for the rules that depend on it)."""
    from google.cloud.aiplatform_v1 import GenerateContentRequest
    from google.protobuf import json_format  # type: ignore[import-untyped]

    request = row.get("request") if isinstance(row, dict) else None
    if not isinstance(request, dict):
        return status_text(400, "Each line must be a JSON object with a 'request' object.")
    try:
        json_format.ParseDict(request, GenerateContentRequest.pb()())
    except json_format.ParseError as exc:
        return status_text(400, f"Invalid JSON payload received. {exc}")
    contents = request.get("contents") or []
    if not contents:
        return status_text(400, "Unable to submit request because it has an empty contents "
                                "field.")
    if any(c.get("role") not in (None, "user", "model") for c in contents):
        return status_text(400, "Please use a valid role: user, model.")
    config = request.get("generationConfig") or {}
    if ("responseSchema" in config or "responseJsonSchema" in config) and \
            config.get("responseMimeType") != "application/json":
        return status_text(400, "Unable to submit request because setting response_schema "
                                "requires response_mime_type application/json.")
    if "responseSchema" in config and "responseJsonSchema" in config:
        return status_text(400, "response_schema and response_json_schema cannot both be set.")
    problem = feature_problem(model, request)
    return status_text(400, problem) if problem else None


def check_embedding_instance(instance: Any) -> str | None:
    """None if ``instance`` (key field already removed) is a valid text-embedding instance."""
    if not isinstance(instance, dict):
        return status_text(400, "Each instance must be a JSON object.")
    unknown = sorted(set(instance) - {"content", "task_type", "title"})
    if unknown:
        return status_text(400, f"Invalid instance: unknown field {unknown[0]!r}.")
    if not isinstance(instance.get("content"), str) or not instance["content"]:
        return status_text(400, "Invalid instance: 'content' must be a non-empty string.")
    task = instance.get("task_type")
    if task is not None and task not in EMBEDDING_TASK_TYPES:
        return status_text(400, f"Invalid instance: unsupported task_type {task!r}.")
    if "title" in instance and task != "RETRIEVAL_DOCUMENT":
        return status_text(400, "Invalid instance: 'title' is only valid with task_type "
                                "RETRIEVAL_DOCUMENT.")
    return None


def prompt_text(value: Any) -> str:
    """Every ``text`` inside a request (contents, parts, system instruction)."""
    if isinstance(value, dict):
        own = value.get("text")
        rest = " ".join(prompt_text(v) for k, v in value.items() if k != "text")
        return " ".join(filter(None, [own if isinstance(own, str) else "", rest]))
    if isinstance(value, list):
        return " ".join(filter(None, (prompt_text(v) for v in value)))
    return ""



def generate_content_response(request: dict[str, Any], model: str,
                              text: str | Callable[[str], str]) -> dict[str, Any]:
    """A ``GenerateContentResponse`` carrying ``text`` (or ``text(seed)`` per candidate), with
    usage counted from the request, ``maxOutputTokens`` applied as the vendor does
    (``finishReason: MAX_TOKENS``), and forced function calls, thoughts, ``candidateCount``
    and logprobs as :func:`..gemini.features.candidates` answers them."""
    prompt = prompt_text({"contents": request.get("contents"),
                          "systemInstruction": request.get("systemInstruction")})
    prompt_tokens = estimate_tokens(prompt) + 3 * len(request.get("contents") or [])
    seed = digest("response", model, json.dumps(request, sort_keys=True))
    answer = text if callable(text) else (lambda _own: text)
    found, output_tokens, thoughts = candidates(model, request, seed, answer)
    for candidate in found:
        candidate.setdefault("avgLogprobs", -0.125)
    usage: dict[str, Any] = {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": output_tokens,
        "totalTokenCount": prompt_tokens + output_tokens + thoughts,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
        "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": output_tokens}],
    }
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return {"candidates": found, "usageMetadata": usage, "modelVersion": model,
            "responseId": seed[:24]}


def default_chat_responder(request: dict[str, Any], model: str) -> dict[str, Any]:
    """JSON satisfying ``responseJsonSchema`` (or the OpenAPI-style ``responseSchema``) when one
    is asked for, else a short text derived from the prompt."""
    config = request.get("generationConfig") or {}
    schema = config.get("responseJsonSchema")
    if schema is None and "responseSchema" in config:
        schema = openapi_to_json_schema(config["responseSchema"])
    words = prompt_text(request.get("contents")).split()
    gist = " ".join(words[:12]) + (" ..." if len(words) > 12 else "")

    def answer(own: str) -> str:
        if schema is not None:
            return json.dumps(fill_schema(schema, seed=own), ensure_ascii=False)
        if config.get("responseMimeType") == "application/json":
            return json.dumps({"answer": f"Emulated ({own[:8]})"})
        return f"Emulated answer ({own[:8]}) to: {gist}"

    return generate_content_response(request, model, answer)


def default_embedding_responder(instance: dict[str, Any], dimensions: int) -> dict[str, Any]:
    """A deterministic unit vector for the instance, with a token count of its text."""
    content = str(instance.get("content", ""))
    seed = digest("embedding", json.dumps(instance, sort_keys=True))
    raw = [int(seed[(2 * i) % 64: (2 * i) % 64 + 2], 16) - 127.5 + (i % 7) for i in
           range(dimensions)]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return {"embeddings": {
        "statistics": {"token_count": estimate_tokens(content), "truncated": False},
        "values": [round(v / norm, 6) for v in raw],
    }}
