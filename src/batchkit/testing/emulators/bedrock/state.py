"""One emulated Bedrock batch inference job: its timeline, its records and its S3 output.

Why a timeline: a job moves through Bedrock's statuses on the vendor's schedule (``Submitted``
-> ``Validating`` -> ``Scheduled`` -> ``InProgress`` -> ``Completed``, or ``Failed`` at
validation, ``Expired`` when it never starts before its timeout, ``PartiallyCompleted`` when
the timeout cuts it short, ``Stopping`` -> ``Stopped`` after a stop), and tests must be able to
stop the world anywhere on it. Times come from the shared
:class:`~batchkit.testing._clock.EmulatorClock`; records finish one by one across
``InProgress``, so a stop keeps the finished ones.

Validation reads the input object from the S3 emulator and checks what Bedrock checks up front:
the ``.jsonl`` extension, one JSON object per line with a ``modelInput`` object and an
alphanumeric ``recordId``, and the record-count quotas. The output is written when the job
ends: ``<output>/<job id>/<input name>.out`` with one row per processed record (in no
particular order, as one version of the docs warns) and ``manifest.json.out`` with the counts.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, Protocol

from batchkit.testing.emulators.bedrock.replies import ModelInputError, Responder, input_problem

RECORD_ID = re.compile(r"^[A-Za-z0-9]+$")
ACTIVE = ("Submitted", "Validating", "Scheduled", "InProgress")
TERMINAL = ("Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired")


class Storage(Protocol):
    """What a job needs of the S3 emulator."""

    buckets: dict[str, Any]

    def get_object(self, bucket: str, key: str) -> bytes | None: ...

    def put_object(self, bucket: str, key: str, data: bytes) -> None: ...


@dataclass
class Phases:
    """How long each status lasts on the emulator clock, in seconds."""

    submitted: float = 5.0
    validating: float = 30.0
    scheduled: float = 60.0
    in_progress: float = 120.0
    stopping: float = 5.0


@dataclass
class JobFault:
    """A whole-job fault: ``Failed`` at validation (with ``message``), ``Expired`` (never
    scheduled to run before the timeout), or ``PartiallyCompleted`` (only ``processed``
    records run before the timeout)."""

    kind: Literal["Failed", "Expired", "PartiallyCompleted"]
    message: str = "Internal failure while validating the job"
    processed: int = 0


@dataclass
class RecordFault:
    """One record's fault: an error row with ``code`` and ``message``, or ``missing`` (the
    record gets no output row at all)."""

    code: int | None
    message: str = ""


@dataclass
class Quotas:
    min_records: int = 100
    max_records: int = 50_000


@dataclass
class EmulatedJob:
    arn: str
    name: str
    token: str
    model_id: str
    role_arn: str
    input_uri: str
    output_uri: str
    submitted_at: float
    timeout_hours: int
    phases: Phases
    fault: JobFault | None
    record_faults: Mapping[str, RecordFault]
    quotas: Quotas
    status: str = "Submitted"
    message: str | None = None
    modified_at: float = 0.0
    ended_at: float | None = None
    running_since: float | None = None
    stop_at: float | None = None
    records: list[tuple[str, Any]] = field(default_factory=list)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def job_id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def deadline(self) -> float:
        return self.submitted_at + self.timeout_hours * 3600

    # -- the timeline -------------------------------------------------------------------------

    def next_due(self) -> float | None:
        """When the current status ends (None: it never does by itself)."""
        p, t0 = self.phases, self.submitted_at
        kind = self.fault.kind if self.fault else None
        if self.status == "Submitted":
            return t0 + p.submitted
        if self.status == "Validating":
            return t0 + p.submitted + p.validating
        if self.status == "Scheduled":
            return self.deadline if kind == "Expired" else \
                t0 + p.submitted + p.validating + p.scheduled
        if self.status == "InProgress":
            return self.deadline if kind == "PartiallyCompleted" else \
                (self.running_since or t0) + p.in_progress
        if self.status == "Stopping" and self.stop_at is not None:
            return self.stop_at + p.stopping
        return None

    def advance(self, now: float, storage: Storage, responder: Responder) -> None:
        """Take every status step due by ``now``."""
        while True:
            due = self.next_due()
            if self.status == "InProgress":
                self._run_until(min(now, due) if due is not None else now, responder)
            if due is None or due > now:
                return
            self._step(due, storage)

    def _step(self, at: float, storage: Storage) -> None:
        self.modified_at = at
        if self.status == "Submitted":
            self.status = "Validating"
        elif self.status == "Validating":
            problem = self._validate(storage)
            if problem is not None:
                self._end("Failed", at, storage, message=problem)
            else:
                self.status = "Scheduled"
        elif self.status == "Scheduled":
            if self.fault is not None and self.fault.kind == "Expired":
                self._end("Expired", at, storage)
            else:
                self.status, self.running_since = "InProgress", at
        elif self.status == "InProgress":
            partial = self.fault is not None and self.fault.kind == "PartiallyCompleted"
            self._end("PartiallyCompleted" if partial else "Completed", at, storage)
        elif self.status == "Stopping":
            self._end("Stopped", at, storage)

    def stop(self, now: float, responder: Responder) -> None:
        if self.status == "InProgress":
            self._run_until(now, responder)
        self.status, self.stop_at, self.modified_at = "Stopping", now, now

    # -- validation and records ---------------------------------------------------------------

    def _validate(self, storage: Storage) -> str | None:
        if self.fault is not None and self.fault.kind == "Failed":
            return self.fault.message
        bucket, _, key = self.input_uri.removeprefix("s3://").partition("/")
        out_bucket = self.output_uri.removeprefix("s3://").partition("/")[0]
        if out_bucket not in storage.buckets:
            return f"Unable to access the output S3 location {self.output_uri}"
        if not key.endswith(".jsonl"):
            return f"The input file {self.input_uri} must have the .jsonl extension"
        data = storage.get_object(bucket, key)
        if data is None:
            return f"Unable to access the input S3 location {self.input_uri}"
        records = []
        for number, raw in enumerate(data.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                return f"Line {number} of the input file is not valid JSON"
            if not isinstance(record, dict) or not isinstance(record.get("modelInput"), dict):
                return f"Line {number} of the input file has no modelInput object"
            record_id = record.get("recordId", f"{number:011d}")
            if not isinstance(record_id, str) or not RECORD_ID.match(record_id):
                return f"Line {number} of the input file has a recordId that is not alphanumeric"
            records.append((record_id, record["modelInput"]))
        if len(records) < self.quotas.min_records:
            return (f"The number of records in the input ({len(records)}) is less than the "
                    f"minimum number of records per batch inference job "
                    f"({self.quotas.min_records}) for model {self.model_id}")
        if len(records) > self.quotas.max_records:
            return (f"The number of records in the input ({len(records)}) exceeds the maximum "
                    f"number of records per batch inference job ({self.quotas.max_records})")
        self.records = records
        return None

    def finish_time(self, index: int) -> float:
        start = self.running_since or self.submitted_at
        return start + self.phases.in_progress * (index + 1) / max(1, len(self.records))

    def _run_until(self, now: float, responder: Responder) -> None:
        allowed = len(self.records)
        if self.fault is not None and self.fault.kind == "PartiallyCompleted":
            allowed = self.fault.processed
        for index, (record_id, body) in enumerate(self.records[:allowed]):
            if record_id not in self.rows and self.finish_time(index) <= now:
                self.rows[record_id] = self._execute(record_id, body, responder)

    def _execute(self, record_id: str, body: Any, responder: Responder) -> dict[str, Any]:
        row: dict[str, Any] = {"recordId": record_id, "modelInput": body}
        fault = self.record_faults.get(record_id)
        problem = input_problem(self.model_id, body)
        if problem is not None:
            row["error"] = {"errorCode": 400, "errorMessage": f"Malformed input request: {problem}"}
        elif fault is not None and fault.code is not None:
            row["error"] = {"errorCode": fault.code, "errorMessage": fault.message}
        else:
            try:
                row["modelOutput"] = json.loads(json.dumps(responder(self.model_id, body,
                                                                     record_id)))
            except ModelInputError as rejected:
                row["error"] = {"errorCode": 400, "errorMessage": str(rejected)}
        return row

    # -- the end ------------------------------------------------------------------------------

    def _end(self, status: str, at: float, storage: Storage, message: str | None = None) -> None:
        self.status, self.ended_at, self.modified_at = status, at, at
        self.message = message
        if status in ("Failed", "Expired") or not self.records:  # it never ran
            return
        bucket, _, prefix = self.output_uri.removeprefix("s3://").partition("/")
        folder = f"{prefix.rstrip('/')}/{self.job_id}/" if prefix.strip("/") else f"{self.job_id}/"
        rows = [row for rid, row in self.rows.items()
                if not (rid in self.record_faults and self.record_faults[rid].code is None)]
        random.Random(self.arn).shuffle(rows)
        if rows:
            name = self.input_uri.rsplit("/", 1)[-1]
            storage.put_object(bucket, f"{folder}{name}.out", "".join(
                json.dumps(row) + "\n" for row in rows).encode())
        storage.put_object(bucket, f"{folder}manifest.json.out",
                           json.dumps(self.manifest(rows)).encode())

    def counts(self) -> dict[str, int]:
        errors = sum(1 for row in self.rows.values() if "error" in row)
        return {"totalRecordCount": len(self.records), "processedRecordCount": len(self.rows),
                "successRecordCount": len(self.rows) - errors, "errorRecordCount": errors}

    def manifest(self, rows: list[dict[str, Any]]) -> dict[str, int]:
        used = [row["modelOutput"].get("usage") or {} for row in rows if "modelOutput" in row]
        tokens_in = sum(int(u.get("input_tokens") or u.get("inputTokens") or 0) for u in used)
        tokens_out = sum(int(u.get("output_tokens") or u.get("outputTokens") or 0) for u in used)
        embedded = sum(int(row["modelOutput"].get("inputTextTokenCount") or 0)
                       for row in rows if "modelOutput" in row)
        return {**self.counts(), "inputTokenCount": tokens_in + embedded,
                "outputTokenCount": tokens_out}

    # -- the API's view -----------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """The GetModelInvocationJob response body (and, less a few members, a list summary)."""
        body: dict[str, Any] = {
            "jobArn": self.arn, "jobName": self.name, "modelId": self.model_id,
            "clientRequestToken": self.token, "roleArn": self.role_arn, "status": self.status,
            "submitTime": iso(self.submitted_at), "lastModifiedTime": iso(self.modified_at),
            "inputDataConfig": {"s3InputDataConfig": {"s3Uri": self.input_uri,
                                                      "s3InputFormat": "JSONL"}},
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": self.output_uri}},
            "timeoutDurationInHours": self.timeout_hours,
            "jobExpirationTime": iso(self.deadline),
            "modelInvocationType": "InvokeModel",
        }
        if self.message:
            body["message"] = self.message
        if self.ended_at is not None:
            body["endTime"] = iso(self.ended_at)
        if self.status not in ("Submitted", "Validating"):
            body.update(self.counts())
        return body


def iso(at: float) -> str:
    stamp = datetime.fromtimestamp(at, timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
