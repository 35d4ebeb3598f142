"""Item retries: ``retry=N`` sends retryable failures again, merges, and counts attempts."""

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
from batchkit._clock import Backoff
from batchkit._retry import retry_allowance
from batchkit.cli import cli
from batchkit.testing import fake_submissions

FAST = Backoff(initial=0.001, maximum=0.001)


def chats(n: int, **kw: object) -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"r{i}", messages=[{"role": "user", "content": f"q {i}"}],
                           metadata={"row": i}, **kw)  # type: ignore[arg-type]
            for i in range(n)]


FLAKY = {
    "errors": {"r3": "server_error", "r7": "rate_limit_exceeded", "r8": "invalid_prompt"},
    "expired": ["r11"], "missing": ["r15"], "heal": True, "max_requests": 10,
}


def test_retryable_failures_are_sent_again_and_merged() -> None:
    job = bk.submit(chats(20), "fake:m", options=FLAKY, retry=2).wait(backoff=FAST)
    results = job.results()
    assert [r.custom_id for r in results] == [f"r{i}" for i in range(20)]
    assert [r.metadata["row"] for r in results] == list(range(20))
    # r8's error is not transient: it is not sent again and keeps its error.
    assert results.counts() == {"succeeded": 19, "errored": 1}
    assert results[8].error is not None and results[8].error.code == "invalid_prompt"
    assert {r.custom_id: r.attempts for r in results if r.attempts > 1} == {
        "r3": 2, "r7": 2, "r11": 2, "r15": 2}
    # Two first-round shards, one retry shard holding the four retried requests.
    assert [(s.attempt, s.request_count) for s in job.shards] == [(1, 10), (1, 10), (2, 4)]
    assert sum(fake_submissions().values()) == 3
    assert job.state == bk.JobState.COMPLETED


def test_no_retry_by_default() -> None:
    job = bk.submit(chats(20), "fake:m", options=FLAKY).wait(backoff=FAST)
    assert job.results().counts() == {"succeeded": 15, "errored": 4, "expired": 1}
    assert len(job.shards) == 2


def test_rounds_stop_at_the_limit_when_failures_persist() -> None:
    options = {**FLAKY, "heal": False}
    job = bk.submit(chats(20), "fake:m", options=options, retry=2).wait(backoff=FAST)
    results = job.results()
    assert [(s.attempt, s.request_count) for s in job.shards] == [
        (1, 10), (1, 10), (2, 4), (3, 4)]
    assert results.counts() == {"succeeded": 15, "errored": 4, "expired": 1}
    assert results[3].attempts == 3 and results[3].error is not None
    assert results[8].attempts == 1


def test_a_deduplicated_copy_follows_its_retried_original() -> None:
    copy = bk.ChatRequest(custom_id="copy-of-r2", temperature=0,
                          messages=[{"role": "user", "content": "q 2"}])
    reqs = [*chats(4, temperature=0), copy]
    options = {"errors": {"r2": "server_error"}, "heal": True}
    results = bk.submit(reqs, "fake:m", options=options, retry=1).wait(backoff=FAST).results()
    assert results.counts() == {"succeeded": 5}
    assert results[4].shared_from == "r2" and results[4].attempts == 2


def test_negative_retry_is_refused_before_anything_is_recorded() -> None:
    with pytest.raises(bk.ConfigError, match="retry must be 0 or more"):
        bk.submit(chats(2), "fake:m", retry=-1)
    assert bk.list_jobs() == []


def test_cancelled_jobs_are_not_retried() -> None:
    job = bk.submit(chats(5), "fake:m", options={**FLAKY, "states": ["running"] * 3}, retry=2)
    job.cancel()
    job.wait(backoff=FAST)
    assert len(job.shards) == 1
    assert job.results().counts() == {"cancelled": 5}


@pytest.mark.parametrize(
    ("estimate", "retried", "expected"),
    [
        (None, 0, None),  # no budget: no cap on retries
        ({"max_cost_usd": None, "batch_cost_max": 1.0, "requests_sent": 10}, 0, None),
        ({"max_cost_usd": 2.0, "batch_cost_max": 1.0, "requests_sent": 10}, 0, 10),
        ({"max_cost_usd": 2.0, "batch_cost_max": 1.0, "requests_sent": 10}, 4, 6),
        ({"max_cost_usd": 1.05, "batch_cost_max": 1.0, "requests_sent": 10}, 0, 0),
        ({"max_cost_usd": 1.0, "batch_cost_max": 1.0, "requests_sent": 10}, 3, 0),
    ],
)
def test_retry_allowance_keeps_the_budget(
    estimate: dict[str, float] | None, retried: int, expected: int | None
) -> None:
    assert retry_allowance(estimate, retried) == expected


RETRY_SCRIPT = textwrap.dedent(
    """
    import batchkit as bk
    from batchkit._clock import Backoff
    reqs = [bk.ChatRequest(custom_id=f"r{i}", messages=[{"role": "user", "content": str(i)}])
            for i in range(10)]
    job = bk.submit(reqs, "fake:m", retry=1,
                    options={"errors": {"r1": "server_error"}, "heal": True})
    job.wait(backoff=Backoff(initial=0.001, maximum=0.001))
    print("finished without being killed")
    """
)


@pytest.mark.parametrize("kill_at", ["before_submit:1", "after_submit:1"])
def test_a_retry_round_survives_sigkill(kill_at: str) -> None:
    env = {**os.environ, "BATCHKIT_FAKE_KILL_AT": kill_at}
    proc = subprocess.run([sys.executable, "-c", RETRY_SCRIPT], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    (record,) = bk.list_jobs()
    job = bk.resume(record.id).wait(backoff=FAST)
    assert fake_submissions() == {s.key: 1 for s in job.shards}
    assert [s.attempt for s in job.shards] == [1, 2]
    results = job.results()
    assert results.counts() == {"succeeded": 10}
    assert results[1].attempts == 2


def test_cli_retry_option(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(
        f'{{"custom_id": "r{i}", "messages": [{{"role": "user", "content": "q{i}"}}]}}\n'
        for i in range(6)))
    runner = CliRunner()
    args = ["submit", str(src), "-p", "fake:m", "-s", 'errors={"r2": "server_error"}',
            "-s", "heal=true", "--retry", "1", "--wait", "--json"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert '"succeeded": 6' in result.output
    bad = runner.invoke(cli, ["submit", str(src), "-p", "fake:m", "--retry", "-1"])
    assert bad.exit_code != 0 and "-1" in bad.output


def test_a_retry_round_below_the_vendors_minimum_batch_is_not_sent() -> None:
    options = {**FLAKY, "min_requests": 5}
    job = bk.submit(chats(20), "fake:m", options=options, retry=2).wait(backoff=FAST)
    assert [s.attempt for s in job.shards] == [1, 1]  # 4 retryable < 5: no round
    assert job.results().counts() == {"succeeded": 15, "errored": 4, "expired": 1}
