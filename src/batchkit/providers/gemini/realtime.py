"""The Gemini API's synchronous endpoints for real-time mode: one batch line in, one batch
result line out.

A Gemini batch line is ``{"key", "request"}`` where ``request`` is a REST
``GenerateContentRequest`` (or ``EmbedContentRequest``), and a result line is ``{"key",
"response"}`` or ``{"key", "error"}`` (https://ai.google.dev/gemini-api/docs/batch-mode). So a
row is sent now through the google-genai SDK's ``models.generate_content`` /
``models.embed_content``, its request read back into the SDK's own types (which take the REST
camelCase names), and the answer written as the result line the batch would hold. The
client is built without retries, so the engine's rate limiter sees every 429
(``RESOURCE_EXHAUSTED``, with a ``RetryInfo`` delay: https://ai.google.dev/gemini-api/docs/rate-limits).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import orjson

from ..._exceptions import RateLimitedError
from ..base import RealtimeAnswer

__all__ = ["GeminiRealtime"]

_CONFIG_FIELDS = ("systemInstruction", "tools", "toolConfig", "safetySettings", "cachedContent")
"""Request fields that the SDK takes inside ``GenerateContentConfig`` beside the
``generationConfig`` ones."""
_PASSING = (408, 409, 429)
_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")


def retry_delay(details: Any) -> float | None:
    """The ``RetryInfo.retryDelay`` of a Google error body (``"13s"``), in seconds."""
    error = details.get("error") if isinstance(details, Mapping) else None
    for item in (error or {}).get("details") or ():
        if isinstance(item, Mapping) and str(item.get("@type", "")).endswith("RetryInfo"):
            match = _DELAY.match(str(item.get("retryDelay", "")))
            if match:
                return float(match[1])
    return None


class GeminiRealtime:
    """``send_now`` for the Gemini API adapter (put it first among the adapter's bases)."""

    model: str
    if TYPE_CHECKING:
        def _call(self, action: str) -> AbstractContextManager[Any]: ...

    def send_now(self, line: bytes, group: str = "") -> RealtimeAnswer:
        from google.genai import errors, types

        item = orjson.loads(line)
        key, request = str(item["key"]), item["request"]
        with self._call(f"answer {key[:60]!r} in real time") as client:
            try:
                if "contents" in request:
                    config = {**(request.get("generationConfig") or {}),
                              **{k: request[k] for k in _CONFIG_FIELDS if k in request}}
                    reply = client.models.generate_content(
                        model=self.model, config=types.GenerateContentConfig.model_validate(config),
                        contents=[types.Content.model_validate(c) for c in request["contents"]])
                    body = reply.model_dump(mode="json", by_alias=True, exclude_none=True,
                                            exclude={"sdk_http_response", "parsed",
                                                     "automatic_function_calling_history"})
                else:
                    config = {k: request[k] for k in ("taskType", "outputDimensionality", "title")
                              if k in request}
                    reply = client.models.embed_content(
                        model=self.model, contents=[types.Content.model_validate(
                            request["content"])],
                        config=types.EmbedContentConfig.model_validate(config))
                    values = reply.embeddings[0].values if reply.embeddings else None
                    body = {"embedding": {"values": values}}
            except errors.APIError as exc:
                if exc.code == 429:
                    raise RateLimitedError("Gemini: rate limited (429 RESOURCE_EXHAUSTED)",
                                           retry_after=retry_delay(exc.details)) from None
                if exc.code in (401, 403) or exc.code in _PASSING or exc.code >= 500:
                    raise  # the adapter's error mapping: a refused key or a passing failure
                error = {"code": exc.code, "message": str(exc.message or ""),
                         "status": exc.status}
                return RealtimeAnswer(orjson.dumps({"key": key, "error": error}), {})
        http = getattr(reply, "sdk_http_response", None)
        headers = dict(http.headers or {}) if http is not None else {}
        return RealtimeAnswer(orjson.dumps({"key": key, "response": body}), headers)
