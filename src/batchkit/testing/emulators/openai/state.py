"""One emulated OpenAI batch: its status timeline, per-request progress, faults and result rows.

Why a timeline instead of a state flag: OpenAI batches move on the vendor's schedule, and tests must
be able to stop the world anywhere on it (cancel halfway through a run, expire at the 24 h mark).
Each batch therefore knows when its next transition is due on the shared
:class:`~batchkit.testing._clock.EmulatorClock`, and requests finish one by one across the
``in_progress`` phase, so a cancel or expiry keeps the finished ones and reports the rest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from batchkit.testing._text import digest
from batchkit.testing.emulators._file_batch import ItemFault, out_of_order
from batchkit.testing.emulators.openai.replies import (
    ReplyError,
    Responder,
    batch_usage_of,
    break_json,
)
from batchkit.testing.emulators.openai.validation import ParsedInput, ValidationError

TERMINAL = frozenset({"failed", "completed", "expired", "cancelled"})
WINDOW_SECONDS = 24 * 3600
NOT_EXECUTED_MESSAGES = {
    "batch_expired": "This request could not be executed before the completion window expired.",
    "batch_cancelled": "This request was not executed because the batch was cancelled.",
}


@dataclass
class Phases:
    """How long each status lasts on the emulator clock, in seconds."""

    validating: float = 10.0
    in_progress: float = 60.0
    finalizing: float = 10.0
    cancelling: float = 5.0


@dataclass
class Outcome:
    """What happened to one request once it ran."""

    custom_id: str
    fault: ItemFault | None
    status_code: int
    body: dict[str, Any]

    @property
    def succeeded(self) -> bool:
        return self.status_code < 400


@dataclass
class EmulatedBatch:
    id: str
    endpoint: str
    input_file_id: str
    completion_window: str
    created_at: int
    metadata: dict[str, str] | None
    parsed: ParsedInput
    faults: dict[str, ItemFault | None]
    phases: Phases
    status: str = "validating"
    stamps: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    output_file_id: str | None = None
    error_file_id: str | None = None
    forced_error: ValidationError | None = None
    results_written: bool = False
    window_seconds: int = WINDOW_SECONDS
    """The completion window (Groq takes 24h to 7d; the others 24h)."""

    @property
    def error(self) -> ValidationError | None:
        return self.forced_error or self.parsed.error

    @property
    def expires_at(self) -> int:
        return self.created_at + self.window_seconds

    def next_due(self) -> float | None:
        """Clock time of the next status change, or None when terminal."""
        if self.status == "validating":
            return self.created_at + self.phases.validating
        if self.status == "in_progress":
            if any(f is not None and f.kind == "expired" for f in self.faults.values()):
                return self.expires_at
            return self.stamps["in_progress_at"] + self.phases.in_progress
        if self.status == "finalizing":
            return self.stamps["finalizing_at"] + self.phases.finalizing
        if self.status == "cancelling":
            return self.stamps["cancelling_at"] + self.phases.cancelling
        return None

    def finish_time(self, index: int) -> float:
        """Requests complete evenly across the in_progress phase, in input order."""
        total = len(self.parsed.lines)
        return self.stamps["in_progress_at"] + self.phases.in_progress * (index + 1) / total

    def advance(self, now: float, responder: Responder) -> list[str]:
        """Apply every transition due by ``now``; return the statuses entered."""
        entered = []
        due = self.next_due()
        while due is not None and due <= now:
            self._transition(int(due), responder)
            entered.append(self.status)
            due = self.next_due()
        if self.status == "in_progress":
            self._run_until(now, responder)
        return entered

    def _transition(self, at: int, responder: Responder) -> None:
        if self.status == "validating":
            self._enter("failed" if self.error else "in_progress", at)
        elif self.status == "in_progress":
            self._run_until(at, responder)
            expiring = any(f is not None and f.kind == "expired" for f in self.faults.values())
            self._enter("expired" if expiring else "finalizing", at)
        elif self.status == "finalizing":
            self._enter("completed", at)
        elif self.status == "cancelling":
            self._enter("cancelled", at)

    def _enter(self, status: str, at: int) -> None:
        self.status = status
        self.stamps[f"{status}_at"] = at

    def _run_until(self, now: float, responder: Responder) -> None:
        """Execute every request whose slot in the in_progress phase has passed."""
        for index, line in enumerate(self.parsed.lines):
            if line.custom_id in self.outcomes or self.finish_time(index) > now:
                continue
            fault = self.faults.get(line.custom_id)
            if fault is not None and fault.kind == "expired":
                continue
            outcome = _execute(line.url, line.body, line.custom_id, fault, responder)
            _stamp_created(outcome.body, int(self.finish_time(index)))
            self.outcomes[line.custom_id] = outcome

    def cancel(self, now: float, responder: Responder) -> None:
        if self.status == "in_progress":
            self._run_until(now, responder)
        self._enter("cancelling", int(now))

    def request_counts(self) -> dict[str, int]:
        total = len(self.parsed.lines) if self.error is None else 0
        if self.status == "cancelled":
            # Observed on live OpenAI: a cancelled batch reports zero completed and failed even
            # though its files hold rows, so clients must count from the files.
            return {"total": total, "completed": 0, "failed": 0}
        failed = sum(1 for o in self.outcomes.values() if not o.succeeded)
        completed = len(self.outcomes) - failed
        if self.status == "expired":
            failed += total - len(self.outcomes)
        return {"total": total, "completed": completed, "failed": failed}

    def usage(self) -> dict[str, Any]:
        sums = {"input_tokens": 0, "cached_tokens": 0, "output_tokens": 0, "reasoning_tokens": 0}
        # The OpenAI endpoint the lines map to (a vendor may spell the batch endpoint its way).
        url = self.parsed.lines[0].url if self.parsed.lines else self.endpoint
        for outcome in self.outcomes.values():
            if outcome.succeeded:
                for key, value in batch_usage_of(url, outcome.body).items():
                    sums[key] += value
        return {
            "input_tokens": sums["input_tokens"],
            "input_tokens_details": {"cached_tokens": sums["cached_tokens"]},
            "output_tokens": sums["output_tokens"],
            "output_tokens_details": {"reasoning_tokens": sums["reasoning_tokens"]},
            "total_tokens": sums["input_tokens"] + sums["output_tokens"],
        }

    def result_rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(output rows, error rows) for a terminal batch, in a shuffled but fixed order."""
        not_executed = {"expired": "batch_expired", "cancelled": "batch_cancelled"}.get(self.status)
        output: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        if self.error is not None:
            return output, errors
        for line in self.parsed.lines:
            fault = self.faults.get(line.custom_id)
            if fault is not None and fault.kind == "missing":
                continue
            row_id = "batch_req_" + digest(self.id, line.custom_id)[:32]
            outcome = self.outcomes.get(line.custom_id)
            if outcome is None:
                if not_executed is None:
                    continue
                message = NOT_EXECUTED_MESSAGES[not_executed]
                errors.append({"id": row_id, "custom_id": line.custom_id, "response": None,
                               "error": {"code": not_executed, "message": message}})
                continue
            row = {
                "id": row_id,
                "custom_id": line.custom_id,
                "response": {
                    "status_code": outcome.status_code,
                    "request_id": "req_" + digest("request", self.id, line.custom_id)[:32],
                    "body": outcome.body,
                },
                "error": None,
            }
            (output if outcome.succeeded else errors).append(row)
        return out_of_order(self.id, output, errors)

    def as_json(self) -> dict[str, Any]:
        error = self.error if self.status == "failed" else None
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "model": self.parsed.model,
            "errors": {"object": "list", "data": [error.as_json()]} if error else None,
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "in_progress_at": self.stamps.get("in_progress_at"),
            "expires_at": self.expires_at,
            "finalizing_at": self.stamps.get("finalizing_at"),
            "completed_at": self.stamps.get("completed_at"),
            "failed_at": self.stamps.get("failed_at"),
            "expired_at": self.stamps.get("expired_at"),
            "cancelling_at": self.stamps.get("cancelling_at"),
            "cancelled_at": self.stamps.get("cancelled_at"),
            "request_counts": self.request_counts(),
            "usage": self.usage(),
            "metadata": self.metadata,
        }



def _execute(
    url: str, body: dict[str, Any], custom_id: str, fault: ItemFault | None, responder: Responder
) -> Outcome:
    if fault is not None and fault.kind == "http_error":
        return Outcome(custom_id, fault, fault.status_code, _http_error_body(fault.status_code))
    try:
        reply = responder(url, body, custom_id)
    except ReplyError as failure:
        return Outcome(custom_id, fault, failure.status_code, failure.body)
    if fault is not None and fault.kind == "invalid_json":
        reply = break_json(reply, url)
    return Outcome(custom_id, fault, 200, json.loads(json.dumps(reply)))


def _stamp_created(body: dict[str, Any], at: int) -> None:
    """Replies carry the time the request ran on the emulator clock, not the responder's guess."""
    for key in ("created", "created_at"):
        if isinstance(body.get(key), int):
            body[key] = at


def _http_error_body(status_code: int) -> dict[str, Any]:
    """OpenAI's error body for an injected per-request HTTP failure."""
    if status_code == 429:
        error = {"message": "Rate limit reached for requests.", "type": "rate_limit_error",
                 "param": None, "code": "rate_limit_exceeded"}
    elif status_code >= 500:
        error = {"message": "The server had an error while processing your request. Sorry about "
                 "that!", "type": "server_error", "param": None, "code": None}
    else:
        error = {"message": "This model's maximum context length is 128000 tokens. However, your "
                 "messages resulted in 130000 tokens. Please reduce the length of the messages.",
                 "type": "invalid_request_error", "param": "messages",
                 "code": "context_length_exceeded"}
    return {"error": error}
