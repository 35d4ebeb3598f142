"""Anthropic's Messages API for real-time mode: one batch line in, one batch result line out.

A Message Batches line is ``{"custom_id", "params"}`` where ``params`` is exactly a Messages
request (https://docs.anthropic.com/en/docs/build-with-claude/batch-processing), so sending it
now is one ``POST /v1/messages`` of ``params`` through the adapter's own SDK client
(``client.post`` with ``cast_to=httpx.Response``, which keeps the answer's headers). The answer
is wrapped as a batch result line, ``{"custom_id", "result": {"type": "succeeded", "message"}}``
or ``{"type": "errored", "error": <the API's error body>}``, so ``decode`` reads it unchanged.
The SDK's own retries are off for these calls: the engine's rate limiter must see every 429 and
529 (overloaded) to pace the account (https://docs.anthropic.com/en/api/rate-limits).
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson

from ..._exceptions import ProviderError, RateLimitedError
from .._stainless import StainlessAdapter
from ..base import RealtimeAnswer
from ..openai.realtime import retry_after

__all__ = ["AnthropicRealtime"]

ClientT = TypeVar("ClientT")
_PASSING = (408, 409, 429, 529)
"""Statuses that say "try again" (with 5xx): raised, never written as the row's answer."""


class AnthropicRealtime(StainlessAdapter[ClientT]):
    """``send_now`` for Anthropic's Messages API (put it first among the adapter's bases)."""

    def send_now(self, line: bytes, group: str = "") -> RealtimeAnswer:
        sdk = self._import_sdk()
        item = orjson.loads(line)
        custom_id = str(item["custom_id"])
        with self._call(f"answer {custom_id[:60]!r} in real time") as client:
            quiet = getattr(self, "_no_retries", None)
            if quiet is None or quiet[0] is not client:  # the SDK's documented per-client option
                quiet = self._no_retries = (client, client.with_options(  # type: ignore[attr-defined]
                    max_retries=0))
            try:
                raw = quiet[1].messages.with_raw_response.create(**item["params"])
                response = raw.http_response
            except sdk.RateLimitError as exc:
                raise RateLimitedError("Anthropic: rate limited (HTTP 429)",
                                       retry_after=retry_after(exc.response.headers)) from None
            except sdk.APIStatusError as exc:
                status = exc.status_code
                if status == 529:  # overloaded: a passing failure the limiter backs off from
                    raise RateLimitedError("Anthropic: overloaded (HTTP 529)",
                                           retry_after=retry_after(exc.response.headers)
                                           ) from None
                if status in (401, 403) or status in _PASSING or status >= 500:
                    raise
                return _answer(custom_id, {"type": "errored", "error": _body(exc.response)},
                               exc.response)
        return _answer(custom_id, {"type": "succeeded", "message": _body(response)}, response)


def _body(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ProviderError(f"Anthropic answered HTTP {response.status_code} with a body that "
                            "is not JSON", status_code=response.status_code) from None


def _answer(custom_id: str, result: dict[str, Any], response: Any) -> RealtimeAnswer:
    row = {"custom_id": custom_id, "result": result}
    return RealtimeAnswer(orjson.dumps(row), dict(response.headers))
