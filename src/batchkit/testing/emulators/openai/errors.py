"""The error a responder raises to fail one batch line, apart from the replies so that the reply
helpers (:mod:`.replies`, :mod:`.features`) can both raise it."""

from __future__ import annotations

__all__ = ["ReplyError"]


class ReplyError(Exception):
    """Raised by a responder: the line fails with this HTTP status and OpenAI error body."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = {"error": {"message": message, "type": type, "param": param, "code": code}}
