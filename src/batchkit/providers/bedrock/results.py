"""Bedrock batch output lines read back as Results: Claude, Nova and Titan replies, and error
rows. No I/O.

An output line is ``{"recordId", "modelInput", "modelOutput"}`` or, for a failed record,
``{"recordId", "modelInput", "error": {"errorCode", "errorMessage"}}``. ``decode_line`` reads
``modelOutput`` by its *shape*, not by a model id, so ``bk.decode`` works without one. Facts:
https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-results.html.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from ..._results import ErrorInfo, FinishReason, Result, Usage, finish_reason
from ..._tools import tool_call_from_raw
from .._lines import load_line
from ..anthropic.reply import decode_message

__all__ = ["TOOL_NAME", "decode_line"]

TOOL_NAME = "respond"
"""The forced tool that carries a ``response_model``'s reply (Claude and Nova alike)."""

# -- decode ----------------------------------------------------------------------------------

_ERROR_CODES = {
    400: ("validation_error", False), 403: ("access_denied", False),
    404: ("resource_not_found", False), 408: ("model_timeout", True),
    424: ("model_error", True), 429: ("throttling", True),
    500: ("internal_server_error", True), 503: ("service_unavailable", True),
}
"""bedrock-runtime's InvokeModel errors by HTTP status (botocore service model), in words."""
_NOVA_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
    "model_context_window_exceeded": "length", "tool_use": "tool_calls",
    "content_filtered": "content_filter", "guardrail_intervened": "content_filter",
    "malformed_model_output": "other", "malformed_tool_use": "other",
}
"""Converse's ``StopReason`` values (botocore) in batchkit's vocabulary."""


def decode_line(line: bytes | str) -> Result:
    """One ``.jsonl.out`` line -> a Result under the recordId (``raw`` without the echoed
    ``modelInput``). Raises ``ValueError`` only for lines Bedrock could not have written."""
    obj, rid = load_line(line, "batch output", id_field="recordId")
    obj.pop("modelInput", None)  # the request echoed back: the caller has it, and it can be big
    if "error" in obj:
        return Result(rid, "errored", error=_error(obj["error"]), raw=obj)
    output = obj.get("modelOutput")
    if not isinstance(output, dict):
        raise ValueError(f"record {rid!r}: neither modelOutput nor error")
    if output.get("type") == "message" or isinstance(output.get("content"), list):
        return decode_message(rid, output, obj, answer_tool=TOOL_NAME)
    if isinstance(output.get("output"), dict):
        return _nova(rid, output, obj)
    if "embedding" in output or "embeddingsByType" in output:
        return _titan(rid, output, obj)
    raise ValueError(f"record {rid!r}: modelOutput of no known family ({sorted(output)})")


def _error(error: Any) -> ErrorInfo:
    if not isinstance(error, dict):
        return ErrorInfo("unknown_error", str(error)[:500])
    raw_code = error.get("errorCode")
    message = str(error.get("errorMessage") or "")
    status = int(raw_code) if isinstance(raw_code, int) or (
        isinstance(raw_code, str) and raw_code.isdigit()) else None
    if status is None:
        return ErrorInfo(str(raw_code or "unknown_error"), message)
    code, retryable = _ERROR_CODES.get(status, (f"http_{status}", status >= 500))
    return ErrorInfo(code, message, retryable=retryable, http_status=status)


def _nova(rid: str, output: dict[str, Any], obj: dict[str, Any]) -> Result:
    """A Nova reply: text blocks joined, ``toolUse`` blocks as tool calls, except the forced
    ``respond`` tool, whose input is a structured answer's text (ending as ``stop``)."""
    message = output["output"].get("message") or {}
    blocks = [b for b in message.get("content") or [] if isinstance(b, dict)]
    texts = [str(b["text"]) for b in blocks if "text" in b]
    uses = [b["toolUse"] for b in blocks if isinstance(b.get("toolUse"), dict)]
    text: str | None = "".join(texts) if texts else None
    vendor_stop = output.get("stopReason")
    stop = vendor_stop if isinstance(vendor_stop, str) else None
    finish = finish_reason(stop, _NOVA_FINISH)
    answer = next((t for t in uses if t.get("name") == TOOL_NAME), None)
    if answer is not None:
        text, finish = orjson.dumps(answer.get("input")).decode(), "stop"
        uses = [t for t in uses if t is not answer]
    calls = [tool_call_from_raw(str(t.get("toolUseId") or ""), str(t.get("name") or ""),
                                t.get("input") if isinstance(t.get("input"), dict) else None)
             for t in uses]
    usage = output.get("usage") or {}
    read = int(usage.get("cacheReadInputTokenCount") or 0)
    written = int(usage.get("cacheWriteInputTokenCount") or 0)
    return Result(rid, "succeeded", text=text, finish_reason=finish, raw=obj, tool_calls=calls,
                  vendor_finish_reason=stop, usage=Usage(
        input_tokens=int(usage.get("inputTokens") or 0) + read + written,
        output_tokens=int(usage.get("outputTokens") or 0),
        cached_input_tokens=read, cache_creation_input_tokens=written,
    ))


def _titan(rid: str, output: dict[str, Any], obj: dict[str, Any]) -> Result:
    by_type = output.get("embeddingsByType")
    vectors: dict[str, np.ndarray] = {}
    if isinstance(by_type, dict):
        for kind, values in by_type.items():
            vectors[kind] = np.asarray(values, dtype=np.float32 if kind == "float" else np.uint8)
    vector = output.get("embedding")
    embedding = (np.asarray(vector, dtype=np.float32) if vector is not None
                 else vectors.get("float"))
    return Result(rid, "succeeded", embedding=embedding, embeddings_by_type=vectors or None,
                  usage=Usage(input_tokens=int(output.get("inputTextTokenCount") or 0)), raw=obj)
