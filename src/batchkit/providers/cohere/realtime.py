"""Cohere's synchronous endpoints for real-time mode: one batch line in, one output record out.

An embed-job line is ``{"text", "batchkit_id", <metadata fields>}`` and the job writes each
row back with its ``embeddings`` by type; so a row is sent now through the ``cohere`` SDK's
``ClientV2.embed`` (``POST /v2/embed``, https://docs.cohere.com/reference/embed) with the
input type the shard's group names and the adapter's ``embedding_types`` / ``truncate``, and
written as that record, plus the answer's ``meta`` (billed tokens: real-time calls report
them, embed jobs do not). A chat line ``{"custom_id", "body"}`` goes to ``ClientV2.chat``
(``POST /v2/chat``) and is written as the batch record ``{"custom_id", "body", "error"}``.

Calls go out once (``max_retries: 0``) so the engine's rate limiter sees every 429; Cohere
documents no rate-limit headers (https://docs.cohere.com/docs/rate-limits), so whatever a 429
carries (``retry-after``) is all there is to learn from.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import orjson

from ..._exceptions import RateLimitedError
from ..base import RealtimeAnswer
from ..openai.realtime import retry_after
from .codec import ID_FIELD

__all__ = ["CohereRealtime"]

_REFUSED = frozenset({400, 404, 413, 422})
"""Statuses that refuse the row itself: written as its error, as the batch would."""
_ONCE = {"max_retries": 0}


class CohereRealtime:
    """``send_now`` for the Cohere adapter (put it first among the adapter's bases)."""

    model: str
    _input_type: str
    _embedding_types: list[str]
    _truncate: str | None
    if TYPE_CHECKING:
        def _call(self, action: str) -> AbstractContextManager[Any]: ...
        def _redact(self, text: str) -> str: ...

    def send_now(self, line: bytes, group: str = "") -> RealtimeAnswer:
        from cohere.core.api_error import ApiError

        item = orjson.loads(line)
        chat = "body" in item and ID_FIELD not in item
        ident = str(item["custom_id"] if chat else item[ID_FIELD])
        with self._call(f"answer {ident[:60]!r} in real time") as client:
            raw = client.with_raw_response
            try:
                if chat:
                    reply = raw.chat(model=self.model, **item["body"], request_options=_ONCE)
                else:
                    options: dict[str, Any] = {"truncate": self._truncate} \
                        if self._truncate else {}
                    reply = raw.embed(
                        model=self.model, texts=[item["text"]],
                        input_type=group.partition(":")[2] or self._input_type,
                        embedding_types=self._embedding_types, request_options=_ONCE,
                        **options)
            except ApiError as exc:
                headers = dict(exc.headers or {})
                if exc.status_code == 429:
                    raise RateLimitedError("Cohere: rate limited (HTTP 429)",
                                           retry_after=retry_after(headers)) from None
                if exc.status_code not in _REFUSED:
                    raise  # the adapter's error mapping: a refused key or a passing failure
                body = exc.body if isinstance(exc.body, dict) else {}
                message = self._redact(
                    f"HTTP {exc.status_code}: {body.get('message') or exc.body}")[:500]
                if chat:
                    row: dict[str, Any] = {"custom_id": ident, "body": None, "error": message}
                else:  # an embed-job record holds no error: an empty record reads as errored
                    row = {**item, "embeddings": {}, "meta": {"error": message}}
                return RealtimeAnswer(orjson.dumps(row), headers)
        answer = reply.response.json()
        if chat:
            row = {"custom_id": ident, "body": answer, "error": ""}
        else:
            found = answer.get("embeddings") or {}
            row = {**item, "embeddings": {t: (found.get(t) or [None])[0]
                                          for t in self._embedding_types},
                   "meta": answer.get("meta") or {}}
        return RealtimeAnswer(orjson.dumps(row), reply.headers)
