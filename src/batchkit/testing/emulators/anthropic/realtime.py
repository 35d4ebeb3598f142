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

import math
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from batchkit.testing._server import Request, Response, json_response
from batchkit.testing._text import collect_text, estimate_tokens
from batchkit.testing.emulators._realtime import RateGate

__all__ = ["MESSAGES_PATH", "MessagesEndpoint"]

MESSAGES_PATH = ["v1", "messages"]


def _at(seconds_from_now: float) -> str:
    when = datetime.fromtimestamp(time.time() + seconds_from_now, tz=timezone.utc)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


class MessagesEndpoint(RateGate):
    """``POST /v1/messages`` of one emulated account (see the module docstring)."""

    def __init__(self, respond: Callable[[str, dict[str, Any], str], dict[str, Any]],
                 problem: Callable[[Any], str | None]) -> None:
        super().__init__()
        self.respond, self.problem = respond, problem

    def handle(self, request: Request) -> Response:
        try:
            params = request.json()
        except ValueError:
            return _error(400, "invalid_request_error", "There was an issue with your request "
                          "body: invalid JSON")
        problem = self.problem(params)
        if problem is not None:
            return _error(400, "invalid_request_error", problem)
        gate = self.admit(estimate_tokens(collect_text(params.get("messages") or ""))
                          + int(params.get("max_tokens") or 0))
        headers: dict[str, str] = {}
        for kind, limit, left, reset in (
                ("requests", self.rpm, gate.requests_left, gate.requests_reset),
                ("tokens", self.tpm, gate.tokens_left, gate.tokens_reset)):
            if limit is not None:
                headers[f"anthropic-ratelimit-{kind}-limit"] = str(limit)
                headers[f"anthropic-ratelimit-{kind}-remaining"] = str(max(0, int(left)))
                headers[f"anthropic-ratelimit-{kind}-reset"] = _at(reset)
        if not gate.ok:
            headers["retry-after"] = str(max(1, math.ceil(min(gate.wait, 60))))
            return _error(429, "rate_limit_error", f"This request would exceed your "
                          f"organization's rate limit of {gate.refused} per minute.", headers)
        self.pause()
        reply = self.respond("/v1/messages", params, "")
        self.billed(params)
        return json_response(reply, 200, headers)


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None
           ) -> Response:
    return json_response({"type": "error", "error": {"type": kind, "message": message}},
                         status, headers)
