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

import math
import time
from collections.abc import Callable
from typing import Any

from batchkit.testing._server import Request, Response, json_response
from batchkit.testing.emulators._realtime import RateGate
from batchkit.testing.emulators.mistral.replies import ReplyError, check_body, error_body

__all__ = ["REALTIME_PATHS", "SyncEndpoints"]

REALTIME_PATHS = frozenset({"/v1/chat/completions", "/v1/embeddings", "/v1/moderations"})


class SyncEndpoints(RateGate):
    """The synchronous endpoints of one emulated account (see the module docstring)."""

    def __init__(self, respond: Callable[[str, dict[str, Any], str], dict[str, Any]]) -> None:
        super().__init__()
        self.respond = respond

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
        gate = self.admit()
        reset = gate.wait
        if not gate.ok:
            return json_response(error_body("Requests rate limit exceeded", type="rate_limited"),
                                 429, {"retry-after": str(max(1, math.ceil(reset)))})
        self.pause()
        try:
            reply = self.respond(endpoint, body, "")
        except ReplyError as failure:
            return json_response(failure.body, failure.status_code)
        if reply.get("created") == 0:
            reply["created"] = int(time.time())
        self.billed(body)
        return json_response(reply)
