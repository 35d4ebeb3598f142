"""Job leases: one holder at a time, across processes, on both backends; a dead holder's lease
passes on (at once on its own machine, after expiry from anywhere)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import batchkit as bk
from batchkit._lease import job_lease
from batchkit.store import JobRecord, ShardRecord, SQLStore


def _job(store: SQLStore, job_id: str) -> None:
    store.create_job(
        JobRecord(id=job_id, provider="fake:m", state=bk.JobState.PENDING, request_count=1,
                  folder="/x"),
        [ShardRecord(job_id=job_id, index=0, key=f"{job_id}-0", group="chat", request_count=1,
                     payload_path="p", requests_path="r")],
    )


def test_one_holder_at_a_time_and_expiry(store: SQLStore) -> None:
    _job(store, "j1")
    assert store.take_lease("j1", "a", 0.4)
    assert not store.take_lease("j1", "b", 0.4)
    assert store.take_lease("j1", "a", 0.4)  # the holder extends its own
    assert store.lease_holder("j1") == "a"
    time.sleep(0.5)
    assert store.take_lease("j1", "b", 30)  # expired: anyone may take it
    assert not store.renew_lease("j1", "a", 30)  # and the old holder learns it lost it
    store.release_lease("j1", "a")  # a stale release frees nothing
    assert store.lease_holder("j1") == "b"
    store.release_lease("j1", "b")
    assert store.lease_holder("j1") is None
    assert not store.take_lease("nope", "a", 1)


def test_a_dead_holder_on_this_machine_is_replaced_at_once(store: SQLStore) -> None:
    _job(store, "j1")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    owner = f"{socket.gethostname()}:{dead.stdout.strip()}:cafe"
    assert store.take_lease("j1", owner, 3600)
    with job_lease(store, "j1", wait=False) as held:
        assert held
        assert store.lease_holder("j1") not in (None, owner)
    alive = f"{socket.gethostname()}:{os.getppid()}:beef"
    assert store.take_lease("j1", alive, 3600)
    with job_lease(store, "j1", wait=False) as held:
        assert not held  # a live holder keeps it


def test_a_lease_on_a_missing_job_is_an_error_not_a_wait(store: SQLStore) -> None:
    with pytest.raises(bk.JobNotFoundError), job_lease(store, "nope"):
        pass


def test_leases_are_reentrant_in_a_thread_and_released(store: SQLStore) -> None:
    _job(store, "j1")
    with job_lease(store, "j1") as outer:
        holder = store.lease_holder("j1")
        with job_lease(store, "j1") as inner:
            assert outer and inner and store.lease_holder("j1") == holder
        assert store.lease_holder("j1") == holder  # the inner exit kept it
    assert store.lease_holder("j1") is None


def test_a_heartbeat_keeps_a_long_hold(store: SQLStore, monkeypatch: pytest.MonkeyPatch) -> None:
    _job(store, "j1")
    monkeypatch.setenv("BATCHKIT_LEASE_SECONDS", "0.3")
    with job_lease(store, "j1"):
        time.sleep(1.0)  # three lease lengths
        assert not store.take_lease("j1", "elsewhere:1:x", 30)


def test_settled_jobs_leave_the_open_list(store: SQLStore) -> None:
    for job_id in ("j1", "j2"):
        _job(store, job_id)
    assert store.unsettled_jobs() == ["j1", "j2"]
    store.settle("j1")
    assert store.unsettled_jobs() == ["j2"]


CONTENDER = textwrap.dedent(
    """
    import os, sys, time
    from batchkit._lease import job_lease
    from batchkit.store import open_store
    store = open_store(sys.argv[1])
    log = sys.argv[2]
    for round in range(15):
        for job_id in ("j0", "j1"):
            with job_lease(store, job_id) as held:
                assert held
                with open(log, "a") as fh:
                    fh.write(f"+{job_id}\\n")
                time.sleep(0.005)
                with open(log, "a") as fh:
                    fh.write(f"-{job_id}\\n")
    """
)


def test_processes_never_hold_one_job_together(
    store: SQLStore, store_target: str, tmp_path: Path
) -> None:
    for job_id in ("j0", "j1"):
        _job(store, job_id)
    log = tmp_path / "holds.log"
    procs = [subprocess.Popen([sys.executable, "-c", CONTENDER, store_target, str(log)])
             for _ in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    inside = {"j0": 0, "j1": 0}
    entries = log.read_text().split()
    for entry in entries:
        inside[entry[1:]] += 1 if entry[0] == "+" else -1
        assert inside[entry[1:]] in (0, 1), "two processes held one job's lease at once"
    assert len(entries) == 4 * 15 * 2 * 2
