"""Mistral's synchronous endpoints in the emulator: ``POST /v1/chat/completions`` and
``/v1/embeddings``, with latency and a request rate limit a test can set.

Why: batchkit's real-time mode drives the official ``mistralai`` SDK against these. Bodies are
checked and answered by the same code as batch lines (an empty ``custom_id``: the endpoint has
none); a spent budget is a 429 with ``retry-after``
(https://docs.mistral.ai/deployment/laplateforme/tier/).

Tests set ``app.realtime.latency_s``, ``.rpm`` (and ``.burst_s``) and read ``.answered`` (calls
answered 200, by body), ``.calls`` and ``.rate_limited``.
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
from batchkit.testing.emulators.mistral.replies import ReplyError, check_body, error_body
from batchkit.testing.emulators.openai.realtime import _Budget

__all__ = ["REALTIME_PATHS", "SyncEndpoints"]

REALTIME_PATHS = frozenset({"/v1/chat/completions", "/v1/embeddings"})


class SyncEndpoints:
    """The synchronous endpoints of one emulated account (see the module docstring)."""

    def __init__(self, respond: Callable[[str, dict[str, Any], str], dict[str, Any]]) -> None:
        self.respond = respond
        self.latency_s = 0.0
        self.rpm: int | None = None
        self.burst_s = 1.0
        self.answered: Counter[str] = Counter()
        self.rate_limited = 0
        self.calls = 0
        self._requests = _Budget()
        self._lock = threading.Lock()

    def handle(self, request: Request, endpoint: str) -> Response:
        try:
            body = request.json()
        except ValueError:
            return json_response(error_body("Invalid JSON body"), 400)
        if not isinstance(body, dict):
            return json_response(error_body("The request body must be a JSON object"), 400)
        problem = check_body(endpoint, body)
        if problem is not None:
            return json_response(problem.body, problem.status_code)
        with self._lock:
            self.calls += 1
            ok, _, reset = self._requests.take(self.rpm, 1, self.burst_s, time.monotonic())
            if not ok:
                self.rate_limited += 1
        if not ok:
            return json_response(error_body("Requests rate limit exceeded", type="rate_limited"),
                                 429, {"retry-after": str(max(1, math.ceil(reset)))})
        if self.latency_s:
            time.sleep(self.latency_s)
        try:
            reply = self.respond(endpoint, body, "")
        except ReplyError as failure:
            return json_response(failure.body, failure.status_code)
        if reply.get("created") == 0:
            reply["created"] = int(time.time())
        with self._lock:
            self.answered[json.dumps(body, sort_keys=True)] += 1
        return json_response(reply)
