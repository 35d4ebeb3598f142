"""One emulated Vertex AI batch prediction job: its timeline, rows, faults and output file.

Why a timeline: a job moves on the vendor's schedule (``JOB_STATE_QUEUED`` -> ``PENDING`` ->
``RUNNING`` -> ``SUCCEEDED``), and tests must be able to stop the world anywhere on it. Rows
finish one by one across ``RUNNING`` on the shared
:class:`~batchkit.testing._clock.EmulatorClock`, so a cancel keeps the finished rows ("all
completed rows are exported", batch-prediction docs). When the job ends, its rows are written to
``{outputUriPrefix}/prediction-model-<time>/predictions.jsonl`` in the Cloud Storage store, in
no particular order (the docs promise none), and ``outputInfo.gcsOutputDirectory`` names it.

Job faults a test can arm: ``failed`` (``JOB_STATE_FAILED`` with an ``error``),
``partially_succeeded`` (some rows never written), ``expired`` (never left the queue, or ran
out of time with the first rows done); each keeps the first ``completed`` rows.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from batchkit.testing.emulators.gcs.state import GcsStore
from batchkit.testing.emulators.vertex.replies import (
    DEFAULT_DIMENSIONS,
    ChatResponder,
    EmbeddingResponder,
    status_text,
)

JobFaultKind = Literal["failed", "partially_succeeded", "expired"]
QUEUE_LIMIT = 72 * 3600
"""Jobs wait in the queue at most 72 hours before they expire."""
RUN_LIMIT = 24 * 3600
"""A job that has run 24 hours is stopped; only finished rows are kept."""
ENDED = frozenset({"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED",
                   "JOB_STATE_EXPIRED", "JOB_STATE_PARTIALLY_SUCCEEDED"})
RUNNABLE = ("JOB_STATE_QUEUED", "JOB_STATE_PENDING", "JOB_STATE_RUNNING")


@dataclass
class Phases:
    """How long each state lasts on the emulator clock, in seconds."""

    queued: float = 10.0
    pending: float = 10.0
    running: float = 60.0
    cancelling: float = 5.0


@dataclass
class JobFault:
    kind: JobFaultKind
    completed: int = 0
    """Rows that finish (and are written) before the fault ends the job."""
    message: str = "Internal error occurred. Please retry in a few minutes."


@dataclass
class Row:
    """One input line: what it holds, the ids a test can fault it by, and whether it is bad."""

    payload: Any
    """The ``request`` (chat) or the instance without its key field (embeddings)."""
    echo: dict[str, Any]
    """What the output row repeats: ``{"request": ...}``, ``{"key": ...}`` or ``{"instance"}``."""
    ids: frozenset[str]
    problem: str | None


@dataclass
class EmulatedJob:
    name: str
    body: dict[str, Any]
    """The created resource as the client sent it (REST JSON)."""
    embedding: bool
    rows: list[Row]
    created_at: float
    phases: Phases
    read_error: str | None = None
    fault: JobFault | None = None
    row_faults: Mapping[str, tuple[int, str]] = field(default_factory=dict)
    state: str = "JOB_STATE_QUEUED"
    started_at: float | None = None
    ended_at: float | None = None
    cancel_at: float | None = None
    updated_at: float = 0.0
    error: dict[str, Any] | None = None
    output_dir: str | None = None
    finished: dict[int, dict[str, Any]] = field(default_factory=dict)

    # ---- timeline ----------------------------------------------------------------------

    def _never_starts(self) -> bool:
        """An ``expired`` fault with no finished rows: the job expires in the queue."""
        return self.fault is not None and self.fault.kind == "expired" and \
            self.fault.completed == 0

    def _start_due(self) -> float:
        return self.created_at + self.phases.queued + self.phases.pending

    def _run_ends(self) -> float:
        """An ``expired`` fault runs into the 24 h limit; anything else ends after ``running``."""
        expires = self.fault is not None and self.fault.kind == "expired"
        return self._start_due() + (RUN_LIMIT if expires else self.phases.running)

    def next_due(self) -> float | None:
        if self.state == "JOB_STATE_QUEUED":
            return self.created_at + (QUEUE_LIMIT if self._never_starts() else
                                      self.phases.queued)
        if self.state == "JOB_STATE_PENDING":
            return self._start_due()
        if self.state == "JOB_STATE_RUNNING":
            return self._run_ends()
        if self.state == "JOB_STATE_CANCELLING" and self.cancel_at is not None:
            return self.cancel_at + self.phases.cancelling
        return None

    def advance(self, now: float, store: GcsStore, chat: ChatResponder,
                embed: EmbeddingResponder) -> None:
        """Take every step due by ``now``."""
        while True:
            due = self.next_due()
            if self.state == "JOB_STATE_RUNNING":
                self._run_until(min(now, due) if due is not None else now, chat, embed)
            if due is None or due > now:
                return
            self._step(due, store)

    def _step(self, at: float, store: GcsStore) -> None:
        self.updated_at = at
        if self.state == "JOB_STATE_QUEUED":
            if self._never_starts():
                self._end(at, "JOB_STATE_EXPIRED", store)
            else:
                self.state = "JOB_STATE_PENDING"
        elif self.state == "JOB_STATE_PENDING":
            if self.read_error is not None:
                self.error = {"code": 3, "message": self.read_error}
                self._end(at, "JOB_STATE_FAILED", store)
            else:
                self.state, self.started_at = "JOB_STATE_RUNNING", at
        elif self.state == "JOB_STATE_RUNNING":
            self._end(at, self._ending(), store)
        elif self.state == "JOB_STATE_CANCELLING":
            self._end(at, "JOB_STATE_CANCELLED", store)

    def _ending(self) -> str:
        if self.fault is None:
            return "JOB_STATE_SUCCEEDED"
        if self.fault.kind == "failed":
            self.error = {"code": 13, "message": self.fault.message}
            return "JOB_STATE_FAILED"
        if self.fault.kind == "expired":
            return "JOB_STATE_EXPIRED"
        return "JOB_STATE_PARTIALLY_SUCCEEDED"

    def cancel(self, now: float, chat: ChatResponder, embed: EmbeddingResponder) -> None:
        if self.state == "JOB_STATE_RUNNING":
            self._run_until(now, chat, embed)
        self.state, self.cancel_at, self.updated_at = "JOB_STATE_CANCELLING", now, now

    def _finish_time(self, index: int) -> float:
        return self._start_due() + self.phases.running * (index + 1) / max(1, len(self.rows))

    def _run_until(self, now: float, chat: ChatResponder, embed: EmbeddingResponder) -> None:
        limit = len(self.rows) if self.fault is None else min(len(self.rows),
                                                               self.fault.completed)
        for index in range(limit):
            if index not in self.finished and self._finish_time(index) <= now:
                self.finished[index] = self._execute(self.rows[index], now, chat, embed)

    def _execute(self, row: Row, now: float, chat: ChatResponder,
                 embed: EmbeddingResponder) -> dict[str, Any]:
        problem = row.problem
        for row_id in sorted(row.ids):
            if problem is None and row_id in self.row_faults:
                problem = status_text(*self.row_faults[row_id])
        model = str(self.body.get("model", "")).rsplit("/", 1)[-1]
        if self.embedding:
            out: dict[str, Any] = dict(row.echo)
            if problem is None:
                params = self.body.get("modelParameters") or {}
                dims = int(params.get("outputDimensionality") or DEFAULT_DIMENSIONS)
                out["predictions"] = [embed(row.payload, dims)]
            out["status"] = problem or ""
            return out
        return {"status": problem or "", "processed_time": _processed_time(now), **row.echo,
                "response": {} if problem is not None else chat(row.payload, model)}

    def _end(self, at: float, state: str, store: GcsStore) -> None:
        self.state, self.ended_at = state, at
        if self.started_at is None:
            return
        prefix = self.body["outputConfig"]["gcsDestination"]["outputUriPrefix"].rstrip("/")
        stamp = datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.output_dir = f"{prefix}/prediction-model-{stamp}"
        rows = list(self.finished.values())
        random.Random(self.name).shuffle(rows)
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
        bucket, _, path = self.output_dir[len("gs://"):].partition("/")
        store.put(bucket, f"{path}/predictions.jsonl", data, "application/jsonl")

    # ---- the resource ----------------------------------------------------------------------

    def completion_stats(self) -> dict[str, int]:
        ok = sum(1 for r in self.finished.values() if not r.get("status"))
        failed = len(self.finished) - ok
        return {"successfulCount": ok, "failedCount": failed,
                "incompleteCount": len(self.rows) - ok - failed}

    def resource(self) -> dict[str, Any]:
        """The ``BatchPredictionJob`` as REST JSON (enum names; the app may turn them to ints)."""
        body = {k: v for k, v in self.body.items() if k not in _OUTPUT_ONLY}
        body.update(name=self.name, state=self.state, createTime=_rfc3339(self.created_at),
                    updateTime=_rfc3339(self.updated_at or self.created_at))
        if self.started_at is not None:
            body["startTime"] = _rfc3339(self.started_at)
        if self.ended_at is not None:
            body["endTime"] = _rfc3339(self.ended_at)
            body["completionStats"] = self.completion_stats()
        if self.output_dir is not None:
            body["outputInfo"] = {"gcsOutputDirectory": self.output_dir}
        if self.error is not None:
            body["error"] = self.error
        if self.state == "JOB_STATE_PARTIALLY_SUCCEEDED" and self.fault is not None:
            body["partialFailures"] = [{"code": 13, "message": self.fault.message}]
        return body


_OUTPUT_ONLY = frozenset({"name", "state", "error", "outputInfo", "completionStats",
                          "createTime", "startTime", "endTime", "updateTime",
                          "partialFailures", "resourcesConsumed"})


def _rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _processed_time(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds")
