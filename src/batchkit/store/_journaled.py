"""A store that also writes each job's facts into the job folder's journal (see ``_integrity``).

Why a layer over ``SQLStore`` rather than lines inside its queries: the journal is a file in
the job folder whatever the database is, so one class keeps it for every backend, and the
queries stay about SQL. Which write goes first matters:

* a new job and a shard's first create attempt are journaled *before* the store commits them
  (the store may be the thing that gets lost; a journal entry whose commit never happened is
  only a job or an attempt the vendor may or may not have, which a rebuild looks up by key);
* what the store decided (a vendor id kept, a retry round won, an end state, a cancel) is
  journaled *after* it commits, so the journal never records a choice the store refused.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from .._state import JobState, aggregate_state
from ._integrity import JOURNAL_NAME, append_journal, job_entry, jobs_dir_for, shard_entry
from ._records import JobRecord, ShardRecord
from ._sql import SQLStore

__all__ = ["JournaledStore"]


class JournaledStore(SQLStore):
    """``SQLStore`` whose writes that cannot be asked of the vendor again are also journaled."""

    path: str

    def _folder(self, job_id: str) -> str:
        folders: dict[str, str] = self.__dict__.setdefault("_job_folders", {})
        if job_id not in folders:
            folders[job_id] = self.get_job(job_id).folder
        return folders[job_id]

    def create_job(self, job: JobRecord, shards: list[ShardRecord]) -> None:
        job.created_at = time.time()  # the store sets its own, a moment later: never earlier
        append_journal(job.folder, job_entry(self.path, job, shards))
        super().create_job(job, shards)

    def add_shards(self, job_id: str, shards: list[ShardRecord], detail: str) -> bool:
        added = super().add_shards(job_id, shards, detail)
        if added:  # a retry round: its requests' positions too, to rebuild its files from
            append_journal(self._folder(job_id), {"ev": "shards", "shards": [
                {**shard_entry(s), "pos": _positions(s.requests_path)} for s in shards]})
        return added

    def get_job(self, job_id: str) -> JobRecord:
        job = super().get_job(job_id)
        moved = _moved_folder(job.folder, self.path, job_id)
        if moved is not None:
            job.folder = str(moved)
        return job

    def get_shards(self, job_id: str) -> list[ShardRecord]:
        """The shards; with their paths re-rooted if the job folder moved (``BATCHKIT_HOME``
        moved whole: the rows still name the old place)."""
        shards = super().get_shards(job_id)
        if shards:
            old = Path(shards[0].requests_path).parent
            moved = _moved_folder(str(old), self.path, job_id)
            if moved is not None:
                shards = [_rerooted(s, old, moved) for s in shards]
        return shards

    def delete_job(self, job_id: str) -> None:
        """The journal goes first: a folder without one is no longer a job a rebuild would
        bring back, so a crash half way leaves a row to forget again, never a ghost job."""
        (Path(self._folder(job_id)) / JOURNAL_NAME).unlink(missing_ok=True)
        super().delete_job(job_id)
        self.__dict__.get("_job_folders", {}).pop(job_id, None)

    def request_cancel(self, job_id: str) -> None:
        super().request_cancel(job_id)
        append_journal(self._folder(job_id), {"ev": "cancel"})

    def mark_send_started(self, job_id: str, index: int) -> None:
        append_journal(self._folder(job_id),
                       {"ev": "send_started", "idx": index, "at": time.time()})
        super().mark_send_started(job_id, index)

    def set_remote_id(self, job_id: str, index: int, remote_id: str) -> str:
        kept = super().set_remote_id(job_id, index, remote_id)
        append_journal(self._folder(job_id), {"ev": "remote", "idx": index, "remote_id": kept})
        return kept

    def update_shard(self, job_id: str, index: int, *, state: JobState | None = None,
                     vendor_status: str | None = None, counts: dict[str, int] | None = None,
                     errors: list[dict[str, Any]] | None = None,
                     result_paths: list[str] | None = None) -> bool:
        applied = super().update_shard(job_id, index, state=state, vendor_status=vendor_status,
                                       counts=counts, errors=errors, result_paths=result_paths)
        if applied and state is not None and state.is_terminal:
            append_journal(self._folder(job_id), {
                "ev": "end", "idx": index, "state": state.value, "status": vendor_status,
                "errors": errors or [],
            })
        if applied and result_paths is not None:  # relative: the folder may move
            folder = Path(self._folder(job_id))
            append_journal(folder, {"ev": "files", "idx": index, "paths": [
                os.path.relpath(p, folder) for p in result_paths]})
        return applied

    def restore_job(self, job: JobRecord, shards: list[ShardRecord]) -> None:
        """Put a job replayed from its journal back, exactly as replayed (times, vendor ids,
        end states); only ``batchkit doctor --rebuild`` calls this, on a fresh store."""
        state = aggregate_state(s.state for s in shards)
        with self._write() as db:
            db.execute(
                "INSERT INTO jobs (id, provider, state, request_count, folder, options,"
                " created_at, updated_at, estimate, retries, cancel_requested)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job.id, job.provider, state.value, job.request_count, job.folder,
                 orjson.dumps(job.options).decode(), job.created_at, time.time(),
                 None if job.estimate is None else orjson.dumps(job.estimate).decode(),
                 job.retries, int(job.cancel_requested)),
            )
            db.executemany(
                "INSERT INTO shards (job_id, idx, key, grp, request_count, payload_path,"
                " requests_path, state, remote_id, vendor_status, errors, updated_at, attempt,"
                " input_tokens, send_started, result_paths)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(s.job_id, s.index, s.key, s.group, s.request_count, s.payload_path,
                  s.requests_path, s.state.value, s.remote_id, s.vendor_status,
                  orjson.dumps(s.errors).decode(), time.time(), s.attempt, s.input_tokens,
                  s.send_started,
                  None if s.result_paths is None else orjson.dumps(s.result_paths).decode())
                 for s in shards],
            )
            db.execute(
                "INSERT INTO events (job_id, shard_idx, old_state, new_state, at, detail)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (job.id, None, None, state.value, time.time(), "rebuilt from the job folder"),
            )


def _positions(requests_path: str) -> list[int]:
    with open(requests_path, "rb") as fh:
        return [int(orjson.loads(raw)["i"]) for raw in fh]


def _moved_folder(recorded: str, store_path: str, job_id: str) -> Path | None:
    """Where the job folder is now, if not where the store recorded it, else None."""
    if store_path == ":memory:" or Path(recorded).is_dir():
        return None
    here = jobs_dir_for(store_path) / job_id
    return here if here.is_dir() else None


def _rerooted(shard: ShardRecord, old: Path, new: Path) -> ShardRecord:
    def move(path: str) -> str:
        try:
            return str(new / Path(path).relative_to(old))
        except ValueError:  # not under the job folder: left as recorded
            return path

    return replace(shard, payload_path=move(shard.payload_path),
                   requests_path=move(shard.requests_path),
                   result_paths=None if shard.result_paths is None
                   else [move(p) for p in shard.result_paths])
