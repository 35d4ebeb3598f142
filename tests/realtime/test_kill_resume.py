"""SIGKILL a 1,000-row real-time run half way, resume it: 1,000 results, and no row that was
answered before the kill is bought again (the vendor's own call log says so)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson

import batchkit as bk
from batchkit.testing._fake import fake_realtime_calls

from .._subprocess import keyless_env

ROWS = 1000
RUN_SCRIPT = textwrap.dedent(
    f"""
    import batchkit as bk
    requests = [bk.ChatRequest(custom_id=f"r{{i}}", max_tokens=10,
                               messages=[{{"role": "user", "content": str(i)}}])
                for i in range({ROWS})]
    bk.run(requests, "fake:m", mode="realtime", options={{"latency_s": 0.01, "concurrency": 16}})
    print("finished without being killed")
    """
)


def _answered(folder: Path) -> set[str]:
    ids: set[str] = set()
    for path in folder.glob("shard-*.realtime.jsonl"):
        for raw in path.read_bytes().splitlines():
            with contextlib.suppress(orjson.JSONDecodeError):  # a line cut by the kill
                ids.add(orjson.loads(raw)["id"])
    return ids


def _kill_half_way(home: Path) -> tuple[str, set[str]]:
    proc = subprocess.Popen([sys.executable, "-c", RUN_SCRIPT], env=keyless_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            jobs = bk.list_jobs() if (home / "jobs.db").exists() else []
            if jobs and len(_answered(Path(jobs[0].folder))) >= ROWS // 2:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err
    assert "finished" not in out
    job_id = bk.list_jobs()[0].id
    return job_id, _answered(Path(bk.get_job(job_id).folder))


def test_sigkill_half_way_then_resume_buys_no_answered_row_twice(
        _isolated_home: Path) -> None:
    job_id, answered = _kill_half_way(_isolated_home)
    assert ROWS // 2 <= len(answered) < ROWS
    before = fake_realtime_calls()
    job = bk.resume(job_id)
    job.wait()
    results = job.results()
    assert [r.custom_id for r in results] == [f"r{i}" for i in range(ROWS)]
    assert results.counts() == {"succeeded": ROWS}
    calls = fake_realtime_calls()
    assert set(calls) == {f"r{i}" for i in range(ROWS)}
    # every row answered before the kill was bought exactly once
    assert {vid: calls[vid] for vid in answered} == {vid: 1 for vid in answered}
    # only rows in flight at the kill (sent, answer not yet on disk) may have gone twice
    twice = {vid for vid, n in calls.items() if n > 1}
    assert twice <= set(before) - answered
    assert len(twice) <= 16
