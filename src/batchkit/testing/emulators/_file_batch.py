"""What the file-batch emulators (the OpenAI family and Mistral) share: request faults, row order.

Why shared: these vendors fail single requests inside a batch the same four ways a test needs to
reproduce (an error row, cut JSON, no row at all, never run before the window closed), and a test
arms them the same way on every app: :meth:`FileBatchApp.fault` by custom_id, or
:meth:`FileBatchApp.fault_rate` for a seeded fraction. What a fault looks like in the vendor's
files stays in the vendor's ``state.py``. Their result files also share one trait a client must
cope with: rows do not come back in input order (:func:`out_of_order`).
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from batchkit.testing._clock import EmulatorClock
from batchkit.testing._server import RetryableItemFaults
from batchkit.testing.emulators._app import VendorApp

FaultKind = Literal["invalid_json", "http_error", "expired", "missing"]
FAULT_KINDS: tuple[FaultKind, ...] = ("invalid_json", "http_error", "expired", "missing")


@dataclass
class ItemFault:
    kind: FaultKind
    status_code: int = 500


@dataclass
class FaultPlan:
    """Per-item faults, explicit by custom_id or drawn at a rate from a seed (deterministic)."""

    by_custom_id: dict[str, ItemFault] = field(default_factory=dict)
    rates: dict[FaultKind, float] = field(default_factory=dict)
    rate_status_code: int = 500
    seed: int = 0
    retryable: RetryableItemFaults | None = None
    """The app's first-run-only faults, written as an error row with their 429/5xx status."""

    def fault_for(self, custom_id: str) -> ItemFault | None:
        explicit = self.by_custom_id.get(custom_id)
        if explicit is not None:
            return explicit
        for kind in FAULT_KINDS:
            rate = self.rates.get(kind, 0.0)
            digest = hashlib.sha256(f"{self.seed}:{kind}:{custom_id}".encode()).digest()
            if rate and int.from_bytes(digest[:8], "big") / 2**64 < rate:
                return ItemFault(kind, self.rate_status_code)
        status = self.retryable.status_for(custom_id) if self.retryable else None
        return None if status is None else ItemFault("http_error", status)


class FileBatchApp(VendorApp):
    """An app whose batches hold requests that can fail one by one (``item_faults``), and that
    counts its creates by metadata pair, so a test can check a client created a batch once."""

    def __init__(self, clock: EmulatorClock) -> None:
        super().__init__(clock)
        self.item_faults = FaultPlan(retryable=self.retryable_items)
        self._creates_by_metadata: Counter[tuple[str, str]] = Counter()

    def fault(self, custom_id: str, kind: FaultKind, *, status_code: int = 500) -> None:
        """Make request ``custom_id`` fail with ``kind`` in any batch that holds it:
        ``http_error`` (a row in the error file), ``invalid_json`` (cut JSON text),
        ``missing`` (no row at all) or ``expired`` (never runs before the window closes)."""
        self.item_faults.by_custom_id[custom_id] = ItemFault(kind, status_code)

    def fault_rate(self, kind: FaultKind, rate: float, *, seed: int = 0,
                   status_code: int = 500) -> None:
        """Make a deterministic fraction ``rate`` of requests (chosen by ``seed``) fail."""
        self.item_faults.rates[kind] = rate
        self.item_faults.seed = seed
        self.item_faults.rate_status_code = status_code

    def _count_create(self, metadata: dict[str, str] | None) -> None:
        for key, value in (metadata or {}).items():
            self._creates_by_metadata[(key, value)] += 1


def out_of_order(
    seed: str, output: list[dict[str, Any]], errors: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The output and error rows shuffled, the same way for the same ``seed`` (the batch id)."""
    shuffler = random.Random(seed)
    shuffler.shuffle(output)
    shuffler.shuffle(errors)
    return output, errors
