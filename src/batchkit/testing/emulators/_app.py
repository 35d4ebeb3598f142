"""What the vendor apps share: the request flow, the error they answer with, and key checks.

Why one base: every vendor app authenticates a call, then routes it under its own lock, and
answers a refused call with the vendor's error body. Written once here, a vendor's ``routes.py``
holds only what is its own: how it reads the key, its URL table, its error body. Checking a body
against a vendor SDK's generated ``*Params`` type is here too, since several vendors need it and
only the wording of their refusal differs.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from batchkit.testing._clock import EmulatorClock
from batchkit.testing._server import (
    EndpointFaults,
    Request,
    Response,
    RetryableItemFaults,
    json_response,
)


class VendorError(Exception):
    """An HTTP error answered with the vendor's own JSON ``body``; vendors subclass it to build
    their body from a status and a message."""

    def __init__(self, status: int, body: Any, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = body

    def response(self) -> Response:
        return json_response(self.body, self.status)


class VendorApp:
    """An emulator app: knobs every vendor has (``api_keys``: None accepts any key, a set only
    those; ``endpoint_faults``; ``retryable_items``, which the vendor shapes into its own
    retryable error rows) and ``handle``, which authenticates, then routes under the lock."""

    name: str

    def __init__(self, clock: EmulatorClock) -> None:
        self.clock = clock
        self.api_keys: set[str] | None = None
        self.endpoint_faults = EndpointFaults()
        self.retryable_items = RetryableItemFaults()
        self._lock = threading.RLock()

    def handle(self, request: Request) -> Response:
        try:
            self._authenticate(request)
            with self._lock:
                return self._route(request)
        except VendorError as failure:
            return failure.response()

    def _authenticate(self, request: Request) -> None:
        """Raise the vendor's 401 (or 403) unless the call carries a key this app accepts."""
        raise NotImplementedError

    def _route(self, request: Request) -> Response:
        raise NotImplementedError

    def _refuses(self, key: str) -> bool:
        """Whether ``key`` (as the vendor reads it; "" when there is none) is refused."""
        return not key or (self.api_keys is not None and key not in self.api_keys)


def bearer_token(request: Request) -> str:
    """The token of an ``Authorization: Bearer <token>`` header, "" when there is none."""
    scheme, _, token = (request.header("Authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def retry_headers(retry_after: float | None, name: str = "Retry-After") -> dict[str, str]:
    """The header an endpoint fault sends with a 429 or 5xx, when it names a wait."""
    return {} if retry_after is None else {name: f"{retry_after:g}"}


def jsonl(rows: Iterable[Any]) -> bytes:
    """Rows as a JSON Lines file, the way the vendors write result files."""
    return "".join(json.dumps(row) + "\n" for row in rows).encode("utf-8")


@dataclass(frozen=True)
class ParamsProblem:
    """The first thing an SDK's ``*Params`` type refuses in a body: a ``missing`` required key,
    an ``unknown`` key, or an ``invalid`` value (pydantic's ``message``) at ``loc``."""

    kind: Literal["missing", "unknown", "invalid"]
    loc: tuple[str | int, ...]
    message: str = ""

    @property
    def path(self) -> str:
        return ".".join(str(part) for part in self.loc)


def params_problem(params_type: Any, body: dict[str, Any]) -> ParamsProblem | None:
    """Check ``body`` against a vendor SDK's generated ``TypedDict``: required keys first, then
    keys it does not declare, then the values (pydantic, imported here: only emulators need it)."""
    from pydantic import TypeAdapter, ValidationError

    for name in sorted(params_type.__required_keys__):
        if name not in body:
            return ParamsProblem("missing", (name,))
    unknown = sorted(set(body) - set(params_type.__annotations__))
    if unknown:
        return ParamsProblem("unknown", (unknown[0],))
    try:
        TypeAdapter(params_type).validate_python(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        return ParamsProblem("invalid", tuple(first["loc"]), first["msg"])
    return None
