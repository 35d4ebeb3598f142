"""What every emulated synchronous endpoint shares: a per-minute request (and token) budget,
the knobs a test sets, and the counters it reads.

Why one class: each vendor answers a spent budget in its own shape (headers, error body,
retry hint), but the bookkeeping under it — calls counted, a request given back when the
token budget refuses it, latency, what was billed — must be the same everywhere, or a
rate-limit test on one vendor would prove nothing about another.

Tests set ``app.realtime.latency_s``, ``.rpm``, ``.tpm`` (and ``.burst_s``) and read
``.answered`` (calls answered 200, by request body: what the account was billed for),
``.calls`` and ``.rate_limited``.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

__all__ = ["Admission", "Budget", "RateGate"]


class Budget:
    """One per-minute budget: a bucket refilled at ``limit / 60`` a second that holds
    ``burst_s`` seconds of it (at least one request's worth)."""

    def __init__(self) -> None:
        self.level: float | None = None
        self.stamp = time.monotonic()

    def take(self, limit: int | None, amount: int, burst_s: float, now: float
             ) -> tuple[bool, float, float]:
        """``(taken, remaining, seconds until full)``; nothing is taken when it does not fit."""
        if limit is None:
            return True, math.inf, 0.0
        rate = limit / 60.0
        capacity = max(float(amount), rate * burst_s, 1.0)
        level = capacity if self.level is None else self.level
        level = min(capacity, level + (now - self.stamp) * rate)
        self.stamp = now
        taken = level >= amount
        if taken:
            level -= amount
        self.level = level
        return taken, level, (capacity - level) / rate


@dataclass(frozen=True)
class Admission:
    """The two budgets' answer to one call: whether it may run, and what each has left."""

    requests_ok: bool
    requests_left: float
    requests_reset: float
    tokens_ok: bool
    tokens_left: float
    tokens_reset: float

    @property
    def ok(self) -> bool:
        return self.requests_ok and self.tokens_ok

    @property
    def wait(self) -> float:
        """Seconds until the budget that refused the call has room again."""
        return self.requests_reset if not self.requests_ok else self.tokens_reset

    @property
    def refused(self) -> str:
        """Which budget refused the call: ``requests`` or ``tokens``."""
        return "requests" if not self.requests_ok else "tokens"


class RateGate:
    """The budgets and counters of one emulated account's synchronous endpoints."""

    def __init__(self) -> None:
        self.latency_s = 0.0
        self.rpm: int | None = None
        self.tpm: int | None = None
        self.burst_s = 1.0
        self.answered: Counter[str] = Counter()
        self.rate_limited = 0
        self.calls = 0
        self._requests, self._tokens = Budget(), Budget()
        self._lock = threading.Lock()

    def admit(self, tokens: int = 0) -> Admission:
        """Count the call and take one request and ``tokens`` from the budgets; a call the
        token budget refuses gives its request back (nothing ran)."""
        with self._lock:
            self.calls += 1
            now = time.monotonic()
            ok_r, left_r, reset_r = self._requests.take(self.rpm, 1, self.burst_s, now)
            ok_t, left_t, reset_t = (False, 0.0, 0.0) if not ok_r else \
                self._tokens.take(self.tpm, tokens, self.burst_s, now)
            if ok_r and not ok_t:
                self._requests.level = (self._requests.level or 0.0) + 1
            if not (ok_r and ok_t):
                self.rate_limited += 1
        return Admission(ok_r, left_r, reset_r, ok_t, left_t, reset_t)

    def pause(self) -> None:
        """The vendor's think time, outside any lock so calls overlap as they would."""
        if self.latency_s:
            time.sleep(self.latency_s)

    def billed(self, body: Any) -> None:
        """Record a call answered 200 (what the account pays for)."""
        with self._lock:
            self.answered[json.dumps(body, sort_keys=True)] += 1
