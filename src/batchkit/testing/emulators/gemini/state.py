"""One emulated Gemini API batch: its timeline on the shared clock, its rows and its output.

Why a timeline: a Gemini batch moves ``BATCH_STATE_PENDING`` -> ``RUNNING`` -> ``SUCCEEDED`` on
Google's schedule, or ends ``FAILED``, ``CANCELLED`` (a cancel keeps what finished) or
``EXPIRED`` (48 hours, with the finished rows in the output). Rows finish one by one across the
running phase on :class:`~batchkit.testing._clock.EmulatorClock`, so a test can stop anywhere
and see partial results, exactly what batchkit has to account for.

The batch renders itself as the API's ``Operation`` whose ``metadata`` is the
``GenerateContentBatch`` (or ``EmbedContentBatch``): the shape google-genai's
``_BatchJob_from_mldev`` reads (``metadata.state``, ``metadata.output`` ...).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

Kind = Literal["generate", "embed"]
_TYPES = "type.googleapis.com/google.ai.generativelanguage.v1beta."
TERMINAL = frozenset({"BATCH_STATE_SUCCEEDED", "BATCH_STATE_FAILED", "BATCH_STATE_CANCELLED",
                      "BATCH_STATE_EXPIRED"})


@dataclass
class Phases:
    """How long each state lasts on the emulator clock, in seconds."""

    pending: float = 10.0
    running: float = 60.0


@dataclass
class BatchFaults:
    """Faults armed for the next batch created (see ``GeminiEmulator.arm``).

    ``expire_after``: the batch expires once this many rows finished (they keep their output).
    ``fail``: the batch ends ``FAILED`` with this message and no output.
    ``drop_inline``: leave the last N inline responses out (a count mismatch).
    ``extra_inline``: add N inline responses whose keys match no request.
    ``strip_metadata``: answer inline responses without their ``metadata`` (positional only).
    """

    expire_after: int | None = None
    fail: str | None = None
    drop_inline: int = 0
    extra_inline: int = 0
    strip_metadata: bool = False


@dataclass
class Row:
    key: str | None
    request: dict[str, Any]
    problem: str | None
    """Why the request is invalid (the row ends with an INVALID_ARGUMENT error), or None."""
    metadata: dict[str, Any] | None = None


@dataclass
class EmulatedBatch:
    id: str
    kind: Kind
    model: str
    display_name: str
    created_at: float
    rows: list[Row]
    phases: Phases
    faults: BatchFaults
    row_faults: Mapping[str, dict[str, Any]]
    """key -> the ``google.rpc.Status`` that row ends with."""
    input_file: str | None
    state: str = "BATCH_STATE_PENDING"
    ended_at: float | None = None
    updated_at: float = 0.0
    outcomes: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Row index -> ``{"response": ...}`` or ``{"error": ...}`` once the row has run."""
    output_file: str | None = None

    @property
    def name(self) -> str:
        return f"batches/{self.id}"

    @property
    def running_at(self) -> float:
        return self.created_at + self.phases.pending

    def finish_time(self, index: int) -> float:
        return self.running_at + self.phases.running * (index + 1) / max(1, len(self.rows))

    def next_due(self) -> float | None:
        """When the state changes next (auto-mode polls jump the clock here)."""
        if self.state == "BATCH_STATE_PENDING":
            return self.running_at
        if self.state == "BATCH_STATE_RUNNING":
            if self.faults.fail is not None:
                return self.running_at
            if self.faults.expire_after is not None and self.faults.expire_after < len(self.rows):
                return self.finish_time(self.faults.expire_after - 1) if \
                    self.faults.expire_after > 0 else self.running_at
            return self.finish_time(len(self.rows) - 1)
        return None

    def advance(self, now: float, run: Callable[[Row], dict[str, Any]]) -> bool:
        """Run what is due by ``now``; returns True when the batch just ended (output due)."""
        ended = False
        while self.state not in TERMINAL:
            due = self.next_due()
            if due is None or due > now:
                break
            self._run_until(due, run)
            self.updated_at = due
            if self.state == "BATCH_STATE_PENDING":
                self.state = "BATCH_STATE_RUNNING"
                continue
            if self.faults.fail is not None:
                self.state = "BATCH_STATE_FAILED"
            elif self.faults.expire_after is not None and \
                    self.faults.expire_after < len(self.rows):
                self.state = "BATCH_STATE_EXPIRED"
            else:
                self.state = "BATCH_STATE_SUCCEEDED"
            self.ended_at, ended = due, True
        if self.state == "BATCH_STATE_RUNNING":
            self._run_until(now, run)
        return ended

    def cancel(self, now: float, run: Callable[[Row], dict[str, Any]]) -> bool:
        """Cancel: finished rows keep their output. Returns True if the batch just ended."""
        if self.state in TERMINAL:
            return False
        self._run_until(now, run)
        self.state, self.ended_at, self.updated_at = "BATCH_STATE_CANCELLED", now, now
        return True

    def _run_until(self, now: float, run: Callable[[Row], dict[str, Any]]) -> None:
        if self.state != "BATCH_STATE_RUNNING" or self.faults.fail is not None:
            return
        limit = self.faults.expire_after if self.faults.expire_after is not None else len(self.rows)
        for index, row in enumerate(self.rows[:limit]):
            if index not in self.outcomes and self.finish_time(index) <= now:
                if row.problem is not None:
                    self.outcomes[index] = {"error": {"code": 3, "message": row.problem}}
                elif row.key is not None and row.key in self.row_faults:
                    self.outcomes[index] = {"error": dict(self.row_faults[row.key])}
                else:
                    self.outcomes[index] = {"response": run(row)}

    # -- output ------------------------------------------------------------------------------

    def output_lines(self) -> list[dict[str, Any]]:
        """The responses file: one ``{"key", "response" | "error"}`` per finished row, in input
        order (the API writes "the same order as the input requests")."""
        return [{"key": self.rows[i].key, **self.outcomes[i]} for i in sorted(self.outcomes)]

    def inline_responses(self) -> list[dict[str, Any]]:
        """``InlinedResponse`` items, with the armed count-mismatch faults applied."""
        items = []
        for i in sorted(self.outcomes):
            item = dict(self.outcomes[i])
            if self.rows[i].metadata is not None and not self.faults.strip_metadata:
                item["metadata"] = self.rows[i].metadata
            items.append(item)
        if self.faults.drop_inline:
            items = items[: max(0, len(items) - self.faults.drop_inline)]
        for n in range(self.faults.extra_inline):
            items.append({"metadata": {"key": f"surplus-{n}"}, "error": {
                "code": 13, "message": "An internal error has occurred."}})
        return items

    def stats(self) -> dict[str, str]:
        """``batchStats``: int64 counts, which proto JSON renders as strings."""
        failed = sum(1 for o in self.outcomes.values() if "error" in o)
        done = len(self.outcomes)
        pending = 0 if self.state in TERMINAL else len(self.rows) - done
        return {"requestCount": str(len(self.rows)), "successfulRequestCount": str(done - failed),
                "failedRequestCount": str(failed), "pendingRequestCount": str(pending)}

    def output(self) -> dict[str, Any] | None:
        if self.state not in TERMINAL or self.state == "BATCH_STATE_FAILED":
            return None
        if self.output_file is not None:
            return {"responsesFile": self.output_file}
        # The API answers embedding batches under ``inlinedResponses`` too: google-genai's
        # ``t_recv_batch_job_destination`` renames them when it sees an ``embedding``.
        return {"inlinedResponses": {"inlinedResponses": self.inline_responses()}}

    def as_operation(self) -> dict[str, Any]:
        batch_type = "GenerateContentBatch" if self.kind == "generate" else "EmbedContentBatch"
        meta: dict[str, Any] = {
            "@type": _TYPES + batch_type,
            "model": self.model,
            "name": self.name,
            "displayName": self.display_name,
            "inputConfig": {"fileName": self.input_file} if self.input_file else {},
            "createTime": rfc3339(self.created_at),
            "updateTime": rfc3339(max(self.updated_at, self.created_at)),
            "batchStats": self.stats(),
            "state": self.state,
        }
        if self.ended_at is not None:
            meta["endTime"] = rfc3339(self.ended_at)
        operation: dict[str, Any] = {"name": self.name, "metadata": meta,
                                     "done": self.state in TERMINAL}
        output = self.output()
        if output is not None:
            meta["output"] = output
            operation["response"] = {"@type": _TYPES + batch_type + "Output", **output}
        if self.state == "BATCH_STATE_FAILED":
            operation["error"] = {"code": 3, "message": str(self.faults.fail)}
        return operation


def rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass
class StoredFile:
    """A file held by the emulated Files API (uploaded input, or a batch's generated output)."""

    id: str
    display_name: str
    mime_type: str
    data: bytes
    created_at: float
    source: str

    def as_json(self, host: str) -> dict[str, Any]:
        out = {"name": f"files/{self.id}", "displayName": self.display_name,
               "mimeType": self.mime_type, "sizeBytes": str(len(self.data)),
               "createTime": rfc3339(self.created_at), "updateTime": rfc3339(self.created_at),
               "expirationTime": rfc3339(self.created_at + 48 * 3600),
               "sha256Hash": base64.b64encode(hashlib.sha256(self.data).digest()).decode(),
               "uri": f"http://{host}/gemini/v1beta/files/{self.id}", "state": "ACTIVE",
               "source": self.source}
        if self.source == "GENERATED":
            out["downloadUri"] = f"http://{host}/gemini/v1beta/files/{self.id}:download?alt=media"
        return out


@dataclass
class UploadSession:
    """A resumable upload in progress."""

    display_name: str
    mime_type: str
    size: int
    data: bytearray = field(default_factory=bytearray)
