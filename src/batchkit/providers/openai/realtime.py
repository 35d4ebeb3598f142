"""The OpenAI family's synchronous endpoints for real-time mode: one batch line in, one batch
output line out.

A batch input line already names its endpoint (``url``) and holds the exact request ``body``,
so sending it now is one ``POST`` of that body to that endpoint through the adapter's own SDK
client (``client.post`` with ``cast_to=httpx.Response``, the Stainless SDKs' documented way to
make a raw request and keep the answer's headers). The answer is wrapped as the Batch API
writes an output row (https://platform.openai.com/docs/guides/batch): ``{"id", "custom_id",
"response": {"status_code", "request_id", "body"}, "error"}``, so ``decode`` reads it unchanged.

The batch ``custom_id`` travels as ``X-Client-Request-Id``, OpenAI's header for a client's own
request id (https://platform.openai.com/docs/api-reference/debugging-requests), so a row can be
traced in the vendor's logs. The SDK's own retries are off for these calls: the engine's rate
limiter must see every 429 to pace the account.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

import orjson

from ..._exceptions import RateLimitedError
from .._stainless import StainlessAdapter
from ..base import RealtimeAnswer
from .codec import LineFormat

__all__ = ["OpenAIRealtime", "retry_after"]

ClientT = TypeVar("ClientT")
_CLIENT_ID = re.compile(r"[\x20-\x7e]{1,512}")
"""What ``X-Client-Request-Id`` takes: printable ASCII, at most 512 characters."""
_PASSING = (408, 409, 429)
"""Statuses that say "try again" (with 5xx): raised, never written as the row's answer."""


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The wait a 429 asks for: ``retry-after-ms``, else ``retry-after`` in seconds."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue
    return None


class OpenAIRealtime(StainlessAdapter[ClientT]):
    """``send_now`` for adapters whose lines are OpenAI Batch API lines (put it first among
    the adapter's bases)."""

    _format: LineFormat
    realtime_prefix: ClassVar[str] = ""
    """What goes before a line's endpoint on the SDK client's base URL (Groq: ``/openai``)."""
    realtime_keeps_v1: ClassVar[bool] = False
    """Whether the SDK's paths carry the ``/v1`` themselves (Groq, Together) rather than its
    base URL ending in it (OpenAI, Azure)."""

    def _realtime_path(self, url: str) -> str:
        return self.realtime_prefix + (url if self.realtime_keeps_v1
                                       else url.removeprefix("/v1"))

    def _line_url(self, item: Mapping[str, Any]) -> str:
        """The endpoint of a line: its ``url``, or for a vendor whose lines carry none (the
        batch names it once), the chat endpoint its line format sends to."""
        return str(item.get("url") or self._format.chat_url)

    def send_now(self, line: bytes, group: str = "") -> RealtimeAnswer:
        import httpx

        sdk = self._import_sdk()
        item = orjson.loads(line)
        custom_id = str(item["custom_id"])
        headers = {"X-Client-Request-Id": custom_id} if _CLIENT_ID.fullmatch(custom_id) else {}
        with self._call(f"answer {custom_id[:60]!r} in real time") as client:
            try:
                post = client.post  # type: ignore[attr-defined]  # every Stainless client
                response = post(
                    self._realtime_path(self._line_url(item)), body=item["body"],
                    cast_to=httpx.Response, options={"headers": headers, "max_retries": 0})
            except sdk.RateLimitError as exc:
                raise RateLimitedError(f"{self.sdk.vendor}: rate limited (HTTP 429)",
                                       retry_after=retry_after(exc.response.headers)) from None
            except sdk.APIStatusError as exc:
                status = exc.status_code
                if status in (401, 403) or status in _PASSING or status >= 500:
                    raise  # the client's error mapping: a refused key, or a passing failure
                # refused for good: the row's answer is an error row, as in a batch
                return _answer(custom_id, status, exc.response)
        return _answer(custom_id, response.status_code, response)


def _answer(custom_id: str, status: int, response: Any) -> RealtimeAnswer:
    try:
        body = response.json()
    except ValueError:
        body = {"error": {"message": response.text[:500], "type": "invalid_response"}}
    row = {
        "id": f"batch_req_{secrets.token_hex(12)}",
        "custom_id": custom_id,
        "response": {"status_code": status,
                     "request_id": response.headers.get("x-request-id", ""), "body": body},
        "error": None,
    }
    return RealtimeAnswer(orjson.dumps(row), dict(response.headers))
