"""The store's promises, on every backend (the ``store`` fixture is SQLite, then PostgreSQL)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import batchkit as bk
from batchkit.store import JobRecord, ShardRecord, SQLiteStore, SQLStore, open_store

S = bk.JobState


def _job(store: SQLStore, job_id: str = "j1", shards: int = 2) -> None:
    store.create_job(
        JobRecord(id=job_id, provider="fake:m", state=S.PENDING, request_count=10, folder="/x"),
        [ShardRecord(job_id=job_id, index=i, key=f"{job_id}-{i}", group="chat", request_count=5,
                     payload_path="p", requests_path="r") for i in range(shards)],
    )


def test_round_trip_and_events(store: SQLStore) -> None:
    _job(store)
    assert store.get_job("j1").state == S.PENDING
    assert store.set_remote_id("j1", 0, "b0") == "b0"
    assert store.set_remote_id("j1", 0, "other") == "b0"  # first id wins, never overwritten
    assert store.update_shard("j1", 0, state=S.RUNNING, vendor_status="in_progress",
                              counts={"total": 5})
    assert store.get_job("j1").state == S.PENDING  # shard 1 still pending
    store.update_shard("j1", 1, state=S.COMPLETED)
    assert store.get_job("j1").state == S.RUNNING
    store.update_shard("j1", 0, state=S.COMPLETED, result_paths=["a.jsonl"])
    assert store.get_job("j1").state == S.COMPLETED
    shard = store.get_shards("j1")[0]
    assert (shard.remote_id, shard.counts, shard.result_paths) == ("b0", {"total": 5}, ["a.jsonl"])
    transitions = [(e.shard_index, e.old_state, e.new_state) for e in store.events("j1")]
    assert (None, "pending", "running") in transitions
    assert (0, "running", "completed") in transitions


def test_stale_update_cannot_move_a_shard_backwards(store: SQLStore) -> None:
    _job(store)
    store.update_shard("j1", 0, state=S.COMPLETED)
    assert store.update_shard("j1", 0, state=S.RUNNING) is False
    assert store.get_shards("j1")[0].state == S.COMPLETED


def test_unknown_job(store: SQLStore) -> None:
    with pytest.raises(bk.JobNotFoundError, match="no job 'nope'"):
        store.get_job("nope")


def test_in_memory_store() -> None:
    store = open_store(":memory:")
    _job(store)
    assert store.get_job("j1").request_count == 10


def test_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "jobs.db"
    store = SQLiteStore(path)
    _job(store)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for extra in path.parent.glob("jobs.db-*"):
        assert stat.S_IMODE(extra.stat().st_mode) & 0o077 == 0


def test_migrations_run_once(store: SQLStore, store_target: str) -> None:
    _job(store)
    again = open_store(store_target)  # reopening must not re-apply or lose anything
    assert again.get_job("j1").request_count == 10
    again.close()


WRITER = textwrap.dedent(
    """
    import sys
    from batchkit.store import open_store
    from batchkit import JobState
    store = open_store(sys.argv[1])
    me = int(sys.argv[2])
    for i in range(200):
        store.update_shard("j1", me, counts={"n": i}, vendor_status=f"p{me}-{i}")
    store.update_shard("j1", me, state=JobState.COMPLETED)
    """
)


def test_two_processes_writing_the_same_job(store: SQLStore, store_target: str) -> None:
    _job(store)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, store_target, str(i)])
             for i in (0, 1)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    shards = store.get_shards("j1")
    assert [s.counts for s in shards] == [{"n": 199}, {"n": 199}]
    assert store.get_job("j1").state == S.COMPLETED
    events = [(e.shard_index, e.new_state) for e in store.events("j1")]
    assert events.count((None, "completed")) == 1  # the job's state moved exactly once
    if isinstance(store, SQLiteStore):
        assert store._conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert os.path.exists(store_target)


def test_a_new_store_opened_by_three_threads_at_once_opens_in_each(tmp_path: Path) -> None:
    """Async jobs started together open one new store from worker threads at once. SQLite then
    refuses all but one switch to WAL at once ("database is locked", its busy timeout unused):
    the others wait their turn instead of failing (before: some 3 opens in 100 failed)."""
    failures: list[BaseException] = []

    def open_store_at(path: Path, together: threading.Barrier) -> None:
        together.wait()
        try:
            SQLiteStore(path).close()
        except BaseException as exc:  # every failure is the finding
            failures.append(exc)

    for attempt in range(100):
        together = threading.Barrier(3)
        threads = [threading.Thread(target=open_store_at,
                                    args=(tmp_path / str(attempt) / "jobs.db", together))
                   for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
