"""The Mistral batch codec: request lines, result lines and job statuses. Pure: no SDK, no I/O.

Mistral's batch lines are the OpenAI family's without ``method``/``url``: ``{"custom_id",
"body"}``, with the model and the endpoint named once on the job. Bodies follow Mistral's own
request schemas (``ChatCompletionRequest``, ``EmbeddingRequest`` in the platform OpenAPI spec),
which differ from OpenAI's where it matters: ``max_tokens`` (``max_completion_tokens`` is
refused), ``random_seed`` (not ``seed``), temperature at most 1.5, ``output_dimension`` (not
``dimensions``), images only in user and assistant turns, and both schemas refuse unknown
fields (``additionalProperties: false``), so a stray ``params`` key would fail every line.

Result lines have the OpenAI shape too (``{"id", "custom_id", "response": {"status_code",
"body"}, "error"}``), so successful lines go through the family decoder; failed lines carry
Mistral's own error bodies (``{"object": "error", "message", "type", "code"}``, with the
``message`` itself a ``{"detail": [...]}`` validation report on a 422), which this module reads.

Facts: https://docs.mistral.ai/capabilities/batch, the Mistral OpenAPI spec
(``mistralai/platform-docs-public`` ``public/openapi.yaml``), the ``mistralai`` SDK and
providers.md.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, Literal, NoReturn

import orjson
from pydantic import BaseModel

from ..._exceptions import InvalidRequestError, ProviderError
from ..._requests import (
    ChatRequest,
    DocumentPart,
    EmbedRequest,
    ModerationRequest,
    Request,
    TextPart,
)
from ..._results import ErrorInfo, Result
from ..._state import JobState
from .._capabilities import vendor_params
from .._lines import load_line
from ..base import LineError, RemoteStatus
from ..openai.results import decode_line as decode_openai_line
from . import features

__all__ = [
    "CHAT_FIELDS",
    "CHAT_URL",
    "EMBEDDINGS_URL",
    "EMBED_FIELDS",
    "ENDPOINTS",
    "MAX_TEMPERATURE",
    "MISTRAL_STATUSES",
    "MODERATIONS_URL",
    "MODERATION_FIELDS",
    "check_request",
    "closed_schema",
    "decode_line",
    "encode_line",
    "error_message",
    "map_status",
    "mistral_params",
    "request_body",
    "response_format",
]

Endpoint = Literal["/v1/chat/completions", "/v1/embeddings", "/v1/moderations"]
CHAT_URL: Endpoint = "/v1/chat/completions"
EMBEDDINGS_URL: Endpoint = "/v1/embeddings"
MODERATIONS_URL: Endpoint = "/v1/moderations"
ENDPOINTS: Mapping[str, Endpoint] = {"chat": CHAT_URL, "embed": EMBEDDINGS_URL,
                                     "moderation": MODERATIONS_URL}
"""A job's endpoint by its requests' kind (a job names one)."""

MISTRAL_STATUSES: Mapping[str, JobState] = {
    "QUEUED": JobState.QUEUED,
    "RUNNING": JobState.RUNNING,
    "SUCCESS": JobState.COMPLETED,
    "FAILED": JobState.FAILED,
    "TIMEOUT_EXCEEDED": JobState.EXPIRED,
    "CANCELLATION_REQUESTED": JobState.CANCELLING,
    "CANCELLED": JobState.CANCELLED,
}
"""The seven ``BatchJobStatus`` values of the spec. ``SUCCESS`` means the job ran, not that every
request did: per-request failures are in the error file. ``TIMEOUT_EXCEEDED`` is the job's
``timeout_hours`` running out, batchkit's ``expired``: what finished has results."""

CHAT_FIELDS = frozenset({
    "model", "temperature", "top_p", "max_tokens", "stream", "stop", "random_seed", "metadata",
    "messages", "response_format", "tools", "tool_choice", "presence_penalty",
    "frequency_penalty", "n", "prediction", "parallel_tool_calls", "reasoning_effort",
    "prompt_mode", "guardrails", "prompt_cache_key", "service_tier", "safe_prompt",
})
"""Every property of the spec's ``ChatCompletionRequest`` (a test compares the two)."""
EMBED_FIELDS = frozenset({
    "model", "metadata", "input", "output_dimension", "output_dtype", "encoding_format",
})
"""Every property of the spec's ``EmbeddingRequest``."""
MODERATION_FIELDS = frozenset({"model", "input", "metadata"})
"""Every property of the spec's ``ClassificationRequest`` (what ``/v1/moderations`` takes)."""

MAX_TEMPERATURE = 1.5
"""``ChatCompletionRequest.temperature`` has ``maximum: 1.5`` (OpenAI allows 2)."""

_RENAMED = {
    "max_completion_tokens": "use max_tokens= (Mistral has no max_completion_tokens)",
    "seed": "use seed= (sent as Mistral's random_seed)",
    "dimensions": "use dimensions= (sent as Mistral's output_dimension)",
}


# -- encode ----------------------------------------------------------------------------------


def encode_line(request: Request, custom_id: str) -> bytes:
    """One JSONL line (no newline). The model is left out: it is named once on the job."""
    return orjson.dumps({"custom_id": custom_id, "body": request_body(request)})


def request_body(request: Request) -> dict[str, Any]:
    """The endpoint body for ``request``; the raw params for Mistral (:func:`mistral_params`)
    are merged last, as the vendor escape hatch.

    ``metadata`` is never sent (the body's own ``metadata`` field is Mistral's, not the
    caller's row data), and ``EmbedRequest.input_type`` is dropped: Mistral's embedding models
    take no query/document hint, and refusing it would break moving a job between vendors.
    Tools, tool calls, documents, reasoning and response formats are spelt by :mod:`.features`.
    """
    body: dict[str, Any] = {}
    if isinstance(request, EmbedRequest):
        body["input"] = request.text if request.texts is None else request.texts
        _put(body, "output_dimension", request.dimensions)
    elif isinstance(request, ModerationRequest):
        body["input"] = request.text if request.texts is None else request.texts
    else:
        names = {c.id: c.name for m in request.messages for c in m.tool_calls or ()}
        body["messages"] = [features.message(m, names) for m in request.messages]
        _put(body, "max_tokens", request.max_tokens)
        _put(body, "temperature", request.temperature)
        _put(body, "top_p", request.top_p)
        _put(body, "stop", request.stop)
        _put(body, "random_seed", request.seed)
        if request.tools:
            body["tools"] = features.tools(request)
        if request.tool_choice is not None:
            body["tool_choice"] = features.tool_choice(request.tool_choice)
        _put(body, "parallel_tool_calls", request.parallel_tool_calls)
        if request.n is not None and request.n > 1:
            body["n"] = request.n
        _put(body, "reasoning_effort", features.reasoning_effort(request))
        if request.response_model is not None:
            body["response_format"] = response_format(request.response_model)
        _put(body, "response_format", features.response_format_for(request))
    body.update(mistral_params(request))
    return body


def mistral_params(request: Request) -> dict[str, Any]:
    """The raw params for Mistral's line: unscoped ones and ``params["mistral"]``; another
    vendor's scope is left out, and an unscoped field Mistral's schema lacks is refused."""
    if not request.params:  # most rows: nothing to scope, so no registry lookup per row
        return {}
    from ..._registry import available_providers

    vendors = [name for name, _, _ in available_providers()]
    return vendor_params(request, "mistral", vendors, _FIELDS[request.kind][0])


def _put(body: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        body[key] = value


@cache
def response_format(model: type[BaseModel]) -> dict[str, Any]:
    """``response_format`` for a response model, built as the ``mistralai`` SDK builds it.

    The SDK's own ``response_format_from_pydantic_model`` (used by ``client.chat.parse``) sends
    the pydantic schema with every object closed and ``strict: true``, named after the class; a
    test checks this function gives the same dict, so the pure codec needs no SDK. Unlike
    OpenAI's strict mode, Mistral's does not ask for every property to be required. Computed
    once per class: treat the result as read-only.
    """
    return {
        "type": "json_schema",
        "json_schema": {
            "name": model.__name__,
            "schema": closed_schema(model.model_json_schema()),
            "strict": True,
        },
    }


def closed_schema(node: Any) -> Any:
    """A copy of a JSON schema with ``additionalProperties: false`` on every object."""
    if isinstance(node, dict):
        out = {key: closed_schema(value) for key, value in node.items()}
        if out.get("type") == "object":
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [closed_schema(value) for value in node]
    return node


# -- check -----------------------------------------------------------------------------------


def check_request(request: Request) -> None:
    """Raise ``InvalidRequestError`` for what Mistral's request schema would refuse (failing the
    line after the job was paid for) or what batchkit would silently lose."""
    cid = request.custom_id

    def fail(rule: str) -> NoReturn:
        raise InvalidRequestError(rule, custom_id=cid)

    fields, schema = _FIELDS[request.kind]
    scoped = request.params.get("mistral")
    raw = {**request.params, **(scoped if isinstance(scoped, Mapping) else {})}
    for key in raw:
        if key == "model":
            fail("params must not set 'model'; choose it in the provider string")
        if key == "stream":
            fail("batch APIs reject 'stream'; remove it from params")
        if key == "input" and request.kind != "chat":
            fail("params must not set 'input'; use one EmbedRequest per text")
        if key in _RENAMED:
            fail(f"params {key!r} is not a field of Mistral's {schema}: {_RENAMED[key]}")
    for key in scoped if isinstance(scoped, Mapping) else ():
        if key not in fields:
            fail(f"params['mistral'] {key!r} is not a field of Mistral's {schema}: Mistral's "
                 f"{schema} refuses unknown fields")
    mistral_params(request)
    if not isinstance(request, ChatRequest):
        return
    if request.temperature is not None and request.temperature > MAX_TEMPERATURE:
        fail(f"Mistral allows temperature up to {MAX_TEMPERATURE}, got {request.temperature}")
    if request.seed is not None and request.seed < 0:
        fail("Mistral's random_seed must be >= 0")
    for m in request.messages:
        if m.role == "system" and any(not isinstance(p, TextPart) for p in m.parts):
            fail("Mistral system messages take text only; put images and documents in a "
                 "user message")
    _check_features(request, fail)
    if request.response_model is not None:
        where = _free_form_field(request.response_model)
        if where is not None:
            fail(f"response_model field {where} is a free-form dict: Mistral's strict "
                 "json_schema closes every object (additionalProperties: false), so it would "
                 "always come back empty; use a model with named fields")


_FIELDS: Mapping[str, tuple[frozenset[str], str]] = {
    "chat": (CHAT_FIELDS, "ChatCompletionRequest"), "embed": (EMBED_FIELDS, "EmbeddingRequest"),
    "moderation": (MODERATION_FIELDS, "ClassificationRequest"),
}
"""Per request kind, the fields of Mistral's request schema and the schema's name."""


@cache
def _free_form_field(model: type[BaseModel]) -> str | None:
    """Where ``model``'s schema has a free-form dict, once per class: building a model's JSON
    schema takes about as long as encoding a thousand lines."""
    return _free_form_object(model.model_json_schema(), "$")


def _check_features(request: ChatRequest, fail: Callable[[str], NoReturn]) -> None:
    """What Mistral's spelling of the v2 features cannot carry."""
    reasoning = request.reasoning
    if reasoning is not None and not reasoning.off and reasoning.effort is None:
        fail("Mistral takes a reasoning effort level (reasoning='low' ... 'high'), not a token "
             "budget")
    for m in request.messages:
        for part in m.parts:
            if isinstance(part, DocumentPart) and part.file_id is not None and \
                    not _UUID.match(part.file_id):
                fail(f"a document file_id for Mistral is the id of a file uploaded to its Files "
                     f"API (a UUID), not {part.file_id!r}")


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}$")


def _free_form_object(node: Any, path: str) -> str | None:
    """The path of the first object schema that allows extra keys, or None."""
    if isinstance(node, dict):
        if node.get("type") == "object" and node.get("additionalProperties", False) is not False:
            return path
        for key, value in node.items():
            found = _free_form_object(value, path if key in ("properties", "$defs")
                                      else f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(node, list):
        for value in node:
            found = _free_form_object(value, path)
            if found is not None:
                return found
    return None


# -- decode ----------------------------------------------------------------------------------


def decode_line(line: bytes | str) -> Result:
    """One output- or error-file line -> a Result whose ``custom_id`` is the vendor id.

    Successful lines are the OpenAI family's; a failed line's error is re-read in Mistral's
    shapes (an ``error`` that is a string, a body whose ``message`` is a 422 ``detail`` list).
    Raises ``ValueError`` only for a line that is neither a result nor an error.
    """
    try:
        result = decode_openai_line(line)
    except ValueError:
        obj, cid = load_line(line, "Mistral batch result")
        info = _line_error(obj)
        if info is None:
            raise
        return Result(cid, "errored", error=info, raw=obj)
    if result.status == "errored":
        obj, _ = load_line(line, "Mistral batch result")
        info, generic = _line_error(obj), result.error
        if info is not None and generic is not None and generic.retryable:
            # the family's reading knows which top-level codes pass (a timeout, a 5xx)
            info = dataclasses.replace(info, retryable=True)
        result.error = info or generic
    return features.with_mistral_reading(result)


def _line_error(obj: Mapping[str, Any]) -> ErrorInfo | None:
    error = obj.get("error")
    if isinstance(error, str) and error:
        return ErrorInfo("error", error)
    if isinstance(error, dict):
        code = error.get("type") or error.get("code") or "error"
        return ErrorInfo(str(code), error_message(error.get("message", error.get("detail"))))
    response = obj.get("response")
    if not isinstance(response, dict) or not isinstance(response.get("status_code"), int):
        return None
    status: int = response["status_code"]
    if 200 <= status < 300:
        return None
    body = response.get("body")
    if isinstance(body, dict):
        # Mistral's "type" names the problem ("invalid_model"); its "code" is a bare number.
        code = body.get("type") or body.get("code") or f"http_{status}"
        message = error_message(body.get("message", body.get("detail")))
    else:
        code, message = f"http_{status}", error_message(body)
    retryable = status in (408, 409, 429) or status >= 500
    return ErrorInfo(str(code), message, retryable=retryable, http_status=status)


def error_message(value: Any) -> str:
    """A Mistral error ``message`` on one line: a string, or a 422 ``{"detail": [...]}``
    validation report (also shared by the adapter for HTTP errors) read out as "loc: msg"."""
    if isinstance(value, dict) and "detail" in value:
        value = value["detail"]
    if isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, dict):
                where = ".".join(str(p) for p in item.get("loc") or [])
                parts.append(f"{where}: {item.get('msg', '')}" if where else str(item.get("msg")))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return "" if value is None else str(value)[:500]


# -- status ----------------------------------------------------------------------------------


def map_status(job: Mapping[str, Any]) -> RemoteStatus:
    """A ``BatchJob`` (as a dict) -> RemoteStatus. An unknown status raises ``ProviderError``:
    guessing would let a job sit forever or be collected before it is done.

    The job's ``errors`` (``[{message, count}]``, no line numbers) are reported as validation
    errors only when the job ``FAILED``; on other statuses they stay in ``raw``.
    """
    status = job.get("status")
    if not isinstance(status, str) or status not in MISTRAL_STATUSES:
        raise ProviderError(
            f"Mistral batch job {job.get('id')!r} has status {status!r}, which batchkit does "
            f"not know (known: {', '.join(MISTRAL_STATUSES)}); please upgrade or report it"
        )
    state = MISTRAL_STATUSES[status]
    errors: tuple[LineError, ...] = ()
    if state is JobState.FAILED:
        errors = tuple(
            LineError(None, "batch_failed", _counted(e))
            for e in job.get("errors") or [] if isinstance(e, dict)
        )
    return RemoteStatus(
        state=state,
        vendor_status=status,
        total=job.get("total_requests"),
        succeeded=job.get("succeeded_requests"),
        failed=job.get("failed_requests"),
        errors=errors,
        raw=dict(job),
    )


def _counted(error: Mapping[str, Any]) -> str:
    message = str(error.get("message") or "")
    count = error.get("count")
    return f"{message} ({count} times)" if isinstance(count, int) and count > 1 else message
