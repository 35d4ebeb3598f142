"""One emulated Anthropic Message Batch: its timeline, per-request outcomes and results.

Why a timeline: Anthropic batches run on the vendor's schedule (``in_progress`` -> ``ended``, or
``canceling`` -> ``ended`` after a cancel, or ``ended`` at the 24 h mark with expired requests), and
tests must be able to stop the world anywhere on it. Requests finish one by one across the
``in_progress`` phase on the shared :class:`~batchkit.testing._clock.EmulatorClock`, so a cancel
keeps the finished ones and cancels the rest, as the vendor documents. Request counts stay at
``processing`` until the whole batch ends, as the SDK's ``MessageBatchRequestCounts`` says.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from batchkit.testing._text import digest
from batchkit.testing.emulators.anthropic.replies import Responder, cached_prefix

MESSAGES_URL = "/v1/messages"
FaultKind = Literal["errored", "expired", "canceled"]
WINDOW_SECONDS = 24 * 3600
CACHE_MIN_TOKENS = 1024
"""Shorter prefixes are not cached (no error), as with the vendor's smaller models' minimum."""


@dataclass
class Phases:
    """How long each status lasts on the emulator clock, in seconds."""

    in_progress: float = 60.0
    canceling: float = 5.0


@dataclass
class ItemFault:
    kind: FaultKind
    error_type: str = "api_error"


@dataclass
class BatchRequest:
    custom_id: str
    params: dict[str, Any]
    problem: str | None
    """Why the params are invalid (the request ends ``errored``), or None."""


@dataclass
class EmulatedBatch:
    id: str
    created_at: float
    requests: list[BatchRequest]
    faults: Mapping[str, ItemFault]
    phases: Phases
    results_url: str
    status: str = "in_progress"
    cancel_initiated_at: float | None = None
    ended_at: float | None = None
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)
    cached_prefixes: set[str] = field(default_factory=set)

    @property
    def expires_at(self) -> float:
        return self.created_at + WINDOW_SECONDS

    def next_due(self) -> float | None:
        if self.status == "in_progress":
            if any(f.kind == "expired" for f in self.faults.values()):
                return self.expires_at
            return self.created_at + self.phases.in_progress
        if self.status == "canceling" and self.cancel_initiated_at is not None:
            return self.cancel_initiated_at + self.phases.canceling
        return None

    def finish_time(self, index: int) -> float:
        return self.created_at + self.phases.in_progress * (index + 1) / len(self.requests)

    def advance(self, now: float, responder: Responder) -> None:
        """Run what is due by ``now`` and end the batch when its time comes."""
        due = self.next_due()
        self._run_until(min(now, due) if due is not None else now, responder)
        if due is not None and due <= now:
            self.status = "ended"
            self.ended_at = due

    def cancel(self, now: float, responder: Responder) -> None:
        self._run_until(now, responder)
        self.status = "canceling"
        self.cancel_initiated_at = now

    def _run_until(self, now: float, responder: Responder) -> None:
        if self.status != "in_progress":
            return
        for index, req in enumerate(self.requests):
            if req.custom_id in self.outcomes or self.finish_time(index) > now:
                continue
            fault = self.faults.get(req.custom_id)
            if fault is not None and fault.kind in ("expired", "canceled"):
                continue
            self.outcomes[req.custom_id] = self._execute(req, fault, responder)

    def _execute(self, req: BatchRequest, fault: ItemFault | None,
                 responder: Responder) -> dict[str, Any]:
        if req.problem is not None:
            return _errored("invalid_request_error", req.problem, req.custom_id)
        if fault is not None:
            return _errored(fault.error_type, _FAULT_MESSAGES.get(
                fault.error_type, "Internal server error"), req.custom_id)
        message = json.loads(json.dumps(responder(MESSAGES_URL, req.params, req.custom_id)))
        self._account_cache(req.params, message)
        return {"type": "succeeded", "message": message}

    def _account_cache(self, params: dict[str, Any], message: dict[str, Any]) -> None:
        """Move the tokens of the prefix a request's cache breakpoints mark (tools, system,
        messages) into cache writes (first time in this batch) or cache reads (later), as the
        vendor reports them beside ``input_tokens``."""
        marked = cached_prefix(params)
        if marked is None:
            return
        prefix, tokens = marked
        usage = message.get("usage") or {}
        if tokens < CACHE_MIN_TOKENS or usage.get("input_tokens", 0) <= tokens:
            return
        usage["input_tokens"] -= tokens
        key = "cache_read_input_tokens" if prefix in self.cached_prefixes else \
            "cache_creation_input_tokens"
        usage[key] = usage.get(key, 0) + tokens
        self.cached_prefixes.add(prefix)

    def result_of(self, req: BatchRequest) -> dict[str, Any]:
        outcome = self.outcomes.get(req.custom_id)
        if outcome is not None:
            return outcome
        fault = self.faults.get(req.custom_id)
        if fault is not None and fault.kind == "expired":
            return {"type": "expired"}
        if fault is not None and fault.kind == "canceled":
            return {"type": "canceled"}
        return {"type": "canceled" if self.cancel_initiated_at is not None else "expired"}

    def request_counts(self) -> dict[str, int]:
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if self.status != "ended":
            counts["processing"] = len(self.requests)
            return counts
        for req in self.requests:
            counts[self.result_of(req)["type"]] += 1
        return counts

    def result_rows(self) -> list[dict[str, Any]]:
        """Every request's line, shuffled (the vendor promises no order) but reproducibly."""
        rows = [{"custom_id": r.custom_id, "result": self.result_of(r)} for r in self.requests]
        random.Random(self.id).shuffle(rows)
        return rows

    def as_json(self) -> dict[str, Any]:
        ended = self.status == "ended"
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": self.status,
            "request_counts": self.request_counts(),
            "created_at": rfc3339(self.created_at),
            "expires_at": rfc3339(self.expires_at),
            "ended_at": rfc3339(self.ended_at) if self.ended_at is not None else None,
            "cancel_initiated_at": (rfc3339(self.cancel_initiated_at)
                                    if self.cancel_initiated_at is not None else None),
            "archived_at": None,
            "results_url": self.results_url if ended else None,
        }


_FAULT_MESSAGES = {
    "overloaded_error": "Overloaded",
    "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit.",
    "invalid_request_error": "prompt is too long: 210000 tokens > 200000 maximum",
}


def _errored(error_type: str, message: str, custom_id: str) -> dict[str, Any]:
    return {"type": "errored", "error": {
        "type": "error", "error": {"type": error_type, "message": message},
        "request_id": "req_" + digest("request", custom_id)[:24],
    }}


def rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat().replace("+00:00", "Z")
