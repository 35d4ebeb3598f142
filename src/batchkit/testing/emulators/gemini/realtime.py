"""The Gemini API's synchronous endpoints in the emulator: ``POST
v1beta/models/{model}:generateContent`` and ``:batchEmbedContents`` (what the google-genai SDK's
``embed_content`` calls), with latency and a request rate limit a test can set.

Why: batchkit's real-time mode drives the official google-genai SDK against these. Requests
are checked and answered by the same code as batch rows (with an empty key: the endpoint has
none), and a spent budget is answered as Gemini does (https://ai.google.dev/gemini-api/docs/rate-limits):
429 ``RESOURCE_EXHAUSTED`` with a ``google.rpc.RetryInfo`` ``retryDelay``. Gemini sends no
rate-limit headers, so a client learns the pace from the 429s alone.

Tests set ``app.realtime.latency_s``, ``.rpm`` (and ``.burst_s``) and read ``.answered`` (calls
answered 200, by body), ``.calls`` and ``.rate_limited``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from batchkit.testing._server import Request, Response, json_response
from batchkit.testing.emulators._google import google_error, json_object_or_error, retry_info
from batchkit.testing.emulators._realtime import RateGate
from batchkit.testing.emulators.gemini.replies import embed_problem, embed_reply, generate_problem

__all__ = ["REALTIME_VERBS", "SyncEndpoints"]

REALTIME_VERBS = frozenset({"generateContent", "batchEmbedContents"})


class SyncEndpoints(RateGate):
    """The synchronous endpoints of one emulated account (see the module docstring)."""

    def __init__(self, respond: Callable[[str, dict[str, Any], str], dict[str, Any]]) -> None:
        super().__init__()
        self.respond = respond

    def handle(self, request: Request, model: str, verb: str) -> Response:
        body = json_object_or_error(request)
        if isinstance(body, Response):
            return body
        if verb == "generateContent":
            checked, problem = generate_problem(body)
            rows = [checked]
        else:
            rows, problem = [], None
            for item in body.get("requests") or [{}]:
                checked, problem = embed_problem(item)
                if problem is not None:
                    break
                rows.append(checked)
        if problem is not None:
            return google_error(400, "INVALID_ARGUMENT", problem)
        gate = self.admit()
        if not gate.ok:
            return google_error(429, "RESOURCE_EXHAUSTED",
                                "Resource has been exhausted (e.g. check quota).",
                                retry_info(gate.wait))
        self.pause()
        if verb == "generateContent":
            reply = self.respond(f"models/{model}", rows[0], "")
        else:
            reply = {"embeddings": [embed_reply(f"models/{model}", row)["embedding"]
                                    for row in rows]}
        self.billed(body)
        return json_response(reply)

