"""Cohere's synchronous endpoints in the emulator: ``POST /v2/embed`` and ``POST /v2/chat``.

Why: batchkit's real-time mode drives the ``cohere`` SDK's ``ClientV2`` against these. A body is
checked as Cohere checks it (https://docs.cohere.com/reference/embed: ``model``, ``input_type``
for v3 and later models, at most 96 ``texts``, ``embedding_types``, ``truncate``,
``output_dimension`` on embed-v4.0; chat bodies by the spec's ``V2ChatRequest``, as batch
records are) and answered by the same functions as embed-job rows and batch records, so a
real-time answer reads like the batch one; a bad body is 400 ``{"message"}``, a spent budget 429
with ``retry-after``. Cohere sends no rate-limit headers.

Tests set ``app.realtime.latency_s``, ``.rpm`` (and ``.burst_s``) and read ``.answered``,
``.calls`` and ``.rate_limited``.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from typing import Any

from batchkit.testing._server import Request, Response, json_response
from batchkit.testing._text import estimate_tokens
from batchkit.testing.emulators._app import VendorError
from batchkit.testing.emulators._realtime import RateGate
from batchkit.testing.emulators.cohere.datasets import EMBEDDING_TYPES
from batchkit.testing.emulators.cohere.replies import (
    EMBED_DIMENSIONS,
    body_problem,
    embeddings_for,
)

__all__ = ["PATHS", "SyncEndpoints"]

PATHS = frozenset({"v2/embed", "v2/chat"})
_INPUT_TYPES = frozenset({"search_document", "search_query", "classification", "clustering",
                          "image"})
_EMBED_FIELDS = frozenset({"model", "input_type", "texts", "images", "inputs", "max_tokens",
                           "output_dimension", "embedding_types", "truncate", "priority"})
_MAX_TEXTS = 96
_V4_DIMENSIONS = frozenset({256, 512, 1024, 1536})


class SyncEndpoints(RateGate):
    """The synchronous endpoints of one emulated account; ``chat_responder()`` returns the
    app's current chat responder, so a test that swaps it changes these answers too."""

    def __init__(self, chat_responder: Callable[[], Any]) -> None:
        super().__init__()
        self.chat_responder = chat_responder

    def serve(self, request: Request, authenticate: Callable[[Request], None]
              ) -> Response | None:
        """The answer to a call on one of :data:`PATHS` (checked by the app's
        ``authenticate``, which raises its 401), or None for any other call."""
        if request.path.strip("/") not in PATHS or request.method != "POST":
            return None
        try:
            authenticate(request)
        except VendorError as failure:
            return failure.response()
        return self.handle(request)

    def handle(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _error(400, "invalid request: the body must be a JSON object")
        model = body.get("model")
        chat = request.path.strip("/") == "v2/chat"
        if not isinstance(model, str) or not model:
            return _error(400, "invalid request: model must be a string")
        if chat:
            fields = {k: v for k, v in body.items() if k != "model"}
            problem = body_problem(fields, model)
        else:
            problem = _embed_problem(body, model)
        if problem is not None:
            return _error(404 if problem.startswith("model ") else 400, problem)
        gate = self.admit()
        if not gate.ok:
            return _error(429, "You are past the rate limit of your API key.",
                          {"retry-after": str(max(1, math.ceil(gate.wait)))})
        self.pause()
        reply = self.chat_responder()(fields, "", model) if chat else _embed_reply(body, model)
        self.billed(body)
        return json_response(reply)


def _embed_problem(body: dict[str, Any], model: str) -> str | None:
    if model not in EMBED_DIMENSIONS:
        return f"model '{model}' not found, make sure the model name is correct"
    unknown = sorted(set(body) - _EMBED_FIELDS)
    if unknown:
        return f"invalid request: unknown field {unknown[0]!r}"
    if body.get("input_type") not in _INPUT_TYPES:
        return "invalid request: input_type is required for embed v3 and later models " \
               f"and must be one of {', '.join(sorted(_INPUT_TYPES))}"
    texts = body.get("texts")
    if not isinstance(texts, list) or not texts or \
            not all(isinstance(t, str) and t for t in texts):
        return "invalid request: texts must be a non-empty list of non-empty strings"
    if len(texts) > _MAX_TEXTS:
        return f"invalid request: texts must contain at most {_MAX_TEXTS} items"
    types = body.get("embedding_types", ["float"])
    if not isinstance(types, list) or not types or any(t not in EMBEDDING_TYPES for t in types):
        return f"invalid request: embedding_types must be a list of {', '.join(EMBEDDING_TYPES)}"
    if body.get("truncate", "END") not in ("NONE", "START", "END"):
        return "invalid request: truncate must be one of NONE, START, END"
    dimension = body.get("output_dimension")
    if dimension is not None and (model != "embed-v4.0" or dimension not in _V4_DIMENSIONS):
        return f"invalid request: output_dimension {dimension!r} is not supported by {model}"
    return None


def _embed_reply(body: dict[str, Any], model: str) -> dict[str, Any]:
    """An ``EmbedByTypeResponse``: each asked type, one vector per text, and billed tokens."""
    types = body.get("embedding_types", ["float"])
    dims = body.get("output_dimension") or EMBED_DIMENSIONS[model]
    vectors = [embeddings_for(model, text, types, dims) for text in body["texts"]]
    return {"id": secrets.token_hex(16), "response_type": "embeddings_by_type",
            "embeddings": {t: [v[t] for v in vectors] for t in types},
            "texts": body["texts"],
            "meta": {"api_version": {"version": "2"}, "billed_units": {
                "input_tokens": sum(estimate_tokens(t) for t in body["texts"])}}}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"message": message}, status, headers)
