"""OpenAI's synchronous endpoints in the emulator: ``POST /v1/chat/completions``,
``/v1/embeddings`` and ``/v1/responses``, with latency and rate limits a test can set.

Why: batchkit's real-time mode drives the official ``openai`` SDK against these, so its rate
limiter meets what it meets at OpenAI: a request and a token budget per minute, enforced over
short windows (https://platform.openai.com/docs/guides/rate-limits), the
``x-ratelimit-limit-*`` / ``-remaining-*`` / ``-reset-*`` headers on every answer, and a 429
with ``retry-after`` and OpenAI's ``rate_limit_exceeded`` body when a budget is spent. Bodies
are checked against the same schemas as batch lines, and answered by the same responder, so a
request's real-time reply is its batch reply (the reply is seeded by the batch ``custom_id``,
which the adapter sends as ``X-Client-Request-Id``).

Tests set ``app.realtime.latency_s``, ``.rpm``, ``.tpm`` (and ``.burst_s``, the window a full
bucket covers) and read ``.answered`` (calls answered 200, by body) and ``.rate_limited``.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from batchkit.testing._server import Request, Response, json_response
from batchkit.testing._text import collect_text, estimate_tokens
from batchkit.testing.emulators.openai.replies import ReplyError
from batchkit.testing.emulators.openai.validation import body_problem

__all__ = ["REALTIME_URLS", "RealtimeEndpoints"]

REALTIME_URLS = frozenset({"/v1/chat/completions", "/v1/embeddings", "/v1/responses"})


class _Budget:
    """One per-minute budget: a bucket refilled at ``limit / 60`` a second that holds
    ``burst_s`` seconds of it (at least one request's worth)."""

    def __init__(self) -> None:
        self.level: float | None = None
        self.stamp = time.monotonic()

    def take(self, limit: int | None, amount: int, burst_s: float, now: float
             ) -> tuple[bool, float, float]:
        """``(taken, remaining, seconds until full)``; nothing is taken when it does not fit."""
        if limit is None:
            return True, math.inf, 0.0
        rate = limit / 60.0
        capacity = max(float(amount), rate * burst_s, 1.0)
        level = capacity if self.level is None else self.level
        level = min(capacity, level + (now - self.stamp) * rate)
        self.stamp = now
        taken = level >= amount
        if taken:
            level -= amount
        self.level = level
        return taken, level, (capacity - level) / rate


def _duration(seconds: float) -> str:
    """OpenAI's reset format: ``"1s"``, ``"6m0s"``, ``"20ms"``."""
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:.0f}s" if minutes else f"{rest:.3g}s"


def request_tokens(url: str, body: dict[str, Any]) -> int:
    """What a call counts against the token budget: its prompt as OpenAI estimates it, plus
    the most it may write (``max_tokens`` and its successors)."""
    if url == "/v1/embeddings":
        return estimate_tokens(collect_text(body.get("input", "")))
    prompt = estimate_tokens(collect_text(body.get("messages") or body.get("input") or ""))
    cap = body.get("max_completion_tokens") or body.get("max_tokens") \
        or body.get("max_output_tokens") or 0
    return prompt + int(cap)


class RealtimeEndpoints:
    """The synchronous endpoints of one emulated account (see the module docstring)."""

    def __init__(self, respond: Callable[[str, dict[str, Any], str], dict[str, Any]]) -> None:
        self.respond = respond
        self.latency_s = 0.0
        self.rpm: int | None = None
        self.tpm: int | None = None
        self.burst_s = 1.0
        self.answered: Counter[str] = Counter()
        """Calls answered 200, by request body: what the account was billed for."""
        self.rate_limited = 0
        self.calls = 0
        self._requests, self._tokens = _Budget(), _Budget()
        self._lock = threading.Lock()

    def handle(self, request: Request, url: str) -> Response:
        try:
            body = request.json()
        except ValueError:
            return _error(400, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.")
        problem = body_problem(url, body)
        if problem is not None:
            return _error(400, problem.message, param=problem.param, code=problem.code)
        tokens = request_tokens(url, body)
        with self._lock:
            self.calls += 1
            now = time.monotonic()
            ok_r, left_r, reset_r = self._requests.take(self.rpm, 1, self.burst_s, now)
            ok_t, left_t, reset_t = (False, 0.0, 0.0) if not ok_r else \
                self._tokens.take(self.tpm, tokens, self.burst_s, now)
            if ok_r and not ok_t:  # the request budget is given back: nothing ran
                self._requests.level = (self._requests.level or 0.0) + 1
            if not (ok_r and ok_t):
                self.rate_limited += 1
        headers = self._headers(left_r, reset_r, left_t, reset_t)
        if not ok_r or not ok_t:
            wait = reset_r if not ok_r else reset_t
            kind, limit = ("requests", self.rpm) if not ok_r else ("tokens", self.tpm)
            headers.update({"retry-after-ms": str(max(1, round(min(wait, 60) * 1000))),
                            "retry-after": str(max(1, math.ceil(min(wait, 60))))})
            return _error(429, f"Rate limit reached for {body.get('model')} on {kind} per min: "
                          f"Limit {limit}. Please try again in {_duration(wait)}.",
                          code="rate_limit_exceeded", type=kind, headers=headers)
        if self.latency_s:
            time.sleep(self.latency_s)
        try:
            reply = self.respond(url, body, request.header("X-Client-Request-Id") or "")
        except ReplyError as failure:
            return json_response(failure.body, failure.status_code, headers)
        with self._lock:
            self.answered[json.dumps(body, sort_keys=True)] += 1
        for stamp in ("created", "created_at"):  # the batch path stamps its own clock
            if reply.get(stamp) == 0:
                reply[stamp] = int(time.time())
        return json_response(reply, 200, headers)

    def _headers(self, left_r: float, reset_r: float, left_t: float, reset_t: float
                 ) -> dict[str, str]:
        headers: dict[str, str] = {}
        for kind, limit, left, reset in (("requests", self.rpm, left_r, reset_r),
                                         ("tokens", self.tpm, left_t, reset_t)):
            if limit is not None:
                headers[f"x-ratelimit-limit-{kind}"] = str(limit)
                headers[f"x-ratelimit-remaining-{kind}"] = str(max(0, int(left)))
                headers[f"x-ratelimit-reset-{kind}"] = _duration(reset)
        return headers


def _error(status: int, message: str, *, param: str | None = None, code: str | None = None,
           type: str = "invalid_request_error", headers: dict[str, str] | None = None
           ) -> Response:
    return json_response({"error": {"message": message, "type": type, "param": param,
                                    "code": code}}, status, headers)
