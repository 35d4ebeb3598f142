"""What the OpenAI-shaped batch vendors send back, read: result lines (output and error files)
and batch statuses. Pure: no SDK, no I/O.

OpenAI, Azure, Groq and Together (and Mistral's chat and embedding rows) answer with
``{"id", "custom_id", "response": {"status_code", "body"}, "error"}`` lines and report a batch
object whose ``status`` is one of the same eight words (Together spells its own), so one decoder
and one status mapping serve the family. Facts: the OpenAI OpenAPI spec (``Batch``,
``BatchRequestOutput``) and https://platform.openai.com/docs/guides/batch.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from ..._exceptions import ProviderError
from ..._results import (
    Choice,
    ErrorInfo,
    FinishReason,
    Moderation,
    Result,
    ResultStatus,
    Usage,
    finish_reason,
)
from ..._state import JobState
from ..._tools import ToolCall, tool_call_from_raw
from .._lines import load_line, matched_text
from ..base import LineError, RemoteStatus

__all__ = ["OPENAI_STATUSES", "decode_line", "line_id", "map_status", "moderations"]

OPENAI_STATUSES: Mapping[str, JobState] = {
    "validating": JobState.VALIDATING,
    "in_progress": JobState.RUNNING,
    "finalizing": JobState.FINALIZING,
    "completed": JobState.COMPLETED,
    "failed": JobState.FAILED,
    "expired": JobState.EXPIRED,
    "cancelling": JobState.CANCELLING,
    "cancelled": JobState.CANCELLED,
}
"""The eight ``Batch.status`` values of the OpenAI spec (Azure and Groq use the same eight).
A vendor with its own names passes its table to :func:`map_status`."""


# -- decode ----------------------------------------------------------------------------------

# Top-level (non-HTTP) error codes that a resubmission may cure.
_RETRYABLE_CODES = frozenset({"batch_expired", "server_error", "timeout", "rate_limit_exceeded",
                              "internal_error"})
_TOP_LEVEL_STATUS: Mapping[str, Literal["expired", "cancelled"]] = {
    "batch_expired": "expired", "batch_cancelled": "cancelled",
}


def decode_line(line: bytes | str) -> Result:
    """One output- or error-file line -> a Result whose ``custom_id`` is the vendor id.

    Never raises on a line the vendor could send; raises ``ValueError`` for anything else.
    For embeddings, ``raw`` keeps the line without its vectors (they are in ``embedding``):
    a million Python float lists would dwarf the numpy arrays.
    """
    obj, cid = load_line(line, "batch output")
    if obj.get("error") is not None:
        return _top_level_error(cid, obj)
    response = obj.get("response")
    if not isinstance(response, dict) or type(response.get("status_code")) is not int:
        raise ValueError(f"line for {cid!r} has neither an error nor a response status_code")
    status: int = response["status_code"]
    body = response.get("body")
    if not 200 <= status < 300:
        return Result(cid, "errored", error=_http_error(status, body), raw=obj)
    if not isinstance(body, dict):
        raise ValueError(f"line for {cid!r} has status {status} but no body object")
    if "choices" in body:
        return _chat_result(cid, body, obj)
    if "output" in body or body.get("object") == "response":
        return _responses_result(cid, body, obj)
    if "data" in body:
        return _embedding_result(cid, body, obj)
    if "results" in body:
        return Result(cid, "succeeded", moderation=moderations(cid, body["results"]),
                      usage=_usage(body.get("usage")), raw=obj)
    raise ValueError(f"line for {cid!r}: unrecognised response body")


_LEADING_ID = re.compile(
    rb'\{\s*(?:"id"\s*:\s*"[^"\\\x00-\x1f]*"\s*,\s*)?"custom_id"\s*:\s*"([^"\\\x00-\x1f]*)"')
"""A line's opening ``{"id": "...", "custom_id": "..."`` (``id`` optional), as the family writes
it: nothing nested comes before, so this ``custom_id`` is the top-level one. Ids with escapes
are left to :func:`decode_line`."""


def line_id(line: bytes) -> str | None:
    """The ``custom_id`` :func:`decode_line` would give ``line``, read from the line's first
    bytes without parsing the rest (an embedding line is mostly 1,536 floats), or None when
    the line does not open as the family writes it (then it must be decoded to be known).

    A line that opens well but is broken further on is thereby that request's row: decoding
    it gives the request a ``malformed_line`` result holding the line."""
    return matched_text(_LEADING_ID.match(line))


def _top_level_error(cid: str, obj: dict[str, Any]) -> Result:
    err = obj["error"]
    if not isinstance(err, dict):
        raise ValueError(f"line for {cid!r}: 'error' is not an object")
    code = str(err.get("code") or "unknown_error")
    status: ResultStatus = _TOP_LEVEL_STATUS.get(code, "errored")
    info = ErrorInfo(code, str(err.get("message") or ""), retryable=code in _RETRYABLE_CODES)
    return Result(cid, status, error=info, raw=obj)


def _http_error(status: int, body: Any) -> ErrorInfo:
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        code = err.get("code") or err.get("type") or f"http_{status}"
        message = err.get("message") or ""
    else:
        code, message = f"http_{status}", "" if body is None else str(body)[:500]
    retryable = status in (408, 409, 429) or status >= 500
    return ErrorInfo(str(code), str(message), retryable=retryable, http_status=status)


CHAT_FINISH: dict[str, FinishReason] = {
    "stop": "stop", "length": "length", "tool_calls": "tool_calls", "function_call":
    "tool_calls", "content_filter": "content_filter", "eos": "stop",
}
"""Chat ``finish_reason`` words in batchkit's: OpenAI's five (Groq uses the same) and
Together's ``eos`` (end of sequence: the model stopped by itself; the together SDK's
``ChatCompletion`` choice type)."""


def _chat_result(cid: str, body: dict[str, Any], obj: dict[str, Any]) -> Result:
    choices = body["choices"]
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ValueError(f"line for {cid!r}: 'choices' is empty")
    decoded = [_chat_choice(i, c) for i, c in enumerate(choices) if isinstance(c, dict)]
    first, message = decoded[0], choices[0].get("message") or {}
    refusal = message.get("refusal") or None
    # Groq and Together put a reasoning model's thinking beside the content.
    reasoning = message.get("reasoning") or message.get("reasoning_content") or None
    return Result(
        cid, "succeeded", text=first.text,
        finish_reason="refusal" if refusal else first.finish_reason,
        vendor_finish_reason=first.vendor_finish_reason, tool_calls=first.tool_calls,
        usage=_usage(body.get("usage")), error=_refusal(refusal), raw=obj,
        refusal=refusal, reasoning=reasoning, logprobs=first.logprobs,
        choices=decoded if len(decoded) > 1 else None,
    )


def _chat_choice(index: int, choice: dict[str, Any]) -> Choice:
    message = choice.get("message") or {}
    content = message.get("content")
    if isinstance(content, list):  # some OpenAI-shaped vendors answer with text chunks
        content = "".join(str(c.get("text") or "") for c in content if isinstance(c, dict))
    calls = [tool_call_from_raw(str(c.get("id") or ""), str(fn.get("name") or ""),
                                fn.get("arguments"))
             for c in message.get("tool_calls") or [] if isinstance(c, dict)
             for fn in [c.get("function") or {}]]
    vendor = choice.get("finish_reason")
    logprobs = choice.get("logprobs")
    tokens = logprobs.get("content") if isinstance(logprobs, dict) else None
    return Choice(index=int(choice.get("index", index)), text=content, tool_calls=calls,
                  finish_reason=finish_reason(vendor, CHAT_FINISH), vendor_finish_reason=vendor,
                  logprobs=_logprobs(tokens) if isinstance(tokens, list) else None)


def _logprobs(tokens: list[Any]) -> list[dict[str, Any]]:
    """Per token ``{token, logprob, top_logprobs: [{token, logprob}]}`` (bytes left out)."""
    return [{"token": t.get("token"), "logprob": t.get("logprob"),
             "top_logprobs": [{"token": a.get("token"), "logprob": a.get("logprob")}
                              for a in t.get("top_logprobs") or [] if isinstance(a, dict)]}
            for t in tokens if isinstance(t, dict)]


def _refusal(refusal: Any) -> ErrorInfo | None:
    """A refusal was run and billed, so the result stays ``succeeded``; ``error`` says why
    there is no text (and no parsed object)."""
    return ErrorInfo("refusal", str(refusal)) if refusal else None


def _responses_result(cid: str, body: dict[str, Any], obj: dict[str, Any]) -> Result:
    if body.get("status") == "failed":
        err = body.get("error") or {}
        info = ErrorInfo(str(err.get("code") or "response_failed"), str(err.get("message") or ""),
                         retryable=err.get("code") in _RETRYABLE_CODES)
        return Result(cid, "errored", error=info, usage=_usage(body.get("usage")), raw=obj)
    texts: list[str] = []
    summaries: list[str] = []
    calls: list[ToolCall] = []
    logprobs: list[dict[str, Any]] = []
    refusal = None
    for item in body.get("output") or []:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "message":
            for part in item.get("content") or []:
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "output_text":
                    texts.append(part.get("text") or "")
                    logprobs.extend(_logprobs(part.get("logprobs") or []))
                elif part.get("type") == "refusal":
                    refusal = part.get("refusal")
        elif kind == "function_call":
            calls.append(tool_call_from_raw(str(item.get("call_id") or ""),
                                            str(item.get("name") or ""), item.get("arguments")))
        elif kind == "reasoning":
            summaries.extend(str(s.get("text") or "") for s in item.get("summary") or []
                             if isinstance(s, dict))
    # In the chat vocabulary, so one job reads the same on either endpoint; the vendor's own
    # word is the response status or its incomplete reason.
    reason = (body.get("incomplete_details") or {}).get("reason")
    vendor = reason or body.get("status")
    finish: str | None = {"max_output_tokens": "length", "content_filter": "content_filter"
                          }.get(reason, "other") if reason else "stop"
    if refusal:
        finish = "refusal"
    elif calls and not reason:
        finish = "tool_calls"
    return Result(cid, "succeeded", text="".join(texts) if texts else None, finish_reason=finish,
                  vendor_finish_reason=vendor, usage=_usage(body.get("usage")),
                  error=_refusal(refusal), raw=obj, refusal=refusal, tool_calls=calls,
                  reasoning="\n\n".join(summaries) if summaries else None,
                  logprobs=logprobs or None)


def _embedding_result(cid: str, body: dict[str, Any], obj: dict[str, Any]) -> Result:
    """One vector for a line of one text; a ``(k, d)`` matrix in ``index`` order for a line of
    ``k`` texts (a list ``input``)."""
    data = body["data"]
    if not isinstance(data, list) or not data or not all(isinstance(d, dict) for d in data):
        raise ValueError(f"line for {cid!r}: expected a list of embedding objects")
    if len(data) == 1:
        arr = _vector(cid, data[0].get("embedding"))
    else:
        ordered = sorted(data, key=lambda d: d.get("index") if type(d.get("index")) is int
                         else -1)
        if [d.get("index") for d in ordered] != list(range(len(data))):
            raise ValueError(f"line for {cid!r}: embedding indexes are not 0..{len(data) - 1}")
        arr = np.stack([_vector(cid, d.get("embedding")) for d in ordered])
    for d in data:  # the line was parsed for this result alone: slimmed where it lies
        d.pop("embedding", None)
    return Result(cid, "succeeded", embedding=arr, usage=_usage(body.get("usage")), raw=obj)


def _vector(cid: str, vector: Any) -> np.ndarray:
    if isinstance(vector, str):  # encoding_format="base64": little-endian float32 bytes
        return np.frombuffer(base64.b64decode(vector), dtype="<f4").astype(np.float32)
    if isinstance(vector, list):
        return _float32_vector(vector)
    raise ValueError(f"line for {cid!r}: embedding is neither a list nor base64")


def moderations(cid: str, results: Any) -> list[Moderation]:
    """A moderation body's ``results``, one per input text. OpenAI says ``flagged``; Mistral
    gives only the categories, so a text is flagged when any category is."""
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise ValueError(f"line for {cid!r}: moderation 'results' is not a list of objects")
    verdicts = []
    for one in results:
        categories = {str(k): bool(v) for k, v in (one.get("categories") or {}).items()}
        scores = {str(k): float(v) for k, v in (one.get("category_scores") or {}).items()
                  if isinstance(v, int | float)}
        flagged = one.get("flagged")
        verdicts.append(Moderation(flagged=bool(flagged) if flagged is not None
                                   else any(categories.values()),
                                   categories=categories, category_scores=scores))
    return verdicts


def _float32_vector(vector: list[Any]) -> np.ndarray:
    """A JSON list of floats as float32, without ``np.asarray``'s generic list inspection.

    With ``count`` known, ``np.fromiter`` converts element by element straight into the
    result, about twice as fast as ``np.asarray`` for a 1,536-float list (the conversion is
    otherwise a third of decoding an embedding line); each float rounds the same way.
    Anything but a flat list of numbers (nested lists) is left to ``np.asarray`` so the result,
    or the error, is what it always was.
    """
    try:
        return np.fromiter(vector, dtype=np.float32, count=len(vector))
    except (TypeError, ValueError):
        return np.asarray(vector, dtype=np.float32)


def _usage(usage: Any) -> Usage | None:
    """Usage in either naming: chat (``prompt_tokens``) or responses (``input_tokens``)."""
    if not isinstance(usage, dict):
        return None
    chat = "prompt_tokens" in usage
    inp = usage.get("prompt_tokens" if chat else "input_tokens") or 0
    out = usage.get("completion_tokens" if chat else "output_tokens") or 0
    in_details = usage.get("prompt_tokens_details" if chat else "input_tokens_details") or {}
    out_details = usage.get("completion_tokens_details" if chat else "output_tokens_details") or {}
    # Together reports gpt-oss reasoning as a flat ``usage.reasoning_tokens``.
    reasoning = out_details.get("reasoning_tokens") or usage.get("reasoning_tokens") or 0
    return Usage(
        input_tokens=int(inp), output_tokens=int(out),
        cached_input_tokens=int(in_details.get("cached_tokens") or 0),
        reasoning_tokens=int(reasoning),
    )


# -- status ----------------------------------------------------------------------------------


def map_status(
    batch: Mapping[str, Any], statuses: Mapping[str, JobState] = OPENAI_STATUSES
) -> RemoteStatus:
    """A batch object (as a dict) -> RemoteStatus. An unknown status raises ``ProviderError``:
    guessing would let a job sit forever or be collected before it is done. Counts a vendor
    does not report (Together has none) stay None rather than being invented."""
    vendor_status = batch.get("status")
    if not isinstance(vendor_status, str) or vendor_status not in statuses:
        raise ProviderError(
            f"batch {batch.get('id')!r} has status {vendor_status!r}, which batchkit does not "
            f"know (known: {', '.join(statuses)}); please upgrade or report it"
        )
    counts = batch.get("request_counts") or {}
    errors = batch.get("errors") or {}
    # OpenAI nests errors as {"object": "list", "data": [...]}; Groq's docs show a bare list;
    # Together has no list, only an ``error`` string on a failed job.
    rows = (errors.get("data") or []) if isinstance(errors, dict) else errors
    message = batch.get("error")
    if not rows and isinstance(message, str) and message:
        rows = [{"code": "batch_failed", "message": message}]
    return RemoteStatus(
        state=statuses[vendor_status],
        vendor_status=vendor_status,
        total=counts.get("total"),
        succeeded=counts.get("completed"),
        failed=counts.get("failed"),
        errors=tuple(
            LineError(e["line"] if isinstance(e.get("line"), int) else None,
                      str(e.get("code") or "unknown"), str(e.get("message") or ""))
            for e in (rows if isinstance(rows, list) else []) if isinstance(e, dict)
        ),
        raw=dict(batch),
    )
