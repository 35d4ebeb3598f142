"""The Anthropic Message Batches codec: ids, request lines, result lines, batch status. No I/O.

A batch is created with one JSON body ``{"requests": [{"custom_id", "params"}, ...]}``; batchkit's
shard payload holds one such request object per line, so ``submit`` can join the lines into the
body without parsing them. Results come back as JSONL ``{"custom_id", "result": {"type": ...}}``
with four result types (``succeeded``, ``errored``, ``canceled``, ``expired``), in any order.

Facts come from the ``anthropic`` SDK's types (``batch_create_params``, ``message_batch``,
``message_batch_individual_response``, ``message_create_params``) and the batch-processing guide;
see https://docs.anthropic.com/en/docs/build-with-claude/batch-processing and providers.md. The
Messages shape itself (message blocks, the reply, its usage) is in :mod:`.messages`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any, NoReturn

import orjson
from pydantic import BaseModel

from ..._exceptions import InvalidRequestError, MissingDependencyError, ProviderError
from ..._requests import ChatRequest, EmbedRequest, ModerationRequest, Request
from ..._results import ErrorInfo, Result
from ..._state import JobState
from .._capabilities import NO_MODERATION, vendor_params
from .._ids import HASH_CHARS, escaped_id
from .._lines import load_line
from ..base import RemoteStatus
from .features import check_features, encode_thinking, encode_tools, strict_schema
from .messages import DEFAULT_MAX_TOKENS, check_messages, encode_messages, encode_system
from .reply import decode_message

__all__ = [
    "ID_PATTERN",
    "check_request",
    "decode_line",
    "encode_request",
    "ended_state",
    "map_status",
    "vendor_id",
    "vendor_ids",
]

ID_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
"""What Anthropic accepts as a ``custom_id`` (SDK docs and the batch-processing guide)."""
_SLUG_CHARS = 64 - len("bk--") - 1 - HASH_CHARS


# -- ids -------------------------------------------------------------------------------------


def vendor_id(custom_id: str) -> str:
    """A ``custom_id`` Anthropic accepts, deterministic and collision-free.

    Safe ids stay readable and unchanged; any other id (too long, non-ASCII, ``/``, spaces, or one
    that starts with the escape prefix) becomes ``bk--<slug>-<hash>``: a readable slug of the
    original followed by 32 hex digits of its SHA-256, which is what makes it unique. The
    orchestrator keeps the mapping in the shard's request index, so results return under the
    caller's ids.
    """
    return escaped_id(custom_id, accepted=ID_PATTERN.match,
                      slug=lambda cid: re.sub(r"[^a-zA-Z0-9_]", "_", cid)[:_SLUG_CHARS])


_ACCEPTED_BYTES = re.compile(rb"(?!bk--)[a-zA-Z0-9_-]{1,64}")
_ALL_ACCEPTED = re.compile(rb"(?:(?!bk--)[a-zA-Z0-9_-]{1,64}\n)*")


def vendor_ids(raw_ids: list[bytes]) -> list[bytes]:
    """:func:`vendor_id` of many ids at once, each given and returned as its UTF-8 bytes (a
    conversion's splice asks for a block of ids at a time). When Anthropic takes them all (most
    files), one regex pass over them joined by newlines says so (an id holding a newline shows
    as one newline too many); else each id passes one regex test on its bytes or goes through
    :func:`vendor_id`."""
    joined = b"\n".join(raw_ids) + b"\n"
    if _ALL_ACCEPTED.fullmatch(joined) and joined.count(b"\n") == len(raw_ids):
        return raw_ids
    accepted = _ACCEPTED_BYTES.fullmatch
    return [raw if accepted(raw) else vendor_id(raw.decode()).encode() for raw in raw_ids]


# -- encode ----------------------------------------------------------------------------------


@cache
def _schema_cached(model: type[BaseModel]) -> dict[str, Any]:
    """The schema sent as ``output_config.format`` for a response model (shared: read-only).

    The SDK's own ``transform_schema`` makes it acceptable to structured outputs (closed objects,
    supported formats; unsupported constraints move into descriptions). pydantic still validates
    the reply against the full model afterwards, so nothing is lost by that loosening.
    """
    try:
        from anthropic import transform_schema
    except ImportError:
        raise MissingDependencyError(
            'structured output for anthropic needs its SDK: pip install "batchkit[anthropic]"'
        ) from None
    return transform_schema(model)


def check_request(request: Request, options: Mapping[str, Any]) -> None:
    """Raise ``InvalidRequestError`` for what Anthropic would reject or batchkit would lose.

    The Messages API as the ``anthropic`` SDK (2.11) describes it has no sampling parameters:
    ``MessageCreateParams`` has no ``temperature``, ``top_p`` or ``top_k``, and the vendor
    rejects unknown fields. A request that sets one is refused here rather than failing line
    by line after a paid upload; ``options["drop_sampling"]`` sends it without them instead.
    """
    cid = request.custom_id

    def fail(rule: str) -> NoReturn:
        raise InvalidRequestError(rule, custom_id=cid)

    if isinstance(request, EmbedRequest):
        fail("anthropic has no embeddings API; send EmbedRequests to another provider")
    if isinstance(request, ModerationRequest):
        fail(f"anthropic: {NO_MODERATION}")
    scoped = request.params.get("anthropic")
    given = {*request.params, *(scoped if isinstance(scoped, Mapping) else ())}
    for key, rule in _PARAM_RULES.items():
        if key in given:
            fail(rule)
    sampling = [k for k in ("temperature", "top_p") if getattr(request, k) is not None]
    if sampling and not options.get("drop_sampling"):
        fail(f"anthropic's Messages API takes no {' or '.join(sampling)} (no sampling "
             "parameters); remove it, or pass the option drop_sampling=true to send without it")
    if request.seed is not None:
        fail("anthropic has no 'seed'; remove it for this provider")
    check_messages(request, fail, links=True)
    check_features(request, fail)
    if (request.response_model or request.response_schema) and "output_config" in given:
        fail("params 'output_config' would replace the response format's output_config")
    request_params(request)


def request_params(request: Request) -> dict[str, Any]:
    """The request's raw ``params`` for an Anthropic line (unscoped fields must be Messages API
    fields; ``params={"anthropic": {...}}`` is Anthropic's alone)."""
    if not request.params:
        return {}
    from ..._registry import available_providers

    vendors = [name for name, _, _ in available_providers()]
    return vendor_params(request, "anthropic", vendors, _known_fields())


@cache
def _known_fields() -> frozenset[str] | None:
    """The Messages request's fields, from the SDK's own type (None: SDK absent, unchecked)."""
    try:
        from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
    except ImportError:
        return None
    return frozenset(MessageCreateParamsNonStreaming.__annotations__) - {"stream"}


_PARAM_RULES = {
    "model": "params must not set 'model'; choose it in the provider string",
    "stream": "batch APIs reject 'stream'; remove it from params",
}


def encode_request(
    request: ChatRequest, custom_id: str, model: str, options: Mapping[str, Any]
) -> bytes:
    """One request object (no newline): ``{"custom_id", "params"}``; ``params`` merged last."""
    max_tokens = request.max_tokens or int(options.get("max_tokens") or DEFAULT_MAX_TOKENS)
    thinking, max_tokens = encode_thinking(request, max_tokens)
    params: dict[str, Any] = {"model": model, "max_tokens": max_tokens,
                              "messages": encode_messages(request.messages)}
    # Identical cached prefixes in every request are what the vendor recommends for batches;
    # the cache_system option's marker on the system block caches tools + system.
    _put(params, "system", encode_system(request, cache_all=bool(options.get("cache_system"))))
    _put(params, "stop_sequences", request.stop)
    if request.tools or request.tool_choice is not None:  # else encode_tools adds nothing
        params.update(encode_tools(request, strict=True))
    _put(params, "thinking", thinking)
    if request.response_model is not None:
        params["output_config"] = _output_config(request.response_model)
    elif request.response_schema is not None:
        params["output_config"] = {"format": {"type": "json_schema",
                                              "schema": strict_schema(request.response_schema)}}
    if request.params:
        params.update(request_params(request))
    return orjson.dumps({"custom_id": custom_id, "params": params})


@cache
def _output_config(model: type[BaseModel]) -> orjson.Fragment:
    """``output_config`` for a response model, serialized once per class and spliced into every
    line as bytes: the schema is most of a structured line, and the same in all of them."""
    schema = _schema_cached(model)
    return orjson.Fragment(orjson.dumps({"format": {"type": "json_schema", "schema": schema}}))


def _put(body: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        body[key] = value


# -- decode ----------------------------------------------------------------------------------

_RETRYABLE = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error"})
_HTTP_STATUS = {
    "invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
    "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
    "rate_limit_error": 429, "api_error": 500, "timeout_error": 504, "overloaded_error": 529,
}
_NOT_RUN = {
    "canceled": ("cancelled", "batch_cancelled",
                 "The request was not run because the batch was cancelled."),
    "expired": ("expired", "batch_expired",
                "The request was not run before the batch's 24 hour window ended."),
}


def decode_line(line: bytes | str) -> Result:
    """One results line -> a Result under the vendor id. Raises ``ValueError`` only for lines
    Anthropic could not have sent."""
    obj, cid = load_line(line, "batch results")
    result = obj.get("result")
    kind = result.get("type") if isinstance(result, dict) else None
    if kind == "succeeded" and isinstance(result, dict):
        return decode_message(cid, result.get("message"), obj)
    if kind == "errored" and isinstance(result, dict):
        return Result(cid, "errored", error=_error(result.get("error")), raw=obj)
    if kind in _NOT_RUN:
        status, code, message = _NOT_RUN[str(kind)]
        return Result(cid, status, raw=obj,  # type: ignore[arg-type]
                      error=ErrorInfo(code, message, retryable=True))
    raise ValueError(f"line for {cid!r}: unknown result type {kind!r}")


def _error(response: Any) -> ErrorInfo:
    err = response.get("error") if isinstance(response, dict) else None
    if not isinstance(err, dict):
        return ErrorInfo("unknown_error", str(response)[:500])
    kind = str(err.get("type") or "unknown_error")
    return ErrorInfo(kind, str(err.get("message") or ""), retryable=kind in _RETRYABLE,
                     http_status=_HTTP_STATUS.get(kind))


# -- status ----------------------------------------------------------------------------------

_STATUSES = {"in_progress": JobState.RUNNING, "canceling": JobState.CANCELLING}


def ended_state(counts: Mapping[str, Any]) -> JobState:
    """What an ``ended`` batch means, from its request counts.

    Any canceled request -> cancelled (someone cancelled it); else any expired request ->
    expired (the 24 h window closed); else completed, errored requests included (they are
    per-request failures with their own results). A cancel that came too late to stop anything
    leaves no canceled request and therefore reads as completed, which is what happened.
    """
    if counts.get("canceled"):
        return JobState.CANCELLED
    if counts.get("expired"):
        return JobState.EXPIRED
    return JobState.COMPLETED


def map_status(batch: Mapping[str, Any]) -> RemoteStatus:
    """A ``MessageBatch`` (as a dict) -> RemoteStatus. An unknown status raises ``ProviderError``
    rather than guessing whether the batch is done."""
    vendor_status = batch.get("processing_status")
    counts = batch.get("request_counts") or {}
    if vendor_status == "ended":
        state = ended_state(counts)
    elif isinstance(vendor_status, str) and vendor_status in _STATUSES:
        state = _STATUSES[vendor_status]
    else:
        raise ProviderError(
            f"batch {batch.get('id')!r} has processing_status {vendor_status!r}, which batchkit "
            "does not know (known: in_progress, canceling, ended); please upgrade or report it"
        )
    names = ("processing", "succeeded", "errored", "canceled", "expired")
    n = {name: int(counts.get(name) or 0) for name in names}
    return RemoteStatus(
        state=state, vendor_status=vendor_status, total=sum(n.values()),
        succeeded=n["succeeded"], failed=n["errored"] + n["canceled"] + n["expired"],
        raw=dict(batch),
    )
