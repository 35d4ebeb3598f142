"""Against a real PostgreSQL server: 4 ``batchkit worker`` processes and 2 submitting processes
on 20 jobs of 3 shards each. Every shard is created at the vendor exactly once, every job ends
complete with each request's result once, and the worker SIGKILLed in the middle of the run's
first download has its job finished by the others."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

import batchkit as bk
from batchkit._registry import _registered
from batchkit.store import open_store
from batchkit.testing import fake_submissions

# The fake vendor, plus a record of every download (which shard, which process) and, at the
# first download of the whole run, the SIGKILL of the process doing it: results written to its
# private folder, nothing recorded in the store yet.
PROVIDER = textwrap.dedent(
    """
    import os, signal
    import batchkit as bk
    from batchkit.testing import FakeAdapter

    class CollectFake(FakeAdapter):
        name = "collectfake"

        def fetch_results(self, remote_id, status, dest):
            home = os.environ["BATCHKIT_HOME"]
            with open(os.path.join(home, "collects.log"), "a") as log:
                log.write(f"{remote_id} {os.getpid()}\\n")
            paths = super().fetch_results(remote_id, status, dest)
            try:
                os.close(os.open(os.path.join(home, "kill-token"), os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return paths
            os.kill(os.getpid(), signal.SIGKILL)

    bk.register_provider("collectfake", CollectFake, clobber=True)
    """
)
WORKER = PROVIDER + textwrap.dedent(
    """
    import sys
    from batchkit.cli import main
    sys.argv = ["batchkit", "worker", "--interval", "0.05", "--max-interval", "0.25"]
    main()
    """
)
SUBMITTER = PROVIDER + textwrap.dedent(
    """
    import sys
    me = sys.argv[1]
    for j in range(10):
        requests = [bk.ChatRequest(custom_id=f"{me}-{j}-{i}",
                                   messages=[{"role": "user", "content": f"{me} {j} {i}"}])
                    for i in range(6)]
        job = bk.submit(requests, "collectfake:m", options={"max_requests": 2})
        print(job.id, flush=True)
    """
)
JOBS, SHARDS, REQUESTS = 20, 3, 6


def _start(script: str, *args: str, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-c", script, *args], stdout=out,
                                stderr=subprocess.STDOUT)


def _logs(folder: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()}" for p in sorted(folder.glob("*.log")))


def test_workers_share_jobs_and_survive_a_killed_one(
    fresh_postgres: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Path(os.environ["BATCHKIT_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    logs = tmp_path / "logs"
    logs.mkdir()
    monkeypatch.setenv("BATCHKIT_STORE", fresh_postgres)  # the children's store
    monkeypatch.setenv("BATCHKIT_LEASE_SECONDS", "3")
    exec(PROVIDER, {})  # this process reads the results back through the same provider
    try:
        workers = [_start(WORKER, log=logs / f"worker{n}.log") for n in range(4)]
        submitters = [_start(SUBMITTER, me, log=logs / f"submit-{me}.log") for me in "xy"]
        assert [p.wait(timeout=60) for p in submitters] == [0, 0], _logs(logs)
        store = open_store(fresh_postgres)
        deadline = time.monotonic() + 90
        while store.unsettled_jobs() or len(store.list_jobs(100)) < JOBS:
            assert time.monotonic() < deadline, "jobs left open:\n" + _logs(logs)
            for p in workers:
                p.poll()  # reap a killed worker, so its lease is seen as a dead process's
            time.sleep(0.2)
        for p in workers:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes = sorted(p.wait(timeout=30) for p in workers)
    finally:
        for p in workers:
            if p.poll() is None:
                p.kill()

    assert codes == [-signal.SIGKILL, 0, 0, 0], _logs(logs)  # one killed, three stopped cleanly
    assert _logs(logs).count(", settled") == JOBS  # each job finished by one worker, once
    killed = next(p.pid for p in workers if p.returncode == -signal.SIGKILL)

    jobs = store.list_jobs(100)
    shards = [s for job in jobs for s in store.get_shards(job.id)]
    assert len(jobs) == JOBS and len(shards) == JOBS * SHARDS
    assert fake_submissions() == {s.key: 1 for s in shards}  # each shard created once

    collects = [line.split() for line in (home / "collects.log").read_text().splitlines()]
    per_batch = Counter(remote_id for remote_id, _pid in collects)
    assert set(per_batch) == {s.remote_id for s in shards}
    cut = [remote_id for remote_id, n in per_batch.items() if n > 1]
    assert len(cut) == 1 and per_batch[cut[0]] == 2  # only the killed download was redone
    assert next(pid for remote_id, pid in collects if remote_id == cut[0]) == str(killed)

    for job in jobs:
        assert job.state == bk.JobState.COMPLETED
        results = bk.get_job(job.id, store=store).results()
        assert results.counts() == {"succeeded": REQUESTS}
        ids = [r.custom_id for r in results]
        assert len(set(ids)) == REQUESTS
        for r in results:
            me, j, i = r.custom_id.split("-")
            assert r.text == f"echo: {me} {j} {i}"
    store.close()
    _registered.pop("collectfake", None)
