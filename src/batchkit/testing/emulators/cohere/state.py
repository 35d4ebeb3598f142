"""Emulated Cohere embed jobs and batches: their status timelines on the shared clock.

Why timelines: both kinds run on the vendor's schedule, and tests must stop the world anywhere on
it. An embed job is ``processing`` then ``complete`` (or ``failed``); a cancel makes it
``cancelling`` then ``cancelled`` with no results ("partial results will not be available", the
SDK's ``cancel`` docstring). A batch is ``BATCH_STATUS_QUEUED``, ``..._IN_PROGRESS``, then
``..._COMPLETED`` (or ``..._FAILED``), ``..._CANCELING`` -> ``..._CANCELED`` after a cancel. Each
poll of a job moves it one step in auto mode. What a record is answered comes from
:mod:`.replies`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from batchkit.testing._text import estimate_tokens
from batchkit.testing.emulators.cohere.datasets import (
    EmulatedDataset,
    rfc3339,
    stored_row,
)
from batchkit.testing.emulators.cohere.replies import (
    EMBED_DIMENSIONS,
    ChatResponder,
    body_problem,
    embeddings_for,
)


@dataclass
class JobPhases:
    """How long each job status lasts on the emulator clock, in seconds."""

    embed_processing: float = 60.0
    batch_queued: float = 10.0
    batch_in_progress: float = 60.0
    cancelling: float = 5.0


# -- embed jobs ------------------------------------------------------------------------------


@dataclass
class EmbedJob:
    id: str
    name: str | None
    model: str
    dataset: EmulatedDataset
    input_type: str
    embedding_types: list[str]
    truncate: str
    created_at: float
    phases: JobPhases
    failure: str | None = None
    status: str = "processing"
    cancel_at: float | None = None
    output: EmulatedDataset | None = None

    def next_due(self) -> float | None:
        if self.status == "processing":
            return self.created_at + self.phases.embed_processing
        if self.status == "cancelling" and self.cancel_at is not None:
            return self.cancel_at + self.phases.cancelling
        return None

    def advance(self, now: float) -> bool:
        """Move on if due; True when the job has just completed (its output must be made)."""
        due = self.next_due()
        if due is None or due > now:
            return False
        if self.status == "cancelling":
            self.status = "cancelled"
            return False
        self.status = "failed" if self.failure else "complete"
        return self.status == "complete"

    def cancel(self, now: float) -> None:
        if self.status == "processing":
            self.status, self.cancel_at = "cancelling", now

    def records(self) -> list[dict[str, Any]]:
        """The output records: each input row with its embeddings, in input order."""
        dims = EMBED_DIMENSIONS[self.model]
        data = self.dataset
        return [{**stored_row(row, data.keep_fields, data.optional_fields),
                 "embeddings": embeddings_for(self.model, row["text"], self.embedding_types, dims)}
                for row in data.rows]

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "job_id": self.id, "status": self.status, "created_at": rfc3339(self.created_at),
            "input_dataset_id": self.dataset.id, "model": self.model, "truncate": self.truncate,
        }
        if self.name is not None:
            out["name"] = self.name
        if self.output is not None:
            out["output_dataset_id"] = self.output.id
            tokens = sum(estimate_tokens(r["text"]) for r in self.dataset.rows)
            out["meta"] = {"api_version": {"version": "1"},
                           "billed_units": {"input_tokens": tokens}}
        return out


# -- batches ---------------------------------------------------------------------------------


@dataclass
class ChatBatch:
    id: str
    name: str
    model: str
    dataset: EmulatedDataset
    created_at: float
    phases: JobPhases
    record_faults: Mapping[str, str] = field(default_factory=dict)
    failure: str | None = None
    status: str = "BATCH_STATUS_QUEUED"
    updated_at: float = 0.0
    cancel_at: float | None = None
    output: EmulatedDataset | None = None
    results: list[dict[str, Any]] = field(default_factory=list)

    def next_due(self) -> float | None:
        started = self.created_at + self.phases.batch_queued
        if self.status == "BATCH_STATUS_QUEUED":
            return started
        if self.status == "BATCH_STATUS_IN_PROGRESS":
            return started + self.phases.batch_in_progress
        if self.status == "BATCH_STATUS_CANCELING" and self.cancel_at is not None:
            return self.cancel_at + self.phases.cancelling
        return None

    def advance(self, now: float, responder: ChatResponder) -> bool:
        """Move on as far as ``now`` allows; True when the batch has just completed."""
        done = False
        due = self.next_due()
        while due is not None and due <= now:
            self.updated_at = due
            if self.status == "BATCH_STATUS_QUEUED":
                self.status = "BATCH_STATUS_IN_PROGRESS"
            elif self.status == "BATCH_STATUS_CANCELING":
                self.status = "BATCH_STATUS_CANCELED"
            elif self.failure:
                self.status = "BATCH_STATUS_FAILED"
            else:
                self.results = [self._run(row, responder) for row in self.dataset.rows]
                self.status, done = "BATCH_STATUS_COMPLETED", True
            due = self.next_due()
        return done

    def _run(self, row: dict[str, Any], responder: ChatResponder) -> dict[str, Any]:
        cid, body = row["custom_id"], row["body"]
        problem = self.record_faults.get(cid) or body_problem(body, self.model)
        if problem is not None:
            return {"custom_id": cid, "body": None, "error": problem}
        return {"custom_id": cid, "body": responder(body, cid, self.model), "error": ""}

    def cancel(self, now: float) -> None:
        if self.status in ("BATCH_STATUS_QUEUED", "BATCH_STATUS_IN_PROGRESS"):
            self.status, self.cancel_at, self.updated_at = "BATCH_STATUS_CANCELING", now, now

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "name": self.name, "creator_id": "emulated-user",
            "org_id": "emulated-org", "status": self.status,
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(max(self.updated_at, self.created_at)),
            "input_dataset_id": self.dataset.id, "model": self.model,
            "num_records": len(self.dataset.rows),
            "num_successful_records": sum(1 for r in self.results if not r["error"]),
            "num_failed_records": sum(1 for r in self.results if r["error"]),
            "input_tokens": str(self._tokens("input_tokens")),
            "output_tokens": str(self._tokens("output_tokens")),
        }
        if self.output is not None:
            out["output_dataset_id"] = self.output.id
        if self.status == "BATCH_STATUS_FAILED":
            out["status_reason"] = self.failure
        return out

    def _tokens(self, kind: str) -> int:
        return sum(int(r["body"]["usage"]["billed_units"][kind]) for r in self.results
                   if r["body"] is not None)
