"""Validation of an OpenAI batch input file, with the vendor's error codes.

Why: a real OpenAI batch whose input is wrong does not fail at create time; it is accepted, sits in
``validating``, then turns ``failed`` with ``errors.data[] = {code, message, param, line}``, and
nothing executes. The emulator reproduces that, checking each line's envelope and its ``body``
against the vendor's own request schema (:mod:`batchkit.testing._spec`), and stopping at the first
bad line as the vendor does. Codes come from observed OpenAI failures (``invalid_json_line``,
``duplicate_custom_id``, ``invalid_url``, ``mismatched_model``, ``missing_required_parameter``,
``streaming_unsupported``, ``invalid_request``); the size codes (``empty_file``,
``too_many_tasks``, ``file_too_large``) follow the family Azure documents for the same service.

The OpenAI-shaped vendors differ in the envelope (Together: ``{custom_id, body}``), in how they
spell the endpoint (Azure: ``/chat/completions``), in whether one file may name several models
(Groq's docs show a mixed file; Azure calls its refusal ``model_mismatch``), in known model names
(Azure deployments) and in when a body is checked (Together: only when the line runs). Those are
the fields of :class:`InputRules`; bodies are always checked against OpenAI's own schemas, since
each of these vendors documents its batch bodies as the OpenAI endpoint's.
"""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from batchkit.testing import _spec

BODY_SCHEMAS = {
    "/v1/chat/completions": "CreateChatCompletionRequest",
    "/v1/embeddings": "CreateEmbeddingRequest",
    "/v1/responses": "CreateResponse",
    "/v1/moderations": "CreateModerationRequest",
}
REQUIRED_ENVELOPE = ("custom_id", "method", "url", "body")


@dataclass(frozen=True)
class InputRules:
    """What one vendor checks in a batch input file (the defaults are OpenAI's)."""

    envelope: tuple[str, ...] = REQUIRED_ENVELOPE
    urls: Mapping[str, str] = field(default_factory=lambda: {u: u for u in BODY_SCHEMAS})
    """The vendor's endpoint spelling -> the OpenAI endpoint whose schema and replies apply."""
    one_model_code: str | None = "mismatched_model"
    """The error code for a file naming two models; None lets a file mix models."""
    url_mismatch_code: str = "invalid_url"
    models: frozenset[str] | None = None
    """Model (deployment) names that exist; None accepts any name."""
    check_bodies: bool = True
    """False for a vendor that checks each body only when its line runs."""
    max_custom_id: int | None = None
    sdk_request_type: tuple[str, str] | None = None
    """(module, TypedDict) of the vendor SDK's chat request, whose fields the vendor takes
    beyond OpenAI's (Groq's ``reasoning_format``...); imported when a body is first checked."""

    def extra_names(self) -> frozenset[str]:
        return _sdk_fields(*self.sdk_request_type) if self.sdk_request_type else frozenset()


@functools.cache
def _sdk_fields(module: str, name: str) -> frozenset[str]:
    return frozenset(getattr(importlib.import_module(module), name).__annotations__)


@dataclass
class InputLimits:
    """The per-batch limits OpenAI documents; tests lower them to avoid building 50k lines."""

    max_requests: int = 50_000
    max_bytes: int = 200 * 1024 * 1024
    max_embedding_inputs: int = 50_000


@dataclass
class BatchLine:
    """One validated input line; ``url`` is the OpenAI endpoint it maps to."""

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


def parse_input(
    data: bytes, endpoint: str, limits: InputLimits, rules: InputRules | None = None
) -> ParsedInput:
    """Parse and validate an input file for a batch on ``endpoint`` (the vendor's spelling)."""
    parsed = ParsedInput()
    try:
        _check(data, endpoint, limits, rules or InputRules(), parsed)
    except _Invalid as invalid:
        parsed.error = invalid.error
    return parsed


def _check(
    data: bytes, endpoint: str, limits: InputLimits, rules: InputRules, parsed: ParsedInput
) -> None:
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
        item = _check_line(number, text, endpoint, rules)
        if item.custom_id in seen:
            raise _Invalid(ValidationError(
                "duplicate_custom_id",
                "The custom_id for this request is a duplicate of another request.",
                "custom_id", number,
            ))
        seen.add(item.custom_id)
        _check_model(item, rules, parsed)
        if item.url == "/v1/embeddings":
            value = item.body.get("input")
            embedding_inputs += len(value) if isinstance(value, list) else 1
            if embedding_inputs > limits.max_embedding_inputs:
                raise _Invalid(ValidationError(
                    "too_many_tasks",
                    f"The batch has more than {limits.max_embedding_inputs} embedding inputs.",
                    "body.input", number,
                ))
        parsed.lines.append(item)


def _check_model(item: BatchLine, rules: InputRules, parsed: ParsedInput) -> None:
    model = item.body.get("model")
    if rules.models is not None and isinstance(model, str) and model not in rules.models:
        raise _Invalid(ValidationError(
            "model_not_found",
            f"The provided model deployment {model!r} does not exist on this resource.",
            "body.model", item.line,
        ))
    if parsed.model is None:
        parsed.model = model
    elif rules.one_model_code is not None and model != parsed.model:
        raise _Invalid(ValidationError(
            rules.one_model_code,
            f"The model {model!r} does not match the model {parsed.model!r} of the other "
            "requests. Each batch file may only use one model.",
            "body.model", item.line,
        ))


def _check_line(number: int, text: str, endpoint: str, rules: InputRules) -> BatchLine:
    try:
        item = json.loads(text)
    except ValueError:
        item = None
    if not isinstance(item, dict):
        raise _Invalid(ValidationError(
            "invalid_json_line",
            "This line is not parseable as valid JSON.", None, number,
        ))
    for name in rules.envelope:
        if name not in item:
            raise _Invalid(ValidationError(
                "missing_required_parameter", f"Missing required parameter: '{name}'.", name, number
            ))
    unknown = sorted(set(item) - set(rules.envelope))
    if unknown and "url" not in rules.envelope:  # a two-field envelope takes nothing else
        raise _Invalid(ValidationError(
            "invalid_request", f"unknown field `{unknown[0]}`, expected `custom_id` or `body`",
            unknown[0], number,
        ))
    custom_id = item["custom_id"]
    if not isinstance(custom_id, str):
        raise _Invalid(ValidationError(
            "invalid_request", "'custom_id' must be a string.", "custom_id", number
        ))
    if rules.max_custom_id is not None and len(custom_id) > rules.max_custom_id:
        raise _Invalid(ValidationError(
            "invalid_request", f"custom_id is longer than {rules.max_custom_id} characters.",
            "custom_id", number,
        ))
    if "method" in rules.envelope and item["method"] != "POST":
        raise _Invalid(ValidationError(
            "invalid_request", "Only the POST method is supported.", "method", number
        ))
    if "url" in rules.envelope and item["url"] != endpoint:
        raise _Invalid(ValidationError(
            rules.url_mismatch_code,
            f"The URL provided for this request does not match the batch endpoint {endpoint}.",
            "url", number,
        ))
    body = item["body"]
    if not isinstance(body, dict):
        raise _Invalid(ValidationError(
            "invalid_request", "'body' must be a JSON object.", "body", number
        ))
    url = rules.urls[endpoint]
    if rules.check_bodies:
        problem = body_problem(url, body, rules.extra_names())
        if problem is not None:
            raise _Invalid(ValidationError(problem.code, problem.message, problem.param, number))
    return BatchLine(number, custom_id, url, body)


def body_problem(
    url: str, body: dict[str, Any], extra_names: frozenset[str] = frozenset()
) -> ValidationError | None:
    """What the vendor would say about ``body`` for the OpenAI endpoint ``url`` (None: valid).

    ``extra_names`` are parameters the vendor takes beyond OpenAI's (Together's ``top_k``...).
    """
    try:
        _check_body(0, url, body, extra_names)
    except _Invalid as invalid:
        return invalid.error
    return None


def _check_body(
    number: int, endpoint: str, body: dict[str, Any], extra_names: frozenset[str] = frozenset()
) -> None:
    if body.get("stream") is True:
        raise _Invalid(ValidationError(
            "streaming_unsupported", "Streaming is not supported in batch requests.",
            "body.stream", number,
        ))
    schema_name = BODY_SCHEMAS[endpoint]
    unknown = sorted(set(body) - _spec.property_names("openai", schema_name) - extra_names)
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
