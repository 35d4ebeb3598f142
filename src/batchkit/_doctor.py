"""``batchkit doctor``: check the job store, and rebuild it from the job folders' journals.

Why: the store is the one place that remembers which vendor batches a job has paid for. If it
is lost or damaged, the job folders still hold each job's journal (``store._integrity``), and
the vendors still hold the batches under the idempotency keys batchkit gave them; a rebuild
puts the two back together, so no job is lost and nothing is bought again.

The rebuild restores every journaled job the store lacks: into the same store when it is sound
(only the missing jobs are added), or into a fresh one when it is not (the broken file is kept
beside it, renamed). It then asks each job's vendor, through the adapter interface alone, for
the batches the journal does not name (a create started, no vendor id written down:
``find_by_key``) and for the state of the rest (``Job.refresh``). A vendor that cannot be
reached is reported; ``batchkit wait`` does the same look-ups later.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from ._exceptions import BatchkitError
from ._job import Job
from ._registry import make_adapter
from .providers.base import ShardInput
from .store import SQLiteStore
from .store._integrity import (
    file_problem,
    journaled_folders,
    replay_journal,
    set_aside,
)
from .store._migrations import MIGRATIONS

__all__ = ["RebuildReport", "StoreReport", "check_store", "rebuild_store"]


@dataclass
class StoreReport:
    """What ``batchkit doctor`` found; ``healthy`` when nothing needs doing."""

    path: str
    size: int | None
    file_problem: str | None
    integrity: str
    """``ok``, SQLite's first complaint, or why it was not run."""
    migrations_missing: list[str] = field(default_factory=list)
    migrations_unknown: list[str] = field(default_factory=list)
    jobs_in_store: int = 0
    journaled_folders: int = 0
    folders_not_in_store: list[str] = field(default_factory=list)
    """Jobs the store has forgotten: ``doctor --rebuild`` restores them."""
    rows_without_folder: list[str] = field(default_factory=list)
    """Jobs whose folder is gone: their results can still be read from the vendor, but a
    rebuild of the store could not bring them back."""

    @property
    def healthy(self) -> bool:
        return (self.file_problem is None and self.integrity == "ok"
                and not self.migrations_missing and not self.folders_not_in_store)


def check_store(path: str | Path) -> StoreReport:
    """Check the store file, SQLite's integrity, the migrations, and rows against folders.

    Opens the file read-only: a check never writes, so it is safe on a store being repaired.
    """
    target = Path(path)
    folders = {f.name: f for f in journaled_folders(target)}
    report = StoreReport(
        path=str(target), size=target.stat().st_size if target.exists() else None,
        file_problem=file_problem(target), integrity="not run (the file is unusable)",
        journaled_folders=len(folders),
    )
    if report.size is None and not folders:  # a new home: the store is made on first use
        report.file_problem, report.integrity = None, "ok"
        return report
    if report.file_problem is not None:
        report.folders_not_in_store = sorted(folders)
        return report
    try:
        conn = sqlite3.connect(f"{target.absolute().as_uri()}?mode=ro", uri=True)
        try:
            problems = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
            report.integrity = "ok" if problems == ["ok"] else "; ".join(problems[:3])
            done = {r[0] for r in conn.execute("SELECT name FROM _migrations")}
            ids = {r[0]: r[1] for r in conn.execute("SELECT id, folder FROM jobs")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if report.integrity == "ok" or report.integrity.startswith("not run"):
            report.integrity = str(exc)  # integrity_check itself, or a table it left unread
        report.folders_not_in_store = sorted(folders)
        return report
    known = [name for name, _ in MIGRATIONS]
    report.migrations_missing = [n for n in known if n not in done]
    report.migrations_unknown = sorted(done - set(known))
    report.jobs_in_store = len(ids)
    report.folders_not_in_store = sorted(set(folders) - set(ids))
    report.rows_without_folder = sorted(
        job_id for job_id, folder in ids.items()
        if job_id not in folders and not Path(folder).is_dir()
    )
    return report


@dataclass
class RebuildReport:
    """What ``batchkit doctor --rebuild`` did, for its report."""

    store: str
    set_aside: str | None
    """Where the broken store file was kept (None: the store was sound and kept in place)."""
    restored: list[str] = field(default_factory=list)
    found_at_vendor: int = 0
    """Shards whose vendor id the journal lacked and the vendor's listing gave back by key."""
    vendor_errors: dict[str, str] = field(default_factory=dict)
    """Job id -> why its vendor could not be asked (``batchkit wait`` asks again later)."""


def rebuild_store(path: str | Path) -> RebuildReport:
    """Restore every journaled job the store at ``path`` lacks, then ask the vendors.

    A sound store keeps its rows (only missing jobs are added); a damaged one is renamed to
    ``<file>.broken-<time>`` and a fresh store takes its place. Nothing is submitted here.
    """
    target = Path(path)
    before = check_store(target)
    sound = before.file_problem is None and before.integrity == "ok"
    kept = None if sound or before.size is None else set_aside(target)
    store = SQLiteStore(target, verify=False)
    report = RebuildReport(store=str(target), set_aside=None if kept is None else str(kept))
    try:
        present = {j.id for j in store.list_jobs(limit=2**31 - 1)}
        for folder in journaled_folders(target):
            if folder.name in present:
                continue
            replayed = replay_journal(folder)
            store.restore_job(replayed.job, replayed.shards)
            report.restored.append(replayed.job.id)
        for job_id in report.restored:
            try:
                report.found_at_vendor += _ask_vendor(store, job_id)
            except BatchkitError as exc:
                report.vendor_errors[job_id] = str(exc)
    finally:
        store.close()
    return report


def _ask_vendor(store: SQLiteStore, job_id: str) -> int:
    """Look up by key each shard of a restored job whose create was started but whose vendor
    id was never written down, then refresh the job's states; returns the shards found."""
    record = store.get_job(job_id)
    adapter = make_adapter(record.provider, record.options)
    found = 0
    try:
        shards = store.get_shards(job_id)
        taken = {s.remote_id for s in shards if s.remote_id is not None}
        for shard in shards:
            if shard.remote_id is not None or shard.send_started is None or shard.state.is_terminal:
                continue
            remote_id = adapter.find_by_key(ShardInput(
                job_id=job_id, index=shard.index, key=shard.key, group=shard.group,
                payload_path=Path(shard.payload_path), request_count=shard.request_count,
                journaled_at=record.created_at, taken=frozenset(taken),
            ))
            if remote_id is not None:
                taken.add(store.set_remote_id(job_id, shard.index, remote_id))
                found += 1
        Job(record, store, adapter).refresh()
    finally:
        adapter.close()
    return found

