"""Faults the emulators inject, armed by a test on an app: at its endpoints (HTTP 429/5xx,
delays, answers held past the client's read timeout, reset connections, cut bodies, corrupted
lines) and in its batches (items that fail with a retryable error on their first run).

Why apart from the server: what can go wrong is one vocabulary for every vendor, so a test arms
the same fault the same way on any app; the server applies endpoint faults, and each vendor app
only shapes an item fault into its own error row.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batchkit.testing._server import Request


@dataclass
class EndpointFault:
    """One armed fault on an app's endpoints: answer ``status`` (or drop/delay/cut) ``times`` times.

    With ``rate`` set the fault never runs out: it hits that fraction of matching requests,
    chosen by a seeded generator so a run can be repeated exactly.
    """

    status: int | None
    method: str | None
    path_prefix: str
    times: int
    retry_after: float | None
    delay: float
    drop: bool
    path_suffix: str = ""
    truncate: bool = False
    """Send the real response's headers and only the first half of its body, then hang up."""
    corrupt_lines: float = 0.0
    """Serve the real response with this fraction of its lines replaced by broken JSON."""
    rate: float | None = None
    rng: random.Random | None = None
    hold: float = 0.0
    """Do the work, then hold the answer this long (past the client's read timeout) and send
    it to a client that is no longer listening: the server acted, the client never heard."""
    mixed: bool = False
    """Each hit is one of :data:`MIXED_EFFECTS`, drawn from ``rng`` (see ``mixed()``)."""


MIXED_EFFECTS = ("429", "500", "503", "reset", "read_timeout", "cut_body")
"""What :meth:`EndpointFaults.mixed` draws from, one per hit: the failures a client of any
vendor meets on any endpoint."""


class EndpointFaults:
    """Arms HTTP-level failures (429 with Retry-After, 5xx, delays, dropped connections, cut
    bodies, corrupted lines), a set number of times or at a set rate.

    Why per app and counted: a retry test needs "the next two creates answer 429, then succeed",
    deterministic and independent of other vendors on the same server.
    """

    def __init__(self) -> None:
        self._armed: list[EndpointFault] = []
        self._lock = threading.Lock()
        self.hits = 0
        """How many requests a fault was applied to (so a test can show faults really fired)."""
        self.calls: Counter[tuple[str, str]] = Counter()
        """Every request that reached the app, by (method, path below the mount point), so a
        test can count what a client really sent (e.g. one list call instead of N retrieves)."""

    def add(
        self,
        status: int | None = 500,
        *,
        method: str | None = None,
        path_prefix: str = "/",
        path_suffix: str = "",
        times: int = 1,
        retry_after: float | None = None,
        delay: float = 0.0,
        drop: bool = False,
        truncate: bool = False,
        corrupt_lines: float = 0.0,
        rate: float | None = None,
        seed: int = 0,
        hold: float = 0.0,
    ) -> None:
        """Arm a fault for the next ``times`` matching requests, or for a ``rate`` of them.

        ``status=None`` with no other effect only delays (``delay``: before the work) or holds
        (``hold``: after the work, so a client with a shorter read timeout never hears of it).
        """
        fault = EndpointFault(status, method, path_prefix, times, retry_after, delay, drop,
                              path_suffix, truncate, corrupt_lines, rate,
                              random.Random(seed) if rate is not None else None, hold=hold)
        with self._lock:
            self._armed.append(fault)

    def mixed(self, rate: float, *, seed: int = 0, hold: float = 0.3,
              path_prefix: str = "/") -> None:
        """Fail ``rate`` of every request below ``path_prefix`` for good, each hit one of
        :data:`MIXED_EFFECTS` drawn at random: 429 (``Retry-After: 0``), 500, 503,
        a reset connection, an answer held ``hold`` seconds (give the client a shorter read
        timeout) or a body cut half way. Seeded, so a run repeats exactly."""
        fault = EndpointFault(None, None, path_prefix, 0, None, 0.0, False, rate=rate,
                              rng=random.Random(seed), hold=hold, mixed=True)
        with self._lock:
            self._armed.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def note(self, request: Request) -> None:
        """Count ``request`` in :attr:`calls` (the server calls this for every request)."""
        with self._lock:
            self.calls[(request.method, request.path)] += 1

    def take(self, request: Request) -> EndpointFault | None:
        """Consume and return the first armed fault matching ``request``, if any."""
        with self._lock:
            for fault in self._armed:
                if fault.method not in (None, request.method):
                    continue
                if not request.path.startswith(fault.path_prefix):
                    continue
                if not request.path.endswith(fault.path_suffix):
                    continue
                if fault.rng is not None and fault.rate is not None:
                    if fault.rng.random() >= fault.rate:
                        continue
                else:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._armed.remove(fault)
                self.hits += 1
                return _drawn(fault) if fault.mixed else fault
        return None


def _drawn(fault: EndpointFault) -> EndpointFault:
    """One concrete effect for a hit of a mixed fault (called under the faults' lock)."""
    assert fault.rng is not None
    effect = fault.rng.choice(MIXED_EFFECTS)
    plain = replace(fault, mixed=False, hold=0.0)
    if effect == "reset":
        return replace(plain, drop=True)
    if effect == "read_timeout":
        return replace(plain, hold=fault.hold)
    if effect == "cut_body":
        return replace(plain, truncate=True)
    return replace(plain, status=int(effect), retry_after=0.0 if effect == "429" else None)


class RetryableItemFaults:
    """Items (requests inside a batch) that fail with the vendor's retryable error the first
    time a batch runs them, and succeed when a later batch runs them again.

    Why here, once: every vendor writes a failed row differently, but which rows fail, and that
    a retry must cure them, is the same test for all. A seeded hash of the item's id picks
    ``rate`` of the ids and a status (429, 500 or 503); a vendor app asks through
    :meth:`overlay` and shapes the status into its own error row.
    """

    STATUSES = (429, 500, 503)

    def __init__(self) -> None:
        self.rate = 0.0
        self.seed = 0
        self._failed: set[str] = set()
        self._lock = threading.Lock()

    def arm(self, rate: float, *, seed: int = 0) -> None:
        self.rate, self.seed = rate, seed

    @property
    def hits(self) -> int:
        """How many items have failed so far (a test shows the faults really fired)."""
        return len(self._failed)

    def status_for(self, item_id: str) -> int | None:
        """The status ``item_id`` fails with in this run, or None (always None after its
        first failure, so a retry succeeds)."""
        if not self.rate:
            return None
        digest = hashlib.sha256(f"{self.seed}:{item_id}".encode()).digest()
        if int.from_bytes(digest[:8], "big") / 2**64 >= self.rate:
            return None
        with self._lock:
            if item_id in self._failed:
                return None
            self._failed.add(item_id)
        return self.STATUSES[digest[8] % len(self.STATUSES)]

    def overlay(self, explicit: Mapping[str, Any], shape: Callable[[int], Any]) -> ItemFaultView:
        """``explicit`` (the faults a test armed by id) with this plan's faults, shaped by the
        vendor's ``shape(status)``, behind it: what one batch consults for its rows."""
        return ItemFaultView(dict(explicit), self, shape)


class ItemFaultView(Mapping[str, Any]):
    """The faults one batch sees: explicit ones first, then retryable ones decided once per
    item and remembered, so a batch that looks at a row twice sees the same answer."""

    def __init__(self, explicit: dict[str, Any], plan: RetryableItemFaults,
                 shape: Callable[[int], Any]) -> None:
        self._explicit = explicit
        self._plan = plan
        self._shape = shape
        self._decided: dict[str, Any] = {}

    def __getitem__(self, item_id: str) -> Any:
        if item_id in self._explicit:
            return self._explicit[item_id]
        if item_id not in self._decided:
            status = self._plan.status_for(item_id)
            self._decided[item_id] = None if status is None else self._shape(status)
        found = self._decided[item_id]
        if found is None:
            raise KeyError(item_id)
        return found

    def __iter__(self) -> Iterator[str]:
        yield from self._explicit
        yield from (k for k, v in self._decided.items() if v is not None)

    def __len__(self) -> int:
        return len(self._explicit) + sum(1 for v in self._decided.values() if v is not None)
