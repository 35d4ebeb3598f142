"""Time as the orchestration sees it, so tests can run hours of polling in microseconds."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Backoff", "Clock", "SystemClock"]


class Clock(Protocol):
    def time(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class Backoff:
    """Poll intervals that grow geometrically to a cap, with jitter.

    Batches take minutes to hours; polling every second wastes the vendor's rate limit, while
    jitter keeps many shards (or many processes) from polling in lockstep.
    """

    initial: float = 2.0
    factor: float = 1.5
    maximum: float = 60.0
    jitter: float = 0.2
    _next: float = 0.0

    def __post_init__(self) -> None:
        self._next = self.initial

    def next_delay(self) -> float:
        delay = self._next * (1 + random.uniform(-self.jitter, self.jitter))
        self._next = min(self._next * self.factor, self.maximum)
        return delay

    def reset(self) -> None:
        self._next = self.initial
