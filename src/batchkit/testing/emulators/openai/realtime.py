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

import math
import time
from collections.abc import Callable
from typing import Any

from batchkit.testing._server import Request, Response, json_response
from batchkit.testing._text import collect_text, estimate_tokens
from batchkit.testing.emulators._realtime import RateGate
from batchkit.testing.emulators.openai.replies import ReplyError
from batchkit.testing.emulators.openai.validation import body_problem

__all__ = ["REALTIME_URLS", "RealtimeEndpoints"]

REALTIME_URLS = frozenset({"/v1/chat/completions", "/v1/embeddings", "/v1/responses",
                           "/v1/moderations"})


def _duration(seconds: float) -> str:
    """OpenAI's reset format: ``"1s"``, ``"6m0s"``, ``"20ms"``."""
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:.0f}s" if minutes else f"{rest:.3g}s"


def request_tokens(url: str, body: dict[str, Any]) -> int:
    """What a call counts against the token budget: its prompt as OpenAI estimates it, plus
    the most it may write (``max_tokens`` and its successors)."""
    if url in ("/v1/embeddings", "/v1/moderations"):
        return estimate_tokens(collect_text(body.get("input", "")))
    prompt = estimate_tokens(collect_text(body.get("messages") or body.get("input") or ""))
    cap = body.get("max_completion_tokens") or body.get("max_tokens") \
        or body.get("max_output_tokens") or 0
    return prompt + int(cap)


class RealtimeEndpoints(RateGate):
    """The synchronous endpoints of one emulated account (see the module docstring)."""

    def __init__(self, respond: Callable[[str, dict[str, Any], str], dict[str, Any]]) -> None:
        super().__init__()
        self.respond = respond

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
        gate = self.admit(request_tokens(url, body))
        headers = self._headers(gate.requests_left, gate.requests_reset, gate.tokens_left,
                                gate.tokens_reset)
        if not gate.ok:
            wait, kind = gate.wait, gate.refused
            limit = self.rpm if kind == "requests" else self.tpm
            headers.update({"retry-after-ms": str(max(1, round(min(wait, 60) * 1000))),
                            "retry-after": str(max(1, math.ceil(min(wait, 60))))})
            return _error(429, f"Rate limit reached for {body.get('model')} on {kind} per min: "
                          f"Limit {limit}. Please try again in {_duration(wait)}.",
                          code="rate_limit_exceeded", type=kind, headers=headers)
        self.pause()
        try:
            reply = self.respond(url, body, request.header("X-Client-Request-Id") or "")
        except ReplyError as failure:
            return json_response(failure.body, failure.status_code, headers)
        self.billed(body)
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
