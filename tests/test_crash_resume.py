"""Kill a submitting process with SIGKILL, resume, and prove nothing was paid twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import batchkit as bk
from batchkit.cli import cli
from batchkit.testing import fake_submissions

SUBMIT_SCRIPT = textwrap.dedent(
    """
    import batchkit as bk
    requests = [bk.ChatRequest(custom_id=f"r{i}", messages=[{"role": "user", "content": str(i)}])
                for i in range(50)]
    bk.submit(requests, "fake:m", options={"max_requests": 10}, concurrency=CONCURRENCY)
    print("finished without being killed")
    """
)


def _submit_and_kill(kill_at: str, concurrency: int = 1) -> str:
    """Kill at ``kill_at``; one create at a time unless asked, so the step counts are exact."""
    env = {**os.environ, "BATCHKIT_FAKE_KILL_AT": kill_at}
    script = SUBMIT_SCRIPT.replace("CONCURRENCY", str(concurrency))
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert "finished" not in proc.stdout
    jobs = bk.list_jobs()
    assert len(jobs) == 1
    return jobs[0].id


def _assert_exactly_once(job_id: str) -> None:
    job = bk.get_job(job_id)
    keys = [s.key for s in job.shards]
    assert len(keys) == 5
    assert fake_submissions() == {key: 1 for key in keys}
    results = job.results()
    assert [r.custom_id for r in results] == [f"r{i}" for i in range(50)]
    assert results.counts() == {"succeeded": 50}


@pytest.mark.parametrize(
    ("kill_at", "submitted_before_kill"),
    [
        ("before_submit:0", 0),  # journal written, nothing sent
        ("after_submit:0", 1),  # vendor created shard 0, its id never recorded
        ("after_submit:3", 4),  # shards 0-2 recorded, shard 3 created but not recorded
    ],
)
def test_resume_after_sigkill(kill_at: str, submitted_before_kill: int) -> None:
    job_id = _submit_and_kill(kill_at)
    assert sum(fake_submissions().values()) == submitted_before_kill
    shards = bk.get_job(job_id).shards
    assert all(s.state == bk.JobState.PENDING for s in shards)
    recorded = sum(s.remote_id is not None for s in shards)
    assert recorded == max(0, submitted_before_kill - 1)
    from batchkit._clock import Backoff

    bk.resume(job_id).wait(backoff=Backoff(initial=0.001, maximum=0.001))
    _assert_exactly_once(job_id)


def test_cli_wait_finishes_a_killed_job(tmp_path: Path) -> None:
    job_id = _submit_and_kill("after_submit:2")
    result = CliRunner().invoke(cli, ["wait", job_id, "--json"])
    assert result.exit_code == 0, result.output
    assert '"state": "completed"' in result.output
    _assert_exactly_once(job_id)


def test_resume_after_sigkill_among_parallel_creates() -> None:
    """Four creates in flight when one of them kills the process: whatever the others got to,
    resuming still gives one vendor batch per shard."""
    job_id = _submit_and_kill("after_submit:3", concurrency=4)
    from batchkit._clock import Backoff

    bk.resume(job_id).wait(backoff=Backoff(initial=0.001, maximum=0.001))
    _assert_exactly_once(job_id)
