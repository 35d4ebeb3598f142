"""What both Google batch services send back, read: ``GenerateContentResponse`` and
``google.rpc.Status`` rows, the Gemini API's ``ContentEmbedding`` rows, and job states. No I/O.
The requests they answer are written by :mod:`.codec`; ``gemini`` and ``vertex`` share both.

* :func:`decode_generate_content_response`, :func:`error_result`, :func:`map_finish_reason`,
  :func:`usage_from_metadata`: ``GenerateContentResponse`` / ``google.rpc.Status`` -> Result;
* :func:`decode_embed_content_response`: a ``ContentEmbedding`` row -> Result;
* :func:`map_job_state`: both state vocabularies (``BATCH_STATE_*`` from the Gemini REST API,
  ``JOB_STATE_*`` from google-genai and Vertex AI) -> :class:`JobState`.

Facts: google-genai's own types and ``_transformers.t_job_state``, and
https://ai.google.dev/gemini-api/docs/batch-mode; see providers.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson
from pydantic import BaseModel

from ..._normalize import parse_reply
from ..._results import Choice, ErrorInfo, FinishReason, Result, Usage, finish_reason
from ..._state import JobState
from ..._tools import ToolCall, tool_call_from_raw
from .._lines import load_line

__all__ = [
    "FINISH_REASONS",
    "decode_embed_content_response",
    "decode_generate_content_response",
    "decode_result_line",
    "error_result",
    "map_finish_reason",
    "map_job_state",
    "usage_from_metadata",
]

# -- decode ----------------------------------------------------------------------------------

FINISH_REASONS: dict[str, FinishReason] = {
    "STOP": "stop", "MAX_TOKENS": "length",
    "SAFETY": "content_filter", "RECITATION": "content_filter", "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter", "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter", "LANGUAGE": "content_filter",
    "MALFORMED_FUNCTION_CALL": "tool_calls", "UNEXPECTED_TOOL_CALL": "tool_calls",
    "TOO_MANY_TOOL_CALLS": "tool_calls",
}
"""``Candidate.finishReason`` (google-genai ``types.FinishReason``) in batchkit's words; any
other reason (``OTHER``, ``NO_IMAGE``, ...) is ``other``, the vendor's word kept beside it."""


def map_finish_reason(reason: str | None) -> str | None:
    """A ``Candidate.finishReason`` in batchkit's vocabulary (``stop``, ``length``,
    ``content_filter``, ``tool_calls``, ``other``), so one job reads the same on every vendor;
    None when Gemini said nothing (or ``FINISH_REASON_UNSPECIFIED``)."""
    if not reason or reason == "FINISH_REASON_UNSPECIFIED":
        return None
    return finish_reason(reason, FINISH_REASONS)


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
    * A candidate: ``succeeded``; ``text`` joins the first candidate's text parts, thought
      summaries (``thought: true``) going to ``reasoning``; ``functionCall`` parts become
      ``tool_calls`` (``finish_reason`` ``tool_calls``); more than one candidate (``n``) fills
      ``choices``; ``logprobsResult`` fills ``logprobs``. A candidate stopped by a safety filter
      with nothing in it is still ``succeeded`` (it was billed) with ``error.code ==
      "content_filter"``.
    * ``response_model``: the text is parsed into ``parsed``; a reply that does not fit leaves
      ``parse_error`` instead of raising, by the normalizer's own rule (``parse_reply``), for
      callers that have the class at hand.

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
    choices = [_choice(c, i) for i, c in enumerate(candidates) if isinstance(c, Mapping)]
    if not choices:
        return Result(custom_id, "errored", usage=usage, raw=raw, error=ErrorInfo(
            "no_candidates", "the response has no readable candidate", retryable=True))
    first = choices[0]
    error = None
    if first.finish_reason == "content_filter" and not first.text and not first.tool_calls:
        error = ErrorInfo("content_filter",
                          f"the reply was stopped ({first.vendor_finish_reason})")
    result = Result(custom_id, "succeeded", text=first.text, finish_reason=first.finish_reason,
                    usage=usage, error=error, raw=raw, tool_calls=first.tool_calls,
                    reasoning=_thoughts(candidates[0]), logprobs=first.logprobs,
                    vendor_finish_reason=first.vendor_finish_reason,
                    choices=choices if len(choices) > 1 else None)
    if response_model is not None:
        parse_reply(result, response_model)
    return result


def _parts(candidate: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    content = candidate.get("content")
    found = content.get("parts") if isinstance(content, Mapping) else None
    return [p for p in found if isinstance(p, Mapping)] if isinstance(found, list) else []


def _choice(candidate: Mapping[str, Any], position: int) -> Choice:
    """One candidate: its answer text (thought summaries left out), its function calls and its
    log probabilities. Gemini may leave a call's ``id`` out; the call then gets
    ``call_<n>`` (its place among the candidate's calls), stable across re-reads."""
    parts = _parts(candidate)
    texts = [str(p["text"]) for p in parts if "text" in p and not p.get("thought")]
    calls: list[ToolCall] = []
    for part in parts:
        call = part.get("functionCall")
        if isinstance(call, Mapping):
            call_id = call.get("id") or f"call_{len(calls)}"
            args = call.get("args")
            calls.append(tool_call_from_raw(str(call_id), str(call.get("name") or ""),
                                            args if isinstance(args, Mapping) else None))
    raw_reason = candidate.get("finishReason")
    vendor_reason = raw_reason if isinstance(raw_reason, str) else None
    finish = map_finish_reason(vendor_reason)
    if calls and finish == "stop":
        finish = "tool_calls"  # Gemini ends a turn of function calls with STOP
    index = candidate.get("index")
    return Choice(index=index if isinstance(index, int) else position,
                  text="".join(texts) if texts else None, tool_calls=calls,
                  finish_reason=finish, vendor_finish_reason=vendor_reason,
                  logprobs=_logprobs(candidate.get("logprobsResult")))


def _thoughts(candidate: Any) -> str | None:
    """The thought summaries (``thought: true`` parts) Gemini returns with ``includeThoughts``."""
    if not isinstance(candidate, Mapping):
        return None
    thoughts = [str(p["text"]) for p in _parts(candidate) if p.get("thought") and "text" in p]
    return "".join(thoughts) if thoughts else None


def _logprobs(found: Any) -> list[dict[str, Any]] | None:
    """``logprobsResult``: ``chosenCandidates`` (one per output token) beside
    ``topCandidates`` (the alternatives at the same step) -> batchkit's per-token list."""
    if not isinstance(found, Mapping) or not isinstance(found.get("chosenCandidates"), list):
        return None
    tops = found.get("topCandidates")
    tops = tops if isinstance(tops, list) else []
    out = []
    for step, chosen in enumerate(found["chosenCandidates"]):
        if not isinstance(chosen, Mapping):
            continue
        top = tops[step].get("candidates") if step < len(tops) and \
            isinstance(tops[step], Mapping) else None
        out.append({"token": chosen.get("token"), "logprob": chosen.get("logProbability"),
                    "top_logprobs": [{"token": t.get("token"), "logprob": t.get("logProbability")}
                                     for t in top or () if isinstance(t, Mapping)]})
    return out


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


def decode_result_line(line: bytes | str) -> Result:
    """A Gemini API results line -> a Result under its key: ``{"key", "response"}`` or
    ``{"key", "error"}`` from a responses file, or an inline response as the SDK's
    ``InlinedResponse`` saves it (the key in ``metadata.key``). A response with an
    ``embedding`` is an embedding result, any other a ``GenerateContentResponse``."""
    obj, key = _result_line(line)
    if obj.get("error") is not None:
        return error_result(key, obj["error"], raw=obj)
    response = obj.get("response")
    if not isinstance(response, dict):
        raise ValueError(f"line for {key!r}: neither a response nor an error")
    if "embedding" in response:
        return decode_embed_content_response(key, response, raw=obj)
    return decode_generate_content_response(key, response, raw=obj)


def _result_line(line: bytes | str) -> tuple[dict[str, Any], str]:
    try:
        return load_line(line, "Gemini batch results", id_field="key")
    except ValueError as exc:
        not_a_results_line = exc
    obj = orjson.loads(line)
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    key = metadata.get("key") if isinstance(metadata, dict) else None
    if not isinstance(key, str):
        raise not_a_results_line
    return obj, key


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
    tokens = response.get("tokenCount")  # int64: JSON may carry it as a string
    if usage is None and isinstance(tokens, (int, str)) and str(tokens).isdigit():
        usage = Usage(input_tokens=int(tokens))
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

