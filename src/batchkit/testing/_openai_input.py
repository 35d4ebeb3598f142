"""Validation of an OpenAI batch input file, with the vendor's error codes.

Why: a real OpenAI batch whose input is wrong does not fail at create time; it is accepted, sits in
``validating``, then turns ``failed`` with ``errors.data[] = {code, message, param, line}``, and
nothing executes. The emulator reproduces that, checking each line's envelope and its ``body``
against the vendor's own request schema (:mod:`batchkit.testing._spec`), and stopping at the first
bad line as the vendor does. Codes come from observed OpenAI failures (``invalid_json_line``,
``duplicate_custom_id``, ``invalid_url``, ``mismatched_model``, ``missing_required_parameter``,
``streaming_unsupported``, ``invalid_request``); the size codes (``empty_file``,
``too_many_tasks``, ``file_too_large``) follow the family Azure documents for the same service.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from batchkit.testing import _spec

BODY_SCHEMAS = {
    "/v1/chat/completions": "CreateChatCompletionRequest",
    "/v1/embeddings": "CreateEmbeddingRequest",
    "/v1/responses": "CreateResponse",
}
REQUIRED_ENVELOPE = ("custom_id", "method", "url", "body")


@dataclass
class InputLimits:
    """The per-batch limits OpenAI documents; tests lower them to avoid building 50k lines."""

    max_requests: int = 50_000
    max_bytes: int = 200 * 1024 * 1024
    max_embedding_inputs: int = 50_000


@dataclass
class BatchLine:
    """One validated input line."""

    line: int
    custom_id: str
    url: str
    body: dict[str, Any]


@dataclass
class ValidationError:
    code: str
    message: str
    param: str | None = None
    line: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "param": self.param, "line": self.line}


@dataclass
class ParsedInput:
    lines: list[BatchLine] = field(default_factory=list)
    model: str | None = None
    error: ValidationError | None = None


class _Invalid(Exception):
    def __init__(self, error: ValidationError) -> None:
        super().__init__(error.message)
        self.error = error


def parse_input(data: bytes, endpoint: str, limits: InputLimits) -> ParsedInput:
    """Parse and validate an input file for a batch on ``endpoint``."""
    parsed = ParsedInput()
    try:
        _check(data, endpoint, limits, parsed)
    except _Invalid as invalid:
        parsed.error = invalid.error
    return parsed


def _check(data: bytes, endpoint: str, limits: InputLimits, parsed: ParsedInput) -> None:
    if len(data) > limits.max_bytes:
        raise _Invalid(ValidationError(
            "file_too_large",
            f"The input file is {len(data)} bytes, over the {limits.max_bytes} byte limit.",
        ))
    raw_lines = data.decode("utf-8", errors="replace").splitlines()
    numbered = [(n, text) for n, text in enumerate(raw_lines, start=1) if text.strip()]
    if not numbered:
        raise _Invalid(ValidationError("empty_file", "The input file is empty. Please ensure "
                                       "that the batch contains at least one request."))
    if len(numbered) > limits.max_requests:
        raise _Invalid(ValidationError(
            "too_many_tasks",
            f"The batch input file has {len(numbered)} requests; the maximum is "
            f"{limits.max_requests}.",
        ))
    seen: set[str] = set()
    embedding_inputs = 0
    for number, text in numbered:
        item = _check_line(number, text, endpoint)
        if item.custom_id in seen:
            raise _Invalid(ValidationError(
                "duplicate_custom_id",
                "The custom_id for this request is a duplicate of another request.",
                "custom_id", number,
            ))
        seen.add(item.custom_id)
        model = item.body["model"]
        if parsed.model is None:
            parsed.model = model
        elif model != parsed.model:
            raise _Invalid(ValidationError(
                "mismatched_model",
                f"The model {model!r} does not match the model {parsed.model!r} of the other "
                "requests. Each batch file may only use one model.",
                "body.model", number,
            ))
        if endpoint == "/v1/embeddings":
            value = item.body.get("input")
            embedding_inputs += len(value) if isinstance(value, list) else 1
            if embedding_inputs > limits.max_embedding_inputs:
                raise _Invalid(ValidationError(
                    "too_many_tasks",
                    f"The batch has more than {limits.max_embedding_inputs} embedding inputs.",
                    "body.input", number,
                ))
        parsed.lines.append(item)


def _check_line(number: int, text: str, endpoint: str) -> BatchLine:
    try:
        item = json.loads(text)
    except ValueError:
        item = None
    if not isinstance(item, dict):
        raise _Invalid(ValidationError(
            "invalid_json_line",
            "This line is not parseable as valid JSON.", None, number,
        ))
    for name in REQUIRED_ENVELOPE:
        if name not in item:
            raise _Invalid(ValidationError(
                "missing_required_parameter", f"Missing required parameter: '{name}'.", name, number
            ))
    if not isinstance(item["custom_id"], str):
        raise _Invalid(ValidationError(
            "invalid_request", "'custom_id' must be a string.", "custom_id", number
        ))
    if item["method"] != "POST":
        raise _Invalid(ValidationError(
            "invalid_request", "Only the POST method is supported.", "method", number
        ))
    if item["url"] != endpoint:
        raise _Invalid(ValidationError(
            "invalid_url",
            f"The URL provided for this request does not match the batch endpoint {endpoint}.",
            "url", number,
        ))
    body = item["body"]
    if not isinstance(body, dict):
        raise _Invalid(ValidationError(
            "invalid_request", "'body' must be a JSON object.", "body", number
        ))
    _check_body(number, endpoint, body)
    return BatchLine(number, item["custom_id"], endpoint, body)


def _check_body(number: int, endpoint: str, body: dict[str, Any]) -> None:
    if body.get("stream") is True:
        raise _Invalid(ValidationError(
            "streaming_unsupported", "Streaming is not supported in batch requests.",
            "body.stream", number,
        ))
    schema_name = BODY_SCHEMAS[endpoint]
    unknown = sorted(set(body) - _spec.property_names("openai", schema_name))
    if unknown:
        raise _Invalid(ValidationError(
            "invalid_request", f"Unrecognized request argument supplied: {unknown[0]}",
            f"body.{unknown[0]}", number,
        ))
    # A batch runs on one model, so every line names it even where the schema makes it optional.
    for name in sorted(_spec.required_names("openai", schema_name) | {"model"}):
        if name not in body:
            raise _Invalid(ValidationError(
                "missing_required_parameter", f"Missing required parameter: 'body.{name}'.",
                f"body.{name}", number,
            ))
    problems = _spec.validate("openai", schema_name, body)
    if problems:
        path, _, message = problems[0].partition(": ")
        param = "body" + path[1:] if path.startswith("$") else "body"
        raise _Invalid(ValidationError(
            "invalid_request", f"Invalid value for '{param}': {message}", param, number
        ))
