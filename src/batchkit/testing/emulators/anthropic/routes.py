"""The Anthropic Message Batches emulator, mounted at ``/anthropic``.

Why: batchkit's Anthropic adapter drives the official ``anthropic`` SDK, so tests point that SDK at
this app (``base_url=f"{url}/anthropic"``) and everything between the adapter and the wire is
real. The app answers as Anthropic does: ``x-api-key`` auth (SDK 2.11 sends the key as
``Authorization: Bearer``, also taken) and a required ``anthropic-version`` header, 400 bodies
``{"type": "error", "error": {"type": "invalid_request_error", "message"}}`` for
a bad batch envelope (custom_id pattern, duplicates, more than 100,000 requests), and the vendor's
*asynchronous* per-request validation: ``params`` are checked with the SDK's own
``MessageCreateParamsNonStreaming`` (plus unknown top-level keys) and a bad one ends ``errored``
with ``invalid_request_error``, as the batch-processing guide describes. ``POST
/v1/messages/count_tokens`` checks its body with the SDK's ``MessageCountTokensParams`` and
answers a deterministic count (:func:`count_tokens`). Tests arm faults and read counters on the
app object (``handle.apps["anthropic"]``).
"""

from __future__ import annotations

import json
import re
import secrets
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from batchkit.testing._clock import EmulatorClock
from batchkit.testing._server import (
    Request,
    Response,
    bytes_response,
    json_response,
)
from batchkit.testing._text import collect_text, estimate_tokens
from batchkit.testing.emulators._app import VendorApp, VendorError, bearer_token, retry_headers
from batchkit.testing.emulators.anthropic.realtime import MESSAGES_PATH, MessagesEndpoint
from batchkit.testing.emulators.anthropic.replies import Responder, default_responder
from batchkit.testing.emulators.anthropic.rules import rule_problem
from batchkit.testing.emulators.anthropic.state import (
    BatchRequest,
    EmulatedBatch,
    FaultKind,
    ItemFault,
    Phases,
)

CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_REQUESTS = 100_000
MAX_BYTES = 256 * 1024 * 1024
BATCHES_PATH = ["v1", "messages", "batches"]
COUNT_PATH = ["v1", "messages", "count_tokens"]
_ERROR_STATUS = {400: "invalid_request_error", 401: "authentication_error",
                 404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
                 529: "overloaded_error"}


class ApiError(VendorError):
    """An HTTP error answered with Anthropic's error body."""

    def __init__(self, status: int, message: str) -> None:
        body = {"type": "error",
                "error": {"type": _ERROR_STATUS.get(status, "api_error"), "message": message},
                "request_id": "req_" + secrets.token_hex(12)}
        super().__init__(status, body, message)


class ParamsChecker:
    """Validates one request's ``params`` with the SDK's ``MessageCreateParamsNonStreaming``
    (or, with ``counting=True``, a count-tokens body with ``MessageCountTokensParams``).

    The SDK's TypedDicts ignore unknown keys and declare lists as lazy ``Iterable`` s, so the
    checker also refuses unknown top-level keys (as the API does) and drains every lazy iterable
    so that nested errors surface. Required keys are checked by hand: the TypedDicts declare
    them with ``Required[...]`` under ``total=False``, which pydantic does not enforce here.
    """

    def __init__(self, *, counting: bool = False) -> None:
        from anthropic.types.message_count_tokens_params import MessageCountTokensParams
        from anthropic.types.message_create_params import MessageCreateParamsNonStreaming

        params_type: Any = MessageCountTokensParams if counting else \
            MessageCreateParamsNonStreaming
        self.required = ("messages", "model") if counting else ("max_tokens", "messages", "model")
        self._adapter: TypeAdapter[Any] = TypeAdapter(params_type)
        self._known = set(params_type.__annotations__)

    def problem(self, params: Any) -> str | None:
        """None if ``params`` are valid, else the vendor-style message."""
        if not isinstance(params, dict):
            return "params: Input should be a valid dictionary"
        unknown = sorted(set(params) - self._known)
        if unknown:
            return f"{unknown[0]}: Extra inputs are not permitted"
        for name in self.required:
            if name not in params:
                return f"{name}: Field required"
        if params.get("stream") is True:
            return "stream: Streaming is not supported in the Message Batches API"
        if isinstance(params.get("max_tokens"), int) and params["max_tokens"] < 1:
            return "max_tokens: Each batched request must have `max_tokens` of at least `1`"
        try:
            _drain(self._adapter.validate_python(params))
        except PydanticValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            return f"{where}: {err['msg']}" if where else str(err["msg"])
        return rule_problem(params)


def _drain(value: Any) -> None:
    """Consume pydantic's lazy ``ValidatorIterator`` s (recursively) so they validate."""
    if isinstance(value, Mapping):
        for item in value.values():
            _drain(item)
    elif isinstance(value, Iterable) and not isinstance(value, (str, bytes, bytearray)):
        for item in value:
            _drain(item)


class AnthropicEmulator(VendorApp):
    """The Anthropic app. Knobs: ``phases``, ``responder``, ``api_keys`` (None accepts any key),
    ``max_requests`` (lower it to test the limit without 100,000 lines), faults and counters."""

    name = "anthropic"

    def __init__(self, clock: EmulatorClock, *, responder: Responder | None = None) -> None:
        super().__init__(clock)
        self.responder: Responder = responder or default_responder
        self.phases = Phases()
        self.max_requests = MAX_REQUESTS
        self.item_faults: dict[str, ItemFault] = {}
        self.batches: dict[str, EmulatedBatch] = {}
        self.creates = 0
        self._creates_by_first_id: Counter[str] = Counter()
        self._checker = ParamsChecker()
        self._count_checker = ParamsChecker(counting=True)
        self.realtime = MessagesEndpoint(
            lambda url, params, custom_id: self.responder(url, params, custom_id),
            self._checker.problem)
        """``POST /v1/messages``, the synchronous endpoint that real-time mode calls."""
        self.counted: list[int] = []
        """Every figure ``count_tokens`` answered, in order, so tests can follow them."""

    # ---- fault and counter API for tests -------------------------------------------------

    def fault(self, custom_id: str, kind: FaultKind, *, error_type: str = "api_error") -> None:
        """Make the request ``custom_id`` end ``kind`` in any batch created afterwards."""
        self.item_faults[custom_id] = ItemFault(kind, error_type)

    def batches_created_with(self, first_custom_id: str) -> int:
        """How many creates had ``first_custom_id`` as their first request. Anthropic batches
        carry no metadata, so this is how a test counts the batches of one shard."""
        return self._creates_by_first_id[first_custom_id]

    def fault_response(self, status: int, retry_after: float | None) -> Response:
        headers = retry_headers(retry_after, "retry-after")
        messages = {429: "Number of request tokens has exceeded your rate limit.",
                    529: "Overloaded"}
        failure = ApiError(status, messages.get(status, "Internal server error"))
        return json_response(failure.body, status, headers)

    # ---- HTTP --------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Real-time calls are answered outside the app's lock: each takes its latency in its
        own server thread, as calls to the vendor overlap."""
        if request.method != "POST" or request.path.strip("/").split("/") != MESSAGES_PATH:
            return super().handle(request)
        try:
            self._authenticate(request)
        except VendorError as failure:
            return failure.response()
        return self.realtime.handle(request)

    def _authenticate(self, request: Request) -> None:
        # Anthropic's API reference names ``x-api-key``; SDK 2.11 sends an API key as
        # ``Authorization: Bearer``. The API takes either, so the emulator does too.
        key = (request.header("x-api-key") or "").strip() or bearer_token(request)
        if not key:
            raise ApiError(401, "x-api-key header is required")
        if self._refuses(key):
            raise ApiError(401, "invalid x-api-key")
        if not request.header("anthropic-version"):
            raise ApiError(400, "anthropic-version: header is required")

    def _route(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        method = request.method
        if parts == COUNT_PATH and method == "POST":
            return self._count_tokens(request)
        if parts[:3] == BATCHES_PATH:
            rest = parts[3:]
            if not rest and method == "POST":
                return self._create(request)
            if not rest and method == "GET":
                return self._list(request)
            if len(rest) == 1 and method == "GET":
                return json_response(self._retrieve(rest[0]).as_json())
            if len(rest) == 1 and method == "DELETE":
                return self._delete(rest[0])
            if len(rest) == 2 and rest[1] == "cancel" and method == "POST":
                return self._cancel(rest[0])
            if len(rest) == 2 and rest[1] == "results" and method == "GET":
                return self._results(rest[0])
        raise ApiError(404, f"Not found: {method} {request.path}")

    # ---- token counting ----------------------------------------------------------------------

    def _count_tokens(self, request: Request) -> Response:
        """``POST /v1/messages/count_tokens``: a synchronous 400 for a bad body (this endpoint
        answers at once, unlike a batch), else ``{"input_tokens": n}`` from :func:`count_tokens`."""
        try:
            body = request.json()
        except ValueError:
            raise ApiError(400, "There was an issue with your request body: invalid JSON") from None
        problem = self._count_checker.problem(body)
        if problem is not None:
            raise ApiError(400, problem)
        tokens = count_tokens(body)
        self.counted.append(tokens)
        return json_response({"input_tokens": tokens})

    # ---- batches -----------------------------------------------------------------------------

    def _create(self, request: Request) -> Response:
        if len(request.body) > MAX_BYTES:
            raise ApiError(413, f"Request exceeds the maximum size of {MAX_BYTES} bytes")
        try:
            body = request.json()
        except ValueError:
            raise ApiError(400, "There was an issue with your request body: invalid JSON") from None
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list):
            raise ApiError(400, "requests: Field required")
        if not requests:
            raise ApiError(400, "requests: List should have at least 1 item after validation")
        if len(requests) > self.max_requests:
            raise ApiError(400, f"requests: List should have at most {self.max_requests} items "
                           f"after validation, not {len(requests)}")
        batch_requests = self._check_requests(requests)
        batch_id = "msgbatch_" + secrets.token_hex(12)
        host = request.header("Host") or "127.0.0.1"
        batch = EmulatedBatch(
            id=batch_id,
            created_at=self.clock.now(),
            requests=batch_requests,
            faults=self.retryable_items.overlay(
                {r.custom_id: self.item_faults[r.custom_id]
                 for r in batch_requests if r.custom_id in self.item_faults}, _retryable_item),
            phases=Phases(**vars(self.phases)),
            results_url=f"http://{host}/{self.name}/v1/messages/batches/{batch_id}/results",
        )
        self.batches[batch_id] = batch
        self.creates += 1
        self._creates_by_first_id[batch_requests[0].custom_id] += 1
        return json_response(batch.as_json())

    def _check_requests(self, requests: list[Any]) -> list[BatchRequest]:
        """The envelope rules answer 400 at once; ``params`` problems become errored results."""
        seen: set[str] = set()
        out = []
        for index, item in enumerate(requests):
            if not isinstance(item, dict) or "params" not in item or "custom_id" not in item:
                raise ApiError(400, f"requests.{index}: custom_id and params are required")
            cid = item["custom_id"]
            if not isinstance(cid, str) or not CUSTOM_ID.match(cid):
                raise ApiError(400, f"requests.{index}.custom_id: String should match pattern "
                               "'^[a-zA-Z0-9_-]{1,64}$'")
            if cid in seen:
                raise ApiError(400, f"Duplicate custom_id: {cid!r}. Each request in a Message "
                               "Batch must have a unique custom_id.")
            seen.add(cid)
            params = item["params"]
            out.append(BatchRequest(cid, params if isinstance(params, dict) else {},
                                    self._checker.problem(params)))
        return out

    def _sync(self, batch: EmulatedBatch, *, polled: bool) -> EmulatedBatch:
        """Bring ``batch`` up to the clock (in auto mode a poll first jumps to its next step)."""
        if polled:
            self.clock.reach(batch.next_due())
        batch.advance(self.clock.now(), self.responder)
        return batch

    def _batch(self, batch_id: str) -> EmulatedBatch:
        batch = self.batches.get(batch_id)
        if batch is None:
            raise ApiError(404, f"No message batch with id {batch_id!r}")
        return batch

    def _retrieve(self, batch_id: str) -> EmulatedBatch:
        return self._sync(self._batch(batch_id), polled=True)

    def _list(self, request: Request) -> Response:
        raw_limit = request.query_value("limit") or "20"
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
            raise ApiError(400, f"limit: Input should be between 1 and 1000, got {raw_limit!r}")
        limit = int(raw_limit)
        newest_first = list(reversed(self.batches.values()))  # dicts keep creation order
        ids = [b.id for b in newest_first]
        after, before = request.query_value("after_id"), request.query_value("before_id")
        if after is not None and before is not None:
            raise ApiError(400, "Only one of after_id and before_id may be given")
        for cursor in (after, before):
            if cursor is not None and cursor not in ids:
                raise ApiError(400, f"Invalid cursor: {cursor!r}")
        if after is not None:
            pool = newest_first[ids.index(after) + 1:]
            page = pool[:limit]
        elif before is not None:
            pool = newest_first[: ids.index(before)]
            page = pool[-limit:]
        else:
            pool = newest_first
            page = pool[:limit]
        for batch in page:  # a listing polls what it shows: auto mode moves each one step
            self._sync(batch, polled=True)
        return json_response({
            "data": [b.as_json() for b in page],
            "has_more": len(pool) > len(page),
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
        })

    def _cancel(self, batch_id: str) -> Response:
        batch = self._sync(self._batch(batch_id), polled=False)
        if batch.status == "in_progress":
            batch.cancel(self.clock.now(), self.responder)
        return json_response(batch.as_json())

    def _delete(self, batch_id: str) -> Response:
        batch = self._sync(self._batch(batch_id), polled=False)
        if batch.status != "ended":
            raise ApiError(400, f"Batch {batch_id} cannot be deleted while it is processing; "
                           "cancel it first.")
        del self.batches[batch_id]
        return json_response({"id": batch_id, "type": "message_batch_deleted"})

    def _results(self, batch_id: str) -> Response:
        batch = self._sync(self._batch(batch_id), polled=False)
        if batch.status != "ended":
            raise ApiError(400, f"Batch {batch_id} has not finished processing; results are "
                           "available once processing_status is 'ended'.")
        data = "".join(json.dumps(row) + "\n" for row in batch.result_rows()).encode("utf-8")
        return bytes_response(data, "application/binary")


def count_tokens(params: Mapping[str, Any]) -> int:
    """The emulator's deterministic stand-in for Claude's tokenizer: about four characters per
    token over system, messages and tools, plus 3 per message (the turn markers)."""
    text = " ".join(filter(None, (collect_text(params.get("system") or ""),
                                  collect_text(list(params.get("messages") or [])))))
    tools = params.get("tools")
    tool_tokens = estimate_tokens(json.dumps(tools)) if tools else 0
    return estimate_tokens(text) + 3 * len(list(params.get("messages") or [])) + tool_tokens


def create_app(clock: EmulatorClock) -> AnthropicEmulator:
    """Factory named in the emulate() table."""
    return AnthropicEmulator(clock)


def _retryable_item(status: int) -> ItemFault:
    """A retryable item fault as Anthropic writes it: an ``errored`` result whose error type
    says "try again" (https://docs.anthropic.com/en/api/errors)."""
    return ItemFault("errored", {429: "rate_limit_error", 503: "overloaded_error"}.get(
        status, "api_error"))
