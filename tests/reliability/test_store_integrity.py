"""A damaged job store is refused loudly, and ``batchkit doctor --rebuild`` restores every job.

Two jobs are left in every state that matters: one finished and read, one whose submitting
process was SIGKILLed after the vendor created its second batch but before batchkit wrote the
batch id down (so only the vendor's listing knows it), with a third batch never sent. Then
``jobs.db`` is damaged the three ways a crash or a disk tool does it: cut to 0 bytes, cut to
half, header overwritten. Every command must then refuse with one line naming ``batchkit doctor
--rebuild`` (never start empty); the rebuild must restore both jobs, and resuming must finish
them with exactly one vendor batch per shard, counted by the vendor (emulator) itself.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import batchkit as bk
from batchkit._config import batchkit_home
from batchkit.cli import cli
from batchkit.store import SQLiteStore, _integrity

from ..conformance.targets import TARGETS, Target

N = 30
SHARD_SIZE = 10

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import batchkit as bk
    from batchkit._registry import get_adapter_class

    provider = sys.argv[1]
    adapter = get_adapter_class(provider.partition(":")[0])
    original, calls = adapter.submit, [0]
    def submit(self, shard):
        calls[0] += 1
        out = original(self, shard)
        if calls[0] == 2:  # the vendor has the batch; batchkit never wrote its id down
            os.kill(os.getpid(), signal.SIGKILL)
        return out
    adapter.submit = submit
    requests = [bk.ChatRequest(custom_id=f"k-{i}", max_tokens=20,
                               messages=[{"role": "user", "content": f"question {i}"}])
                for i in range(int(sys.argv[2]))]
    bk.submit(requests, provider, shard_size=int(sys.argv[3]), concurrency=1)
    print("finished without being killed")
    """
)

TARGET_NAMES = ("fake", "openai", "anthropic")


def _zero(db: Path) -> None:
    db.write_bytes(b"")


def _half(db: Path) -> None:
    os.truncate(db, db.stat().st_size // 2)


def _header(db: Path) -> None:
    with open(db, "r+b") as fh:
        fh.write(b"\xde\xad\xbe\xef" * 25)


DAMAGE = {"zero-bytes": _zero, "half": _half, "header-overwritten": _header}


@pytest.fixture
def environment(request: pytest.FixtureRequest) -> Iterator[Any]:
    t: Target = request.node.callspec.params["target"]
    with t.environment() as handle:
        yield handle


def _requests(prefix: str) -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"{prefix}-{i}", max_tokens=20,
                           messages=[{"role": "user", "content": f"{prefix} {i}"}])
            for i in range(N)]


def _checkpoint(db: Path) -> None:
    """Fold the WAL into the file, as a closed store leaves it, so the damage hits the data."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _one_line_refusal(result: Any) -> str:
    assert result.exit_code == 1, result.output
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message, message
    assert "batchkit doctor --rebuild" in message, message
    return str(message)


# Every damage on three vendors (one keyed by metadata, one by request counts only, the fake
# one); the file cut to 0 bytes on every other vendor the conformance suite knows.
CASES = [pytest.param(t, damage, id=f"{t.name}-{damage}") for t in TARGETS
         for damage in (DAMAGE if t.name in TARGET_NAMES else ["zero-bytes"])]


@pytest.mark.parametrize(("target", "damage"), CASES)
def test_damaged_store_is_refused_then_rebuilt_without_buying_twice(
    target: Target, damage: str, environment: Any, tmp_path: Path
) -> None:
    # Shards of another size: Anthropic's look-up by size must not see the finished job's.
    done = bk.submit(_requests("done"), target.chat, shard_size=N // 2).wait()
    assert done.results().counts() == {"succeeded": N}
    proc = subprocess.run([sys.executable, "-c", CHILD, target.chat, str(N), str(SHARD_SIZE)],
                          env=dict(os.environ), capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    killed = next(j.id for j in bk.list_jobs() if j.id != done.id)
    shards = {job_id: [(s.key, s.remote_id) for s in bk.get_job(job_id).shards]
              for job_id in (done.id, killed)}
    assert [rid is not None for _, rid in shards[killed]] == [True, False, False]
    created_before = {key: target.created(environment, key)
                      for keys in shards.values() for key, _ in keys}
    assert list(created_before.values()) == [1, 1, 1, 1, 0]

    db = batchkit_home() / "jobs.db"
    _checkpoint(db)
    DAMAGE[damage](db)
    runner = CliRunner()
    requests_file = tmp_path / "more.jsonl"
    requests_file.write_text('{"custom_id": "x", "messages": [{"role": "user", "content": "x"}]}\n')
    for args in (["list"], ["status", killed], ["wait", killed], ["results", done.id, "-o",
                 str(tmp_path / "out.jsonl")], ["submit", str(requests_file), "-p", target.chat]):
        _one_line_refusal(runner.invoke(cli, args))
    with pytest.raises(bk.StoreError, match="doctor --rebuild"):
        bk.get_job(killed)
    assert runner.invoke(cli, ["doctor"]).exit_code == 1
    assert {key: target.created(environment, key) for key in created_before} == created_before

    rebuilt = runner.invoke(cli, ["doctor", "--rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "restored 2 job(s)" in rebuilt.output
    assert list(db.parent.glob("jobs.db.broken-*")), "the damaged file is kept"
    assert {j.id for j in bk.list_jobs()} == {done.id, killed}
    assert all(s.result_paths for s in bk.get_job(done.id).shards)  # downloads kept
    # The batch whose id was never written down is found at the vendor by key, not bought again.
    assert [s.remote_id is not None for s in bk.get_job(killed).shards] == [True, True, False], \
        rebuilt.output

    for job_id in (done.id, killed):
        results = bk.resume(job_id).wait().results()
        assert results.counts() == {"succeeded": N}
    created_after = {key: target.created(environment, key) for key in created_before}
    assert list(created_after.values()) == [1] * 5
    assert runner.invoke(cli, ["doctor"]).exit_code == 0


def test_fresh_home_starts_empty_and_lone_store_is_not_refused(tmp_path: Path) -> None:
    """No job folder, no refusal: a new BATCHKIT_HOME, or an emptied one, is a new store."""
    assert CliRunner().invoke(cli, ["doctor"]).exit_code == 0  # no store yet is healthy
    assert bk.list_jobs() == []
    store = tmp_path / "elsewhere" / "jobs.db"
    SQLiteStore(store).close()
    store.write_bytes(b"")
    assert SQLiteStore(store).list_jobs() == []


def test_emptied_but_readable_store_over_job_folders_is_refused(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """A valid SQLite file with no jobs (an old copy, a fresh file) over journaled folders;
    but not while the job may be one whose commit is still in flight (journaled just now)."""
    job = bk.submit(_requests("r"), "fake:m", shard_size=SHARD_SIZE)
    db = batchkit_home() / "jobs.db"
    _checkpoint(db)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    SQLiteStore(db, verify=False).close()  # a well-formed store that knows no job
    assert bk.list_jobs() == []  # journaled seconds ago: its row may be on its way
    monkeypatch.setattr(_integrity, "_IN_FLIGHT_SECONDS", 0.0)  # as it is a minute later
    with pytest.raises(bk.StoreError, match="holds no job, but 1 job folder"):
        bk.list_jobs()
    assert CliRunner().invoke(cli, ["doctor", "--rebuild"]).exit_code == 0
    assert [j.id for j in bk.list_jobs()] == [job.id]


def test_a_store_is_backed_up_before_it_is_migrated() -> None:
    """Undo the last migration by hand, reopen: the copy holds the store as it was."""
    bk.submit(_requests("m"), "fake:m", shard_size=SHARD_SIZE)
    db = batchkit_home() / "jobs.db"
    conn = sqlite3.connect(db)
    last = conn.execute("SELECT name FROM _migrations ORDER BY name DESC LIMIT 1").fetchone()[0]
    conn.execute("DELETE FROM _migrations WHERE name = ?", (last,))
    conn.commit()
    conn.close()
    with pytest.raises(bk.StoreError):  # re-running it fails on the existing column/table...
        bk.list_jobs()
    backup = db.with_name(f"jobs.db.before-{last}")
    assert backup.exists()  # ...and the copy taken just before is whole
    copy = sqlite3.connect(backup)
    assert copy.execute("SELECT count(*) FROM jobs").fetchone()[0] == 1
    assert oct(backup.stat().st_mode & 0o777) == "0o600"
    copy.close()


def test_moved_home_rebuilds_from_the_folders_where_they_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BATCHKIT_HOME moved whole: the journal's paths follow the folder, results still read."""
    job = bk.submit(_requests("mv"), "fake:m", shard_size=SHARD_SIZE).wait()
    old = batchkit_home()
    _checkpoint(old / "jobs.db")
    new = tmp_path / "moved-home"
    os.rename(old, new)
    monkeypatch.setenv("BATCHKIT_HOME", str(new))
    (new / "jobs.db").write_bytes(b"")
    assert CliRunner().invoke(cli, ["doctor", "--rebuild"]).exit_code == 0
    shard = bk.get_job(job.id).shards[0]
    assert Path(shard.requests_path).parent == new / "jobs" / job.id
    assert bk.get_job(job.id).results().counts() == {"succeeded": N}


def test_a_real_time_job_is_rebuilt_with_its_answers() -> None:
    """Real-time answers exist only in the job folder: the rebuild must point back at them."""
    job = bk.submit(_requests("rt"), "fake:m", mode="realtime").wait()
    first = [(r.custom_id, r.text) for r in job.results()]
    db = batchkit_home() / "jobs.db"
    _checkpoint(db)
    db.write_bytes(b"")
    assert CliRunner().invoke(cli, ["doctor", "--rebuild"]).exit_code == 0
    assert [(r.custom_id, r.text) for r in bk.get_job(job.id).results()] == first
