"""Vertex AI's synchronous endpoints for real-time mode: one batch line in, one batch output
row out.

A Vertex chat line is ``{"request": GenerateContentRequest}`` (REST JSON) and an embedding line
a text-embedding instance carrying ``batchkit_id``; the batch writes ``{"status", "request",
"response"}`` and ``{"status", "key", "predictions"}`` rows (see :mod:`.codec`). So a row is
sent now through the same SDK and credentials as the batch jobs, ``google-cloud-aiplatform``'s
``PredictionServiceClient`` over REST: ``generate_content`` with the line's request read into
the SDK's own ``GenerateContentRequest`` (unknown fields refused, as Vertex refuses them), or
``predict`` with the instance and the ``outputDimensionality`` the shard's group names (a batch
job names it once as ``modelParameters``; https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api).
The answer is written as the batch output row, so ``decode`` reads it unchanged.

Calls go out once (``retry=None``): the engine's rate limiter must see every 429
(``RESOURCE_EXHAUSTED``; Vertex sends no rate-limit headers, at most a ``RetryInfo`` delay:
https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429).
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import orjson

from ..._exceptions import RateLimitedError
from ..base import RealtimeAnswer
from ..gemini.realtime import retry_delay
from ..openai.realtime import retry_after
from .codec import ID_LABEL, KEY_FIELD, dimensions_of

__all__ = ["VertexRealtime"]

_REFUSED = {400: "Bad Request", 404: "Not Found", 413: "Payload Too Large",
            422: "Unprocessable Entity"}
"""Statuses that refuse the row itself: written as the row's failed ``status``, as the batch
would; anything else is raised (a refused key, or a failure worth another try)."""


class VertexRealtime:
    """``send_now`` for the Vertex AI adapter (put it first among the adapter's bases)."""

    model: str
    _timeout: float
    if TYPE_CHECKING:
        def _call(self, action: str) -> AbstractContextManager[Any]: ...
        def _model_resource(self) -> str: ...
        def _predictions(self) -> Any: ...
        @property
        def _parent(self) -> str: ...

    def send_now(self, line: bytes, group: str = "") -> RealtimeAnswer:
        from google.api_core import exceptions
        from google.cloud.aiplatform_v1 import GenerateContentRequest, PredictRequest
        from google.protobuf import json_format  # type: ignore[import-untyped]

        item = orjson.loads(line)
        model = self._model_resource()
        if not model.startswith("projects/"):
            model = f"{self._parent}/{model}"
        chat = "request" in item
        echo: dict[str, Any] = {"request": item["request"]} if chat else \
            {"key": item.get(KEY_FIELD)}
        ident = str((item["request"].get("labels") or {}).get(ID_LABEL) if chat
                    else item.get(KEY_FIELD))
        with self._call(f"answer {ident[:60]!r} in real time"):
            client = self._predictions()
            try:
                if chat:
                    request = GenerateContentRequest.from_json(
                        orjson.dumps({**item["request"], "model": model}))
                    reply = client.generate_content(request=request, retry=None,
                                                    timeout=self._timeout)
                else:
                    dimensions = dimensions_of(group)
                    predict: dict[str, Any] = {"endpoint": model, "instances": [
                        {k: v for k, v in item.items() if k != KEY_FIELD}]}
                    if dimensions is not None:
                        predict["parameters"] = {"outputDimensionality": dimensions}
                    reply = client.predict(request=PredictRequest.from_json(
                        orjson.dumps(predict)), retry=None, timeout=self._timeout)
            except json_format.ParseError as exc:  # the SDK refused the line before sending
                return _failed(echo, 400, "INVALID_ARGUMENT", f"refused by the SDK: {exc}")
            except (exceptions.TooManyRequests, exceptions.ResourceExhausted) as exc:
                response = getattr(exc, "response", None)
                wait = retry_after(response.headers) if response is not None else None
                if wait is None and response is not None:
                    try:
                        wait = retry_delay(response.json())
                    except ValueError:
                        wait = None
                raise RateLimitedError("Vertex AI: rate limited (429 RESOURCE_EXHAUSTED)",
                                       retry_after=wait) from None
            except exceptions.GoogleAPICallError as exc:
                code = exc.code if isinstance(exc.code, int) else None
                if code not in _REFUSED:
                    raise  # the adapter's error mapping: a refused key or a passing failure
                status = getattr(exc.grpc_status_code, "name", None) or "INVALID_ARGUMENT"
                return _failed(echo, code, status, str(exc.message))
        body = json_format.MessageToDict(type(reply).pb(reply))
        if chat:
            return RealtimeAnswer(orjson.dumps({"status": "", **echo, "response": body}))
        return RealtimeAnswer(orjson.dumps(
            {"status": "", **echo, "predictions": body.get("predictions") or []}))


def _failed(echo: dict[str, Any], code: int, status: str, message: str) -> RealtimeAnswer:
    """A refused row as the batch writes one: its ``status`` is the HTTP reason followed by
    Google's error body."""
    error = {"error": {"code": code, "message": message, "status": status}}
    text = f"{_REFUSED.get(code, 'Error')}: {json.dumps(error)}"
    return RealtimeAnswer(orjson.dumps({"status": text, **echo}))
