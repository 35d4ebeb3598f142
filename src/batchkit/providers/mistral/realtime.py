"""Mistral's synchronous endpoints for real-time mode: one batch line in, one batch result line
out.

A Mistral batch line is ``{"custom_id", "body"}`` with the model and endpoint named once on the
job (https://docs.mistral.ai/capabilities/batch/), so a row is sent now through the ``mistralai``
SDK's ``chat.complete``, ``embeddings.create`` or ``classifiers.moderate`` (the line's group
says which) with the adapter's model, and the answer is
written in the result-file shape ``{"id", "custom_id", "response": {"status_code", "body"},
"error"}`` that ``decode`` reads. Retries are off for these calls, so the engine's rate limiter
sees every 429.
"""

from __future__ import annotations

import secrets
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import orjson

from ..._exceptions import RateLimitedError
from ..base import RealtimeAnswer
from ..openai.realtime import retry_after

__all__ = ["MistralRealtime"]

_PASSING = (408, 409, 429)
_SDK_NAMES = {"input": "inputs"}
"""Where the SDK's keyword differs from the REST field of the body."""


class MistralRealtime:
    """``send_now`` for the Mistral adapter (put it first among the adapter's bases)."""

    model: str
    if TYPE_CHECKING:
        def _call(self, action: str) -> AbstractContextManager[Any]: ...

    def send_now(self, line: bytes, group: str = "") -> RealtimeAnswer:
        from mistralai.client import errors
        from mistralai.client.utils import BackoffStrategy, RetryConfig
        from pydantic import ValidationError

        item = orjson.loads(line)
        custom_id = str(item["custom_id"])
        body: dict[str, Any] = dict(item["body"])
        body.setdefault("model", self.model)
        quiet = RetryConfig("none", BackoffStrategy(500, 500, 1.0, 500), False)
        with self._call(f"answer {custom_id[:60]!r} in real time") as client:
            try:
                if "messages" in body:
                    reply = client.chat.complete(**body, retries=quiet)
                elif group == "moderation":
                    reply = client.classifiers.moderate(
                        **{_SDK_NAMES.get(k, k): v for k, v in body.items()}, retries=quiet)
                else:
                    reply = client.embeddings.create(
                        **{_SDK_NAMES.get(k, k): v for k, v in body.items()}, retries=quiet)
            except ValidationError as exc:  # the SDK refused the body before sending it
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"])
                return _answer(custom_id, 422, {"type": "invalid_request_error", "message":
                                                f"refused by the SDK: {where}: {err['msg']}"}, {})
            except errors.MistralError as exc:
                status = exc.status_code
                headers = exc.raw_response.headers
                if status == 429:
                    raise RateLimitedError("Mistral: rate limited (HTTP 429)",
                                           retry_after=retry_after(headers)) from None
                if status in (401, 403) or status in _PASSING or status >= 500:
                    raise  # the adapter's error mapping: a refused key or a passing failure
                return _answer(custom_id, status, _json(exc.body), dict(headers))
        return _answer(custom_id, 200, reply.model_dump(mode="json", by_alias=True), {})


def _json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"message": text[:500]}


def _answer(custom_id: str, status: int, body: Any, headers: dict[str, str]) -> RealtimeAnswer:
    row = {"id": f"batch-{secrets.token_hex(12)}", "custom_id": custom_id,
           "response": {"status_code": status, "body": body}, "error": None}
    return RealtimeAnswer(orjson.dumps(row), headers)
