"""OpenAI's synchronous endpoints for real-time mode: one batch line in, one batch output line out.

A batch input line already names its endpoint (``url``) and holds the exact request ``body``,
so sending it now is one ``POST`` of that body to that endpoint through the official SDK
(``client.post`` with ``cast_to=httpx.Response``, the SDK's documented way to keep the raw
answer and its headers). The answer is wrapped as the Batch API writes an output row
(https://platform.openai.com/docs/guides/batch): ``{"id", "custom_id", "response": {"status_code",
"request_id", "body"}, "error"}``, so the adapter's ``decode`` reads it unchanged.

The batch ``custom_id`` travels as ``X-Client-Request-Id``, OpenAI's header for a client's own
request id (https://platform.openai.com/docs/api-reference/debugging-requests), so a row can be
traced in the vendor's logs. The SDK's own retries are off: the engine's rate limiter must see
every 429 to pace the account.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from ..._exceptions import MissingDependencyError, ProviderError, RateLimitedError
from .._credentials import api_key
from ..base import RealtimeAnswer, sandbox_url

__all__ = ["OpenAIRealtime", "retry_after"]

_CLIENT_ID = re.compile(r"[\x20-\x7e]{1,512}")
"""What ``X-Client-Request-Id`` takes: printable ASCII, at most 512 characters."""
_REFUSED = (401, 403)
"""Answers that no row of the job can get past: the job stops, resumable, with this error."""


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


class OpenAIRealtime:
    """``send_now`` for adapters whose lines are OpenAI Batch API lines."""

    name: ClassVar[str]
    options: dict[str, Any]
    _realtime_lock = threading.Lock()

    def _realtime_client(self) -> Any:
        client = getattr(self, "_rt_client", None)
        if client is not None:
            return client
        with self._realtime_lock:
            client = getattr(self, "_rt_client", None)
            if client is None:
                try:
                    import openai
                except ImportError:
                    raise MissingDependencyError(
                        'the OpenAI SDK is not installed: pip install "batchkit[openai]"'
                    ) from None
                sandbox = sandbox_url(self.name)
                base_url = self.options.get("base_url") or (f"{sandbox}/v1" if sandbox else None)
                client = openai.OpenAI(
                    api_key=api_key(self.name, "OPENAI_API_KEY", "OpenAI"), base_url=base_url,
                    max_retries=0, timeout=float(self.options.get("timeout", 600)))
                self._rt_client = client
        return client

    def send_now(self, line: bytes) -> RealtimeAnswer:
        import httpx
        import openai

        item = orjson.loads(line)
        custom_id = str(item["custom_id"])
        path = str(item["url"]).removeprefix("/v1")
        headers = {"X-Client-Request-Id": custom_id} if _CLIENT_ID.fullmatch(custom_id) else {}
        try:
            response = self._realtime_client().post(
                path, body=item["body"], cast_to=httpx.Response, options={"headers": headers})
        except openai.RateLimitError as exc:
            raise RateLimitedError(f"{self.name}: rate limited (429)",
                                   retry_after=retry_after(exc.response.headers)) from None
        except openai.APIStatusError as exc:
            status = exc.status_code
            if status in _REFUSED or status == 408 or status == 409 or status >= 500:
                raise ProviderError(f"{self.name}: the real-time endpoint answered {status}",
                                    status_code=status) from None
            # The vendor refused this request for good: an error row, as the batch would have.
            return _answer(custom_id, status, exc.response)
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
            raise ProviderError(f"{self.name}: {type(exc).__name__} on a real-time call",
                                transient=True) from None
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
