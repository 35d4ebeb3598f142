"""Local files are a cache of the vendor's: deleted or moved, they come back, or a one-line error.

* a downloaded result file (or its whole folder) deleted: read again, it is downloaded again,
  on the fake vendor and through the OpenAI SDK against its emulator;
* ``BATCHKIT_HOME`` moved whole: the store's rows name the old place, the job is read from the
  new one;
* a retry round's input files deleted before it was sent: rebuilt from the journal (its
  positions) and the first round's files, byte for byte, and sent once;
* a first-round input file deleted before it was sent: one line saying so, not a traceback.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import batchkit as bk
from batchkit._config import batchkit_home
from batchkit.cli import cli
from batchkit.testing import emulate, fake_submissions

N = 20


def _requests() -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"r{i}", max_tokens=10,
                           messages=[{"role": "user", "content": f"question {i}"}])
            for i in range(N)]


def _result_files(job: bk.Job) -> list[Path]:
    return [Path(p) for s in job.shards for p in (s.result_paths or [])]


@pytest.mark.parametrize("how", ["one-file", "whole-folder"])
@pytest.mark.parametrize("provider", ["fake:m", "openai:gpt-4o-mini"])
def test_deleted_result_files_are_downloaded_again(provider: str, how: str,
                                                   tmp_path: Path) -> None:
    with emulate(providers=["openai"]):
        job = bk.submit(_requests(), provider, shard_size=10).wait()
        first = [(r.custom_id, r.status, r.text) for r in job.results()]
        files = _result_files(job)
        assert len(files) >= 2
        if how == "one-file":
            files[0].unlink()
        else:
            shutil.rmtree(files[0].parent)
        again = bk.get_job(job.id).results()
        assert [(r.custom_id, r.status, r.text) for r in again] == first
        assert files[0].exists()
        files[-1].unlink()
        out = tmp_path / "out.jsonl"
        result = CliRunner().invoke(cli, ["results", job.id, "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert len(out.read_text().splitlines()) == N


def test_a_moved_home_is_read_where_it_is_now(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    job = bk.submit(_requests(), "fake:m", shard_size=10).wait()
    old = batchkit_home()
    new = tmp_path / "moved"
    os.rename(old, new)
    monkeypatch.setenv("BATCHKIT_HOME", str(new))
    moved = bk.get_job(job.id)
    assert moved.folder == new / "jobs" / job.id
    assert all(Path(s.requests_path).parent == moved.folder for s in moved.shards)
    assert moved.results().counts() == {"succeeded": N}
    assert all(p.is_relative_to(new) for p in _result_files(moved))


RETRY_CHILD = textwrap.dedent(
    """
    import batchkit as bk
    requests = [bk.ChatRequest(custom_id=f"r{i}", messages=[{"role": "user", "content": str(i)}])
                for i in range(20)]
    job = bk.submit(requests, "fake:m", shard_size=10, retry=1,
                    options={"errors": {"r3": "server_error", "r15": "server_error"},
                             "heal": True})
    job.wait()
    print("finished without being killed")
    """
)


def test_a_retry_rounds_deleted_inputs_are_rebuilt_from_the_journal() -> None:
    env = {**os.environ, "BATCHKIT_FAKE_KILL_AT": "before_submit:2"}  # the retry shard
    proc = subprocess.run([sys.executable, "-c", RETRY_CHILD], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    (record,) = bk.list_jobs()
    retry_shard = bk.get_job(record.id).shards[2]
    assert retry_shard.attempt == 2 and retry_shard.remote_id is None
    payload, index = Path(retry_shard.payload_path), Path(retry_shard.requests_path)
    original = payload.read_bytes(), index.read_bytes()
    payload.unlink()
    index.unlink()

    job = bk.resume(record.id).wait()
    assert (payload.read_bytes(), index.read_bytes()) == original
    results = job.results()
    assert results.counts() == {"succeeded": N}
    assert {r.custom_id: r.attempts for r in results if r.attempts > 1} == {"r3": 2, "r15": 2}
    assert fake_submissions() == {s.key: 1 for s in job.shards}


def test_a_deleted_first_round_input_is_a_one_line_error() -> None:
    env = {**os.environ, "BATCHKIT_FAKE_KILL_AT": "before_submit:1"}
    script = RETRY_CHILD.replace("retry=1", "retry=0")
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    (record,) = bk.list_jobs()
    Path(bk.get_job(record.id).shards[1].payload_path).unlink()
    with pytest.raises(bk.BatchkitError) as info:
        bk.resume(record.id)
    message = str(info.value)
    assert "shard 1" in message and "is gone" in message and "\n" not in message
    assert not isinstance(info.value, FileNotFoundError)
    result = CliRunner().invoke(cli, ["wait", record.id])
    assert result.exit_code == 1 and "is gone" in result.stderr
    assert "Traceback" not in result.output
