"""One emulated Mistral batch job: its input, status timeline, faults and result rows.

Why a timeline: Mistral jobs move on the vendor's schedule (``QUEUED`` -> ``RUNNING`` ->
``SUCCESS``, or ``FAILED``, ``TIMEOUT_EXCEEDED``, ``CANCELLATION_REQUESTED`` -> ``CANCELLED``),
and tests must stop the world anywhere on it. Each job knows when its next transition is due on
the shared :class:`~batchkit.testing._clock.EmulatorClock`, and requests finish one by one
across the running phase, so a cancel or a timeout keeps the finished ones.

What Mistral does not document, the emulator chooses and says so: a line that is not a request
at all (not JSON, no ``body``, a repeated ``custom_id``) fails the whole job with
``errors: [{message, count}]``; a line whose body the endpoint would refuse runs and fails on its
own, with the 422 the endpoint gives, into the error file (rows shaped like output rows, with
``response.status_code`` >= 400); requests a timeout or a cancel stopped get no row at all.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from batchkit.testing.emulators._file_batch import FaultPlan, ItemFault, out_of_order
from batchkit.testing.emulators.mistral.replies import (
    ReplyError,
    Responder,
    break_json,
    check_body,
    injected_error,
)

TERMINAL = frozenset({"SUCCESS", "FAILED", "TIMEOUT_EXCEEDED", "CANCELLED"})


@dataclass
class Phases:
    """How long each status lasts on the emulator clock, in seconds."""

    queued: float = 10.0
    running: float = 60.0
    cancelling: float = 5.0


@dataclass
class InputLine:
    custom_id: str | None
    body: dict[str, Any]


@dataclass
class Outcome:
    """What happened to one request once it ran."""

    status_code: int
    body: dict[str, Any]

    @property
    def succeeded(self) -> bool:
        return self.status_code < 400


def parse_file_lines(data: bytes, problems: Counter[str]) -> list[InputLine]:
    """The requests of an uploaded ``.jsonl`` file; what is not a request goes to ``problems``."""
    lines = []
    for text in data.decode("utf-8", errors="replace").splitlines():
        if not text.strip():
            continue
        try:
            item = json.loads(text)
        except ValueError:
            problems["Invalid JSON line in the batch input file"] += 1
            continue
        if not isinstance(item, dict) or not isinstance(item.get("body"), dict):
            problems["Each line must be a JSON object with a 'body' object"] += 1
            continue
        custom_id = item.get("custom_id")
        if custom_id is not None and not isinstance(custom_id, str):
            problems["'custom_id' must be a string"] += 1
            continue
        lines.append(InputLine(custom_id, item["body"]))
    return lines


def check_lines(lines: list[InputLine], problems: Counter[str], max_requests: int) -> None:
    """Job-level checks on the whole input (Mistral documents ids as unique)."""
    if not lines and not problems:
        problems["The batch contains no requests"] += 1
    if len(lines) > max_requests:
        problems[f"The batch has {len(lines)} requests; the maximum is {max_requests}"] += 1
    ids = Counter(line.custom_id for line in lines if line.custom_id is not None)
    for custom_id, count in ids.items():
        if count > 1:
            problems[f"Duplicate custom_id {custom_id!r}"] += count


@dataclass
class EmulatedJob:
    id: str
    endpoint: str
    model: str | None
    input_files: list[str]
    metadata: dict[str, str] | None
    timeout_hours: int
    created_at: int
    lines: list[InputLine]
    problems: Counter[str]
    """Job-level validation failures: message -> count. Any makes the job ``FAILED``."""
    faults: list[ItemFault | None]
    phases: Phases
    status: str = "QUEUED"
    stamps: dict[str, int] = field(default_factory=dict)
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    output_file: str | None = None
    error_file: str | None = None
    results_written: bool = False

    @property
    def deadline(self) -> int:
        return self.created_at + self.timeout_hours * 3600

    def _stalled(self) -> bool:
        return any(f is not None and f.kind == "expired" for f in self.faults)

    def next_due(self) -> float | None:
        """Clock time of the next status change, or None when terminal."""
        if self.status == "QUEUED":
            return min(self.created_at + self.phases.queued, self.deadline)
        if self.status == "RUNNING":
            done = self.stamps["started_at"] + self.phases.running
            return self.deadline if self._stalled() else min(done, self.deadline)
        if self.status == "CANCELLATION_REQUESTED":
            return self.stamps["cancel_at"] + self.phases.cancelling
        return None

    def finish_time(self, index: int) -> float:
        """Requests complete evenly across the running phase, in input order."""
        return self.stamps["started_at"] + self.phases.running * (index + 1) / len(self.lines)

    def advance(self, now: float, responder: Responder) -> None:
        """Apply every transition due by ``now``, then run what is due in the running phase."""
        due = self.next_due()
        while due is not None and due <= now:
            self._transition(int(due), responder)
            due = self.next_due()
        if self.status == "RUNNING":
            self._run_until(now, responder)

    def _transition(self, at: int, responder: Responder) -> None:
        if self.status == "QUEUED":
            if self.problems:
                self._finish("FAILED", at)
            elif at >= self.deadline:
                self._finish("TIMEOUT_EXCEEDED", at)
            else:
                self.status = "RUNNING"
                self.stamps["started_at"] = at
        elif self.status == "RUNNING":
            self._run_until(at, responder)
            self._finish("TIMEOUT_EXCEEDED" if at >= self.deadline else "SUCCESS", at)
        elif self.status == "CANCELLATION_REQUESTED":
            self._finish("CANCELLED", at)

    def _finish(self, status: str, at: int) -> None:
        self.status = status
        self.stamps["completed_at"] = at

    def _run_until(self, now: float, responder: Responder) -> None:
        """Execute every request whose slot in the running phase has passed."""
        for index, line in enumerate(self.lines):
            if index in self.outcomes or self.finish_time(index) > now:
                continue
            fault = self.faults[index]
            if fault is not None and fault.kind == "expired":
                continue  # stalls until the job's timeout_hours run out
            self.outcomes[index] = self._execute(line, fault, responder)

    def _execute(self, line: InputLine, fault: ItemFault | None, responder: Responder
                 ) -> Outcome:
        if fault is not None and fault.kind == "http_error":
            return Outcome(fault.status_code, injected_error(fault.status_code))
        body = dict(line.body)
        if "model" not in body and self.model is not None:
            body["model"] = self.model  # the model named on the job serves every line
        try:
            refused = check_body(self.endpoint, body)
            if refused is not None:
                raise refused
            reply = responder(self.endpoint, body, line.custom_id or "")
        except ReplyError as failure:
            return Outcome(failure.status_code, failure.body)
        if fault is not None and fault.kind == "invalid_json":
            reply = break_json(reply)
        reply = json.loads(json.dumps(reply))
        if isinstance(reply.get("created"), int):
            reply["created"] = int(self.stamps.get("started_at", self.created_at))
        return Outcome(200, reply)

    def cancel(self, now: float, responder: Responder) -> None:
        if self.status == "RUNNING":
            self._run_until(now, responder)
        self.status = "CANCELLATION_REQUESTED"
        self.stamps["cancel_at"] = int(now)

    def result_rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(output rows, error rows) of a finished job, in a shuffled but fixed order."""
        output: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for index, outcome in sorted(self.outcomes.items()):
            fault = self.faults[index]
            if fault is not None and fault.kind == "missing":
                continue
            row = {
                "id": f"batch-{self.id[:8]}-{index + 1}-{_row_uuid(self.id, index)}",
                "custom_id": self.lines[index].custom_id,
                "response": {"status_code": outcome.status_code, "body": outcome.body},
                "error": None,
            }
            (output if outcome.succeeded else errors).append(row)
        return out_of_order(self.id, output, errors)

    def as_json(self, *, inline: bool = False) -> dict[str, Any]:
        """The ``BatchJob`` object; ``inline=True`` adds the result rows as ``outputs``."""
        failed = sum(1 for o in self.outcomes.values() if not o.succeeded)
        outputs = None
        if inline and self.status in TERMINAL:
            output, errors = self.result_rows()
            outputs = output + errors
        return {
            "id": self.id,
            "object": "batch",
            "input_files": self.input_files,
            "metadata": self.metadata,
            "endpoint": self.endpoint,
            "model": self.model,
            "agent_id": None,
            "output_file": self.output_file,
            "error_file": self.error_file,
            "errors": [{"message": message, "count": count}
                       for message, count in self.problems.items()]
            if self.status == "FAILED" else [],
            "outputs": outputs,
            "status": self.status,
            "created_at": self.created_at,
            "total_requests": len(self.lines),
            "completed_requests": len(self.outcomes),
            "succeeded_requests": len(self.outcomes) - failed,
            "failed_requests": failed,
            "started_at": self.stamps.get("started_at"),
            "completed_at": self.stamps.get("completed_at"),
        }


def _row_uuid(job_id: str, index: int) -> str:
    digest = hashlib.sha256(f"{job_id}\x1f{index}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def faults_for(plan: FaultPlan, lines: list[InputLine]) -> list[ItemFault | None]:
    """Each line's armed fault (by custom_id, or drawn at the plan's rates)."""
    return [plan.fault_for(line.custom_id or f"#{i}") for i, line in enumerate(lines)]
