"""Anthropic's synchronous Messages endpoint in the emulator: ``POST /v1/messages``, with
latency and rate limits a test can set.

Why: batchkit's real-time mode drives the official ``anthropic`` SDK against it, so its rate
limiter meets what it meets at Anthropic (https://docs.anthropic.com/en/api/rate-limits):
request and token budgets per minute replenished continuously, the
``anthropic-ratelimit-requests-*`` / ``-tokens-*`` headers (``limit``, ``remaining``, and
``reset`` as an RFC 3339 time) on every answer, and a 429 ``rate_limit_error`` with
``retry-after`` when a budget is spent. Bodies are checked like batch ``params`` and answered by
the same responder (with an empty ``custom_id``: the endpoint has none).

Tests set ``app.realtime.latency_s``, ``.rpm``, ``.tpm`` (and ``.burst_s``) and read
``.answered`` (calls answered 200, by body), ``.calls`` and ``.rate_limited``.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from batchkit.testing._server import Request, Response, json_response
from batchkit.testing._text import collect_text, estimate_tokens
from batchkit.testing.emulators.openai.realtime import _Budget

__all__ = ["MESSAGES_PATH", "MessagesEndpoint"]

MESSAGES_PATH = ["v1", "messages"]


def _at(seconds_from_now: float) -> str:
    when = datetime.fromtimestamp(time.time() + seconds_from_now, tz=timezone.utc)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


class MessagesEndpoint:
    """``POST /v1/messages`` of one emulated account (see the module docstring)."""

    def __init__(self, respond: Callable[[str, dict[str, Any], str], dict[str, Any]],
                 problem: Callable[[Any], str | None]) -> None:
        self.respond, self.problem = respond, problem
        self.latency_s = 0.0
        self.rpm: int | None = None
        self.tpm: int | None = None
        self.burst_s = 1.0
        self.answered: Counter[str] = Counter()
        self.rate_limited = 0
        self.calls = 0
        self._requests, self._tokens = _Budget(), _Budget()
        self._lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        try:
            params = request.json()
        except ValueError:
            return _error(400, "invalid_request_error", "There was an issue with your request "
                          "body: invalid JSON")
        problem = self.problem(params)
        if problem is not None:
            return _error(400, "invalid_request_error", problem)
        tokens = estimate_tokens(collect_text(params.get("messages") or "")) \
            + int(params.get("max_tokens") or 0)
        with self._lock:
            self.calls += 1
            now = time.monotonic()
            ok_r, left_r, reset_r = self._requests.take(self.rpm, 1, self.burst_s, now)
            ok_t, left_t, reset_t = (False, 0.0, 0.0) if not ok_r else \
                self._tokens.take(self.tpm, tokens, self.burst_s, now)
            if ok_r and not ok_t:  # nothing ran: the request is given back
                self._requests.level = (self._requests.level or 0.0) + 1
            if not (ok_r and ok_t):
                self.rate_limited += 1
        headers: dict[str, str] = {}
        for kind, limit, left, reset in (("requests", self.rpm, left_r, reset_r),
                                         ("tokens", self.tpm, left_t, reset_t)):
            if limit is not None:
                headers[f"anthropic-ratelimit-{kind}-limit"] = str(limit)
                headers[f"anthropic-ratelimit-{kind}-remaining"] = str(max(0, int(left)))
                headers[f"anthropic-ratelimit-{kind}-reset"] = _at(reset)
        if not (ok_r and ok_t):
            wait = reset_r if not ok_r else reset_t
            headers["retry-after"] = str(max(1, math.ceil(min(wait, 60))))
            kind = "requests" if not ok_r else "tokens"
            return _error(429, "rate_limit_error", f"This request would exceed your "
                          f"organization's rate limit of {kind} per minute.", headers)
        if self.latency_s:
            time.sleep(self.latency_s)
        reply = self.respond("/v1/messages", params, "")
        with self._lock:
            self.answered[json.dumps(params, sort_keys=True)] += 1
        return json_response(reply, 200, headers)


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None
           ) -> Response:
    return json_response({"type": "error", "error": {"type": kind, "message": message}},
                         status, headers)
