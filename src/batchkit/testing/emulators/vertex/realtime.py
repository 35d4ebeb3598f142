"""Vertex AI's synchronous endpoints in the emulator: ``POST v1/projects/{p}/locations/{l}/
publishers/google/models/{model}:generateContent`` and ``:predict`` (text-embedding models),
as ``aiplatform_v1.PredictionServiceClient`` calls them over REST.

Why: batchkit's real-time mode drives that SDK against these. A request is checked and
answered by the same code as a batch row (``check_chat_row`` / ``check_embedding_instance``
and the app's responders), so a real-time answer reads like the batch one; a bad request is
answered 400 ``INVALID_ARGUMENT`` as Vertex does, and a spent budget 429 ``RESOURCE_EXHAUSTED``
with a ``Retry-After`` header and a ``google.rpc.RetryInfo`` delay
(https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429). Vertex sends no
rate-limit headers.

Tests set ``app.realtime.latency_s``, ``.rpm`` (and ``.burst_s``) and read ``.answered``,
``.calls`` and ``.rate_limited``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from batchkit.testing._server import Request, Response, json_response
from batchkit.testing.emulators._google import (
    google_error,
    json_object_or_error,
    retry_info,
    retry_seconds,
)
from batchkit.testing.emulators._realtime import RateGate
from batchkit.testing.emulators.vertex.replies import (
    DEFAULT_DIMENSIONS,
    check_chat_row,
    check_embedding_instance,
)

__all__ = ["REALTIME_VERBS", "SyncEndpoints"]

REALTIME_VERBS = frozenset({"generateContent", "predict"})
_MAX_INSTANCES = 250
"""Instances one text-embedding ``predict`` call takes."""


class SyncEndpoints(RateGate):
    """The synchronous endpoints of one emulated project (see the module docstring).

    ``responders()`` returns the app's current chat and embedding responders, so a test that
    swaps them changes real-time answers too.
    """

    def __init__(self, responders: Callable[[], tuple[Any, Any]]) -> None:
        super().__init__()
        self.responders = responders

    def handle(self, request: Request, model: str, verb: str) -> Response:
        body = json_object_or_error(request)
        if isinstance(body, Response):
            return body
        embedding = "embedding" in model
        if (verb == "predict") != embedding:
            return google_error(400, "FAILED_PRECONDITION",
                                f"Model {model} does not support the {verb} method.")
        if verb == "generateContent":
            payload, problem = _chat_request(body, model)
        else:
            payload, problem = _predict_request(body)
        if problem is not None:
            return google_error(400, "INVALID_ARGUMENT", problem)
        gate = self.admit()
        if not gate.ok:
            return google_error(429, "RESOURCE_EXHAUSTED",
                                "Resource exhausted. Please try again later.",
                                retry_info(gate.wait),
                                {"Retry-After": str(retry_seconds(gate.wait))})
        self.pause()
        chat, embed = self.responders()
        if verb == "generateContent":
            reply = chat(payload, model)
        else:
            instances, dimensions = payload
            reply = {"predictions": [embed(i, dimensions) for i in instances],
                     "deployedModelId": "", "model": f"publishers/google/models/{model}"}
        self.billed(body)
        return json_response(reply)


def _chat_request(body: dict[str, Any], model: str) -> tuple[Any, str | None]:
    """The request as the batch row would hold it (REST JSON, enum names), or the problem.
    The SDK's REST transport writes enums as numbers; the answer is built from names, as a
    batch row's is."""
    from google.cloud.aiplatform_v1 import GenerateContentRequest
    from google.protobuf import json_format  # type: ignore[import-untyped]

    fields = {k: v for k, v in body.items() if k != "model"}
    try:
        message = json_format.ParseDict(fields, GenerateContentRequest.pb()())
    except json_format.ParseError as exc:
        return None, f"Invalid JSON payload received. {exc}"
    request = json_format.MessageToDict(message)
    problem = check_chat_row({"request": request}, model)
    return request, None if problem is None else _message(problem)


def _predict_request(body: dict[str, Any]) -> tuple[Any, str | None]:
    """``(instances, dimensions)`` of a text-embedding ``predict``, or the problem."""
    instances = body.get("instances")
    if not isinstance(instances, list) or not instances:
        return None, "instances must be a non-empty list."
    if len(instances) > _MAX_INSTANCES:
        return None, f"At most {_MAX_INSTANCES} instances are allowed per request."
    for instance in instances:
        problem = check_embedding_instance(instance)
        if problem is not None:
            return None, _message(problem)
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict) or set(parameters) - {"outputDimensionality",
                                                               "autoTruncate"}:
        return None, f"Invalid parameters: {parameters!r}"
    dimensions = parameters.get("outputDimensionality", DEFAULT_DIMENSIONS)
    if not isinstance(dimensions, (int, float)) or not float(dimensions).is_integer() \
            or not 1 <= dimensions <= DEFAULT_DIMENSIONS:
        return None, f"Invalid parameters.outputDimensionality: {dimensions!r}"
    return (instances, int(dimensions)), None


def _message(status: str) -> str:
    """The message inside a batch row's ``status`` text (``'Bad Request: {"error": ...}'``)."""
    _, _, text = status.partition(": ")
    try:
        return str(json.loads(text)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return status

