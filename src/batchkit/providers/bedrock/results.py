"""Bedrock batch output lines read back as Results, for every model family, and error rows.
No I/O.

An output line is ``{"recordId", "modelInput", "modelOutput"}`` or, for a failed record,
``{"recordId", "modelInput", "error": {"errorCode", "errorMessage"}}``. The reply is read by the
model's family when it is known (a job's adapter), else by its *shape* (``bk.decode`` of a file
downloaded from the console). The ``recordId`` is never rewritten: a row comes back under the id
written in the file, whatever its characters, so rows of a file batchkit did not write keep
matching their ids. Facts:
https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-results.html.
"""

from __future__ import annotations

from typing import Any

from ..._results import ErrorInfo, Result
from .._lines import load_line
from .families import Family, family_answering
from .families._chat import TOOL_NAME

__all__ = ["TOOL_NAME", "decode_line"]

_ERROR_CODES = {
    400: ("validation_error", False), 403: ("access_denied", False),
    404: ("resource_not_found", False), 408: ("model_timeout", True),
    424: ("model_error", True), 429: ("throttling", True),
    500: ("internal_server_error", True), 503: ("service_unavailable", True),
}
"""bedrock-runtime's InvokeModel errors by HTTP status (botocore service model), in words."""
_STATUS_KEYS = ("errorCode", "statusCode", "status", "code")


def decode_line(line: bytes | str, family: Family | None = None) -> Result:
    """One ``.jsonl.out`` line -> a Result under its recordId, exactly as written (``raw``
    without the echoed ``modelInput``). Raises ``ValueError`` only for lines Bedrock could not
    have written (not JSON, no string recordId)."""
    obj, rid = load_line(line, "batch output", id_field="recordId")
    obj.pop("modelInput", None)  # the request echoed back: the caller has it, and it can be big
    if obj.get("error") is not None:
        return Result(rid, "errored", error=_error(obj["error"]), raw=obj)
    output = obj.get("modelOutput")
    if not isinstance(output, dict):
        return Result(rid, "errored", raw=obj, error=ErrorInfo(
            "missing_output", "the row has neither a modelOutput object nor an error",
            retryable=True))
    reader = family if family is not None and family.answers(output) else family_answering(output)
    if reader is not None:
        return reader.decode(rid, output, obj)
    failure = _error_body(output)
    if failure is not None:
        return Result(rid, "errored", error=failure, raw=obj)
    return Result(rid, "errored", raw=obj, error=ErrorInfo(
        "unknown_output", f"a modelOutput of no model family batchkit reads (keys "
        f"{', '.join(sorted(output)[:8])}); the row is kept whole in raw"))


def _error(error: Any) -> ErrorInfo:
    if not isinstance(error, dict):
        return ErrorInfo("unknown_error", str(error)[:500])
    raw_code = error.get("errorCode")
    message = str(error.get("errorMessage") or error.get("message") or "")
    status = _status(raw_code)
    if status is None:
        return ErrorInfo(str(raw_code or "unknown_error"), message)
    code, retryable = _ERROR_CODES.get(status, (f"http_{status}", status >= 500))
    return ErrorInfo(code, message, retryable=retryable, http_status=status)


def _status(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _error_body(output: dict[str, Any]) -> ErrorInfo | None:
    """A model's error answer in place of a reply (a 4xx/5xx status and a message in the body,
    as some model containers write), or None."""
    status = next((s for s in map(_status, map(output.get, _STATUS_KEYS))
                   if s is not None and s >= 400), None)
    message = output.get("message") or output.get("Message") or output.get("error")
    if status is None and not (isinstance(message, str) and output.get("__type")):
        return None
    return _error({"errorCode": status if status is not None else output.get("__type"),
                   "errorMessage": message if isinstance(message, str) else str(output)[:500]})
