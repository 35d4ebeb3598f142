"""``fake``: a deterministic provider that runs on the local disk, for testing orchestration.

The fake "vendor" keeps its batches as files under ``options["vendor_dir"]`` (default
``$BATCHKIT_HOME/fake-vendor``), so it survives the process that submitted to it: a test can kill
a job mid-submit and resume it from another process, and the vendor still remembers what was
created and counts every submission per idempotency key.

Options (all JSON, stored with the job):

* ``states``: the statuses a batch goes through, one step per poll, in batchkit's own
  vocabulary (the fake vendor speaks it; default ``["validating", "running", "finalizing",
  "completed"]``; end with ``"expired"``, ``"failed"`` or ``"cancelled"`` to end that way);
* ``errors``: ``{custom_id: code}`` — those requests fail with that error code;
* ``missing``: ``[custom_id, ...]`` — no result line at all for those;
* ``expired``: ``[custom_id, ...]`` — those are reported as not run before expiry;
* ``max_requests`` / ``max_bytes`` / ``min_requests``: shard limits (defaults 1,000 / 1 MB /
  none);
* ``reject``: ``{line: message}`` — the batch fails validation with those 1-based lines;
* ``heal``: true — ``errors``, ``missing`` and ``expired`` hit a request only the first time it
  is sent, so a retry of it succeeds (how item-retry tests get a flaky vendor).

Real time (``mode="realtime"``: each line answered by ``send_now`` at once):

* ``latency_s``: seconds each call takes (default 0);
* ``vendor_rpm``: the fake account's requests per minute, a bucket holding one second's worth;
  a call beyond it is refused with ``RateLimitedError`` (``retry_after`` until the bucket
  refills), and every answer carries ``x-ratelimit-limit/remaining-requests`` headers;
* ``errors`` with a passing code (``server_error``, ``rate_limit_exceeded``) raise a transient
  ``ProviderError`` instead of answering (with ``heal``, only the first time).

Every real-time call is logged by id (``fake_realtime_calls`` counts them across processes).

Real time (``mode="realtime"``: each line answered by ``send_now`` at once):

* ``latency_s``: seconds each call takes (default 0);
* ``vendor_rpm``: the fake account's requests per minute, enforced over one-second windows;
  a call beyond it is refused with ``RateLimitedError`` (``retry_after`` until the window
  frees), and every answer carries ``x-ratelimit-*`` headers as a vendor's would;
* ``errors`` with a passing code (``server_error``, ``rate_limit_exceeded``) raise a transient
  ``ProviderError`` instead of answering (with ``heal``, only the first time).

Every real-time call is logged by id (``fake_realtime_calls`` counts them across processes).

``BATCHKIT_FAKE_KILL_AT=before_submit:N`` or ``after_submit:N`` makes the process SIGKILL
itself around the submission of shard N — the hook crash tests use.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from .._config import batchkit_home
from .._exceptions import ProviderError, RateLimitedError
from .._requests import ChatRequest, EmbedRequest, Request
from .._results import ErrorInfo, Result, Usage
from .._state import JobState
from ..providers.base import (
    Adapter,
    Limits,
    LineError,
    RealtimeAnswer,
    RemoteStatus,
    ShardInput,
)
from ._schema_fill import fill_schema

__all__ = ["FakeAdapter", "fake_peak_active", "fake_realtime_calls", "fake_submissions"]

DEFAULT_STATES = ["validating", "running", "finalizing", "completed"]
EMBED_DIMENSIONS = 8
_TRANSIENT = ("server_error", "rate_limit_exceeded")
"""Injected error codes the fake vendor calls retryable."""


def _vendor_dir(options: dict[str, Any]) -> Path:
    path = Path(options.get("vendor_dir") or batchkit_home() / "fake-vendor")
    (path / "batches").mkdir(parents=True, exist_ok=True)
    return path


def fake_submissions(vendor_dir: str | Path | None = None) -> dict[str, int]:
    """How many batches the fake vendor created per idempotency key (across processes).

    Counted from the batch files themselves, each written in one atomic rename: a process
    killed mid-create either made the batch (and ``find_by_key`` sees it) or did not.
    """
    counts: dict[str, int] = {}
    for path in (_vendor_dir({"vendor_dir": vendor_dir}) / "batches").glob("*.json"):
        key = str(orjson.loads(path.read_bytes())["key"])
        counts[key] = counts.get(key, 0) + 1
    return counts


def fake_peak_active(vendor_dir: str | Path | None = None) -> int:
    """The most batches the fake vendor had out at once (created and not yet ended), across
    processes: how a test shows that a cap on a job's batches in flight held.

    Read from the vendor's activity log, one ``+id`` line per create and one ``-id`` line when
    a poll first sees the batch ended, each appended in a single write.
    """
    log = _vendor_dir({"vendor_dir": vendor_dir}) / "activity.log"
    peak = out = 0
    for entry in log.read_text().split() if log.exists() else []:
        out += 1 if entry.startswith("+") else -1
        peak = max(peak, out)
    return peak


def fake_realtime_calls(vendor_dir: str | Path | None = None) -> dict[str, int]:
    """How many real-time calls the fake vendor answered (or refused) per request id, across
    processes: how crash tests show that no finished row was bought twice."""
    log = _vendor_dir({"vendor_dir": vendor_dir}) / "realtime-calls.log"
    counts: dict[str, int] = {}
    for vid in log.read_text().split() if log.exists() else []:
        counts[vid] = counts.get(vid, 0) + 1
    return counts


class _Window:
    """The fake account's request limit, shared by every adapter of the process: a token
    bucket that refills ``per_minute / 60`` a second and holds one second's worth."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.level: float | None = None
        self.stamp = time.monotonic()

    def admit(self, per_minute: float) -> tuple[float, int]:
        """``(0, left)`` if a call may go now (and counts it), else ``(seconds to wait, 0)``."""
        rate = per_minute / 60
        capacity = max(1.0, rate)
        with self.lock:
            now = time.monotonic()
            level = capacity if self.level is None else self.level
            level = min(capacity, level + (now - self.stamp) * rate)
            self.stamp = now
            if level < 1:
                self.level = level
                return (1 - level) / rate, 0
            self.level = level - 1
            return 0.0, int(self.level)


_WINDOW = _Window()


def _log_activity(options: dict[str, Any], entry: str) -> None:
    with open(_vendor_dir(options) / "activity.log", "a") as log:
        log.write(entry + "\n")


def _kill_if_asked(point: str, index: int) -> None:
    if os.environ.get("BATCHKIT_FAKE_KILL_AT") == f"{point}:{index}":
        os.kill(os.getpid(), signal.SIGKILL)


def _unit_vector(text: str, dims: int) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    vec = np.random.default_rng(seed).standard_normal(dims)
    return [float(x) for x in (vec / np.linalg.norm(vec)).astype(np.float32)]


class FakeAdapter(Adapter):
    """A provider with no network whose behaviour is set entirely by its options."""

    name = "fake"

    def limits(self, group: str) -> Limits:
        return Limits(
            max_requests=int(self.options.get("max_requests", 1000)),
            max_bytes=int(self.options.get("max_bytes", 1_000_000)),
            max_embedding_inputs=int(self.options.get("max_requests", 1000)),
            min_requests=self.options.get("min_requests"),
        )

    def poll_interval(self) -> float:
        return 0.01

    # -- pure half ---------------------------------------------------------------------------

    def encode(self, request: Request, vendor_id: str) -> bytes:
        line: dict[str, Any] = {"id": vendor_id, "kind": request.kind, "model": self.model}
        if isinstance(request, ChatRequest):
            line["prompt"] = request.messages[-1].text
            if request.response_model is not None:
                line["schema"] = request.response_model.model_json_schema()
        elif isinstance(request, EmbedRequest):
            line["text"] = request.text
            line["dims"] = request.dimensions or EMBED_DIMENSIONS
        return orjson.dumps(line)

    def decode(self, line: bytes) -> Result:
        row = orjson.loads(line)
        vid = row["id"]
        not_run = row.get("not_run")
        if not_run in ("expired", "cancelled"):
            return Result(vid, not_run, raw=row, error=ErrorInfo(
                f"batch_{not_run}", f"not run: the batch was {not_run}", not_run == "expired"))
        if "error" in row:
            err = row["error"]
            return Result(vid, "errored", raw=row, error=ErrorInfo(
                err["code"], err["message"], err.get("retryable", False)))
        usage = Usage(**row["usage"])
        embedding = row.get("embedding")
        return Result(
            vid, "succeeded", text=row.get("text"), usage=usage, finish_reason="stop", raw=row,
            embedding=np.asarray(embedding, dtype=np.float32) if embedding else None,
        )

    # -- I/O half (the "vendor" is a folder) -------------------------------------------------

    def _batch_path(self, remote_id: str) -> Path:
        return _vendor_dir(self.options) / "batches" / f"{remote_id}.json"

    def _load(self, remote_id: str) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(self._batch_path(remote_id).read_bytes())
        return data

    def _save(self, batch: dict[str, Any]) -> None:
        path = self._batch_path(batch["id"])
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(batch))
        os.replace(tmp, path)

    def submit(self, shard: ShardInput) -> str:
        _kill_if_asked("before_submit", shard.index)
        vendor = _vendor_dir(self.options)
        remote_id = f"fb_{shard.key}_{time.time_ns()}"
        shutil.copyfile(shard.payload_path, vendor / f"{remote_id}.input.jsonl")
        self._save({"id": remote_id, "key": shard.key, "step": -1, "cancelled": False,
                    "resent": self._note_sent(shard.payload_path)})
        _log_activity(self.options, f"+{remote_id}")
        _kill_if_asked("after_submit", shard.index)
        return remote_id

    def _note_sent(self, payload: Path) -> list[str]:
        """Record the ids in ``payload`` as sent; return those that had been sent before."""
        log = _vendor_dir(self.options) / "sent-ids.log"
        before = set(log.read_text().split()) if log.exists() else set()
        with open(payload, "rb") as fh:
            ids = [str(orjson.loads(raw)["id"]) for raw in fh]
        with open(log, "a") as out:
            out.writelines(f"{vid}\n" for vid in ids)
        return [vid for vid in ids if vid in before]

    def find_by_key(self, shard: ShardInput) -> str | None:
        for path in sorted((_vendor_dir(self.options) / "batches").glob("*.json")):
            batch = orjson.loads(path.read_bytes())
            if batch["key"] == shard.key:
                return str(batch["id"])
        return None

    def poll(self, remote_id: str) -> RemoteStatus:
        batch = self._load(remote_id)
        states = list(self.options.get("states", DEFAULT_STATES))
        if self.options.get("reject"):
            states = ["validating", "failed"]
        if batch["cancelled"]:
            status = "cancelled"
        else:
            batch["step"] = min(batch["step"] + 1, len(states) - 1)
            self._save(batch)
            status = states[batch["step"]]
        if JobState(status).is_terminal and not batch.get("ended"):
            batch["ended"] = True
            self._save(batch)
            _log_activity(self.options, f"-{remote_id}")
        errors = tuple(
            LineError(int(line), "invalid_request", msg)
            for line, msg in self.options.get("reject", {}).items()
        ) if status == "failed" else ()
        return RemoteStatus(JobState(status), status, errors=errors, raw=batch)

    def cancel(self, remote_id: str) -> None:
        batch = self._load(remote_id)
        batch["cancelled"] = True
        self._save(batch)

    def fetch_results(self, remote_id: str, status: RemoteStatus, dest: Path) -> list[Path]:
        if status.state == JobState.FAILED:
            return []
        errors: dict[str, str] = dict(self.options.get("errors", {}))
        missing = set(self.options.get("missing", ()))
        expired = set(self.options.get("expired", ()))
        if self.options.get("heal"):
            healed = set(self._load(remote_id).get("resent", ()))
            missing, expired = missing - healed, expired - healed
            errors = {vid: code for vid, code in errors.items() if vid not in healed}
        out_path = dest / "output.jsonl"
        source = _vendor_dir(self.options) / f"{remote_id}.input.jsonl"
        with open(source, "rb") as src, open(out_path, "wb") as out:
            for raw in src:
                req = orjson.loads(raw)
                vid = req["id"]
                if vid in missing:
                    continue
                row: dict[str, Any]
                if status.state == JobState.CANCELLED:
                    row = {"id": vid, "not_run": "cancelled"}
                elif vid in expired:
                    row = {"id": vid, "not_run": "expired"}
                elif vid in errors:
                    row = {"id": vid, "error": {"code": errors[vid], "message": "injected",
                                                "retryable": errors[vid] in _TRANSIENT}}
                else:
                    row = self._reply(req)
                out.write(orjson.dumps(row) + b"\n")
        return [out_path]

    def send_now(self, line: bytes, group: str = "") -> RealtimeAnswer:
        req = orjson.loads(line)
        vid = str(req["id"])
        latency = float(self.options.get("latency_s", 0))
        if latency:
            time.sleep(latency)
        rpm = self.options.get("vendor_rpm")
        headers: dict[str, str] = {}
        if rpm is not None:
            wait, left = _WINDOW.admit(float(rpm))
            if wait > 0:
                raise RateLimitedError("fake: rate limit reached", retry_after=wait)
            headers = {"x-ratelimit-limit-requests": str(rpm),
                       "x-ratelimit-remaining-requests": str(left)}
        log = _vendor_dir(self.options) / "realtime-calls.log"
        sent_before = self.options.get("heal") and log.exists() and vid in log.read_text().split()
        with open(log, "a") as out:
            out.write(vid + "\n")
        code = dict(self.options.get("errors", {})).get(vid)
        if code is not None and not sent_before:
            if code in _TRANSIENT:
                raise ProviderError(f"fake: {code}", status_code=503)
            row: dict[str, Any] = {"id": vid, "error": {"code": code, "message": "injected"}}
        else:
            row = self._reply(req)
        return RealtimeAnswer(orjson.dumps(row), headers)

    def _reply(self, req: dict[str, Any]) -> dict[str, Any]:
        if req["kind"] == "embed":
            return {"id": req["id"], "embedding": _unit_vector(req["text"], req["dims"]),
                    "usage": {"input_tokens": max(1, len(req["text"]) // 4)}}
        if req.get("schema"):
            text = orjson.dumps(fill_schema(req["schema"], seed=req["id"])).decode()
        else:
            text = f"echo: {req['prompt'][:200]}"
        return {"id": req["id"], "text": text, "usage": {
            "input_tokens": max(1, len(req["prompt"]) // 4), "output_tokens": len(text) // 4}}
