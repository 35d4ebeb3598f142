"""Rate limits for real-time calls: request and token budgets per ``provider:model``, learned
from the vendor's headers, with a concurrency window that backs off on 429 and grows back.

A vendor enforces requests per minute (RPM) and tokens per minute (TPM) per model, over
windows shorter than a minute: a burst of a whole minute's requests at once is refused even
when the minute's total is within the limit. So each budget is a token bucket that refills at
``limit / 60`` per second and holds one second's worth (at least one request), which spreads
the calls evenly and keeps the account at its limit rather than over it.

Budgets come from the options ``rpm`` / ``tpm`` (or ``[limits."provider:model"]`` in
batchkit.toml), and from the rate-limit headers each answer carries, read by pattern rather
than by vendor (``*ratelimit-limit-requests``, ``*ratelimit-requests-limit``, ``-remaining``,
``-reset``, ``retry-after``). The lower of a configured and a learned limit holds.

Without any known limit, the concurrency window alone keeps the pace: it starts small, grows
by one per window of successes, halves on a 429, and every caller then waits the vendor's
``retry-after`` before the next call. The limiter of one ``provider:model`` is shared by every
job of the process (jobs on one model draw from one account limit).
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ._exceptions import ConfigError

__all__ = [
    "DEFAULT_CONCURRENCY",
    "RateLimiter",
    "RateStats",
    "Ticket",
    "check_rate_options",
    "limiter_for",
    "parse_reset",
]

DEFAULT_CONCURRENCY = 64
"""The most real-time calls in flight at once unless ``concurrency`` says otherwise."""
_START_WINDOW = 8
"""Calls in flight before the first answers arrive: a vendor whose limits are not known yet
is approached gently."""
_DEFAULT_RETRY_AFTER = 1.0
"""The pause after a 429 that named no ``retry-after``."""

_HEADER = re.compile(
    r"ratelimit-(?:(?P<field1>limit|remaining|reset)-(?P<kind1>requests|tokens)"
    r"|(?P<kind2>requests|tokens)-(?P<field2>limit|remaining|reset))$"
)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_reset(value: str, now: float | None = None) -> float | None:
    """Seconds until a budget refills, from a header value: ``"6m0s"``, ``"20ms"``, ``"1.5"``
    (seconds) or an RFC 3339 time; None when it cannot be read."""
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if parts and "".join(n + u for n, u in parts) == text:
        scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
        return sum(float(n) * scale[u] for n, u in parts)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
    return max(0.0, when - (time.time() if now is None else now))


class _Bucket:
    """A per-minute budget as a token bucket holding one second of it; no limit: never waits."""

    def __init__(self, per_minute: float | None) -> None:
        self.configured = per_minute
        self.per_minute = per_minute
        self.level = 0.0 if per_minute is None else self.capacity
        self.stamp = time.monotonic()
        self.spent = 0.0
        """All ever taken, so an answer can tell what was sent after its own call."""

    @property
    def capacity(self) -> float:
        return max(1.0, (self.per_minute or 0.0) / 60.0)

    def _refill(self, now: float) -> None:
        if self.per_minute is not None:
            self.level = min(self.capacity, self.level + (now - self.stamp) * self.per_minute / 60)
        self.stamp = now

    def wait(self, amount: float, now: float) -> float:
        """Seconds until ``amount`` may be taken (a request bigger than the bucket waits for a
        full bucket and leaves it in debt, so it is slowed, never refused)."""
        if self.per_minute is None:
            return 0.0
        self._refill(now)
        need = min(amount, self.capacity)
        return 0.0 if self.level >= need else (need - self.level) * 60.0 / self.per_minute

    def take(self, amount: float) -> None:
        self.spent += amount
        if self.per_minute is not None:
            self.level -= amount

    def learn(self, limit: float | None, remaining: float | None, now: float,
              since: float = 0.0, spent_then: float | None = None) -> None:
        """What a vendor header said: its limit (kept below a configured one) and what is left
        when the call arrived, ``since`` seconds ago, when ``spent_then`` had been taken. The
        bucket never believes it holds more than that, refilled since, less what was sent
        after the call (an answer is always a little stale)."""
        if limit is not None and limit > 0:
            new = limit if self.configured is None else min(limit, self.configured)
            if new != self.per_minute:
                first = self.per_minute is None
                self.per_minute = new
                if first:
                    self.level, self.stamp = self.capacity, now
        if remaining is not None and self.per_minute is not None:
            self._refill(now)
            after = 0.0 if spent_then is None else self.spent - spent_then
            self.level = min(self.level, remaining + since * self.per_minute / 60 - after)


@dataclass
class RateStats:
    """What the limiter saw, for progress bars and benchmarks."""

    calls: int = 0
    rate_limited: int = 0
    """Calls answered 429."""
    tokens: int = 0
    """Estimated tokens of the calls sent."""


@dataclass(frozen=True)
class Ticket:
    """One call let through: when, and what the budgets had handed out by then."""

    sent_at: float
    requests_spent: float
    tokens_spent: float


@dataclass
class _Gate:
    """The per-event-loop half: a lock that lines callers up and an event for freed slots."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    freed: asyncio.Event = field(default_factory=asyncio.Event)


class RateLimiter:
    """Request and token budgets plus a concurrency window, for one ``provider:model``.

    Shared across threads and event loops: the budgets sit behind a thread lock, and each
    event loop gets its own queue of waiting callers.
    """

    def __init__(self, rpm: float | None = None, tpm: float | None = None,
                 max_concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self.requests = _Bucket(rpm)
        self.tokens = _Bucket(tpm)
        self.max_concurrency = max_concurrency
        self.window = float(min(_START_WINDOW, max_concurrency))
        self.active = 0
        self.paused_until = 0.0
        self.slow_start = True
        """Until the first 429, the window grows by one per success (doubling per round
        trip); after it, by one per window of successes."""
        self.stats = RateStats()
        self._lock = threading.Lock()
        self._gates: dict[int, _Gate] = {}

    def configure(self, rpm: float | None, tpm: float | None, max_concurrency: int) -> None:
        """Apply the settings of the job starting now (the latest job's settings hold)."""
        with self._lock:
            for bucket, value in ((self.requests, rpm), (self.tokens, tpm)):
                if value is not None:
                    bucket.configured = bucket.per_minute = value
                    bucket.level = min(bucket.level, bucket.capacity)
            self.max_concurrency = max_concurrency
            self.window = min(self.window, float(max_concurrency))

    def _gate(self) -> _Gate:
        key = id(asyncio.get_running_loop())
        with self._lock:
            gate = self._gates.get(key)
            if gate is None:
                gate = self._gates[key] = _Gate()
            return gate

    async def acquire(self, tokens: int) -> Ticket:
        """Wait until one call of about ``tokens`` tokens may go, then count it as in flight.

        Callers line up on one lock, so budgets are handed out in arrival order and only the
        first in line sleeps on the clock.
        """
        gate = self._gate()
        async with gate.lock:
            while True:
                now = time.monotonic()
                with self._lock:
                    pause = self.paused_until - now
                    full = self.active >= int(self.window)
                    wait = 0.0 if pause > 0 or full else max(
                        self.requests.wait(1, now), self.tokens.wait(tokens, now))
                    if pause <= 0 and not full and wait <= 0:
                        ticket = Ticket(now, self.requests.spent + 1, self.tokens.spent + tokens)
                        self.requests.take(1)
                        self.tokens.take(tokens)
                        self.active += 1
                        self.stats.calls += 1
                        self.stats.tokens += tokens
                        return ticket
                if full and pause <= 0:
                    gate.freed.clear()
                    await gate.freed.wait()
                else:
                    await asyncio.sleep(max(pause, wait, 0.001))

    def release(self, ticket: Ticket | None, headers: Mapping[str, str] | None = None, *,
                retry_after: float | None = None, rate_limited: bool = False) -> None:
        """One call ended: learn from its headers, and back off (429) or widen the window."""
        now = time.monotonic()
        with self._lock:
            self.active -= 1
            if headers:
                self._learn(headers, now, ticket)
            if rate_limited:
                self.stats.rate_limited += 1
                wait = retry_after if retry_after is not None else _DEFAULT_RETRY_AFTER
                if now >= self.paused_until:  # one halving per wave of 429s
                    self.window = max(1.0, self.window / 2)
                self.slow_start = False
                self.paused_until = max(self.paused_until, now + wait)
                self.requests.level = min(self.requests.level, 0.0)
            else:
                grow = 1.0 if self.slow_start else 1 / self.window
                self.window = min(float(self.max_concurrency), self.window + grow)
            gates = list(self._gates.values())
        for gate in gates:
            gate.freed.set()

    def _learn(self, headers: Mapping[str, str], now: float, ticket: Ticket | None) -> None:
        seen: dict[tuple[str, str], float] = {}
        for name, value in headers.items():
            match = _HEADER.search(name.lower())
            if match is None:
                continue
            kind = match["kind1"] or match["kind2"]
            what = match["field1"] or match["field2"]
            number = parse_reset(value) if what == "reset" else _number(value)
            if number is not None:
                seen[(kind, what)] = number
        since = 0.0 if ticket is None else now - ticket.sent_at
        for kind, bucket in (("requests", self.requests), ("tokens", self.tokens)):
            limit, left = seen.get((kind, "limit")), seen.get((kind, "remaining"))
            spent = None if ticket is None else (
                ticket.requests_spent if kind == "requests" else ticket.tokens_spent)
            bucket.learn(limit, left, now, since, spent)


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


_LIMITERS: dict[str, RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def _positive(options: Mapping[str, Any], key: str) -> float | None:
    value = options.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"option {key} must be a number above 0, not {value!r}")
    return float(value)


def check_rate_options(options: Mapping[str, Any]) -> tuple[float | None, float | None, int]:
    """The job's ``rpm``, ``tpm`` and ``concurrency`` options, or a one-line error."""
    rpm, tpm = _positive(options, "rpm"), _positive(options, "tpm")
    concurrency = options.get("concurrency", DEFAULT_CONCURRENCY)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(f"option concurrency must be a whole number >= 1, not {concurrency!r}")
    return rpm, tpm, concurrency


def limiter_for(provider: str, options: Mapping[str, Any]) -> RateLimiter:
    """The process's limiter for ``provider`` (``name:model``), with the job's ``rpm``,
    ``tpm`` and ``concurrency`` options applied."""
    rpm, tpm, concurrency = check_rate_options(options)
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(provider)
        if limiter is None:
            limiter = _LIMITERS[provider] = RateLimiter(rpm, tpm, concurrency)
            return limiter
    limiter.configure(rpm, tpm, concurrency)
    return limiter
