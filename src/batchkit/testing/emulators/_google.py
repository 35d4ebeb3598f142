"""What the two Google emulators (Gemini API, Vertex AI) share on their synchronous endpoints:
reading the call's JSON body and answering in Google's error shape.

Why one place: both services sit behind Google's API front end, which refuses a body that is not
a JSON object with the same 400 ``INVALID_ARGUMENT`` and writes every error as a
``google.rpc.Status`` (https://cloud.google.com/apis/design/errors): written twice, the two
emulators would drift apart where the real services do not.
"""

from __future__ import annotations

import math
from typing import Any

from batchkit.testing._server import Request, Response, json_response

__all__ = ["google_error", "json_object_or_error", "retry_info", "retry_seconds"]


def google_error(code: int, status: str, message: str, details: list[Any] | None = None,
                 headers: dict[str, str] | None = None) -> Response:
    """An error answered as ``{"error": {"code", "message", "status"[, "details"]}}``."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return json_response({"error": error}, code, headers)


def json_object_or_error(request: Request) -> dict[str, Any] | Response:
    """The call's body when it is a JSON object, else the 400 Google answers it with."""
    try:
        body = request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
    return body


def retry_seconds(wait_s: float) -> int:
    """A wait as the whole seconds (at least 1) a 429 names."""
    return max(1, math.ceil(wait_s))


def retry_info(wait_s: float) -> list[dict[str, str]]:
    """The ``details`` of a 429: a ``google.rpc.RetryInfo`` naming :func:`retry_seconds`."""
    return [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
             "retryDelay": f"{retry_seconds(wait_s)}s"}]
