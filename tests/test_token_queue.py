"""The per-model enqueued-token limit: shards beyond it wait and go as earlier ones finish.

"In flight at once" is read from the vendor side: the fake vendor's activity log
(``fake_peak_active``) and the OpenAI emulator's ``peak_active``, never batchkit's own records.
"""

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
from batchkit._queue import admit, queue_limit
from batchkit.cli import cli
from batchkit.store import ShardRecord
from batchkit.testing import emulate, fake_submissions
from batchkit.testing._fake import fake_peak_active

FAST = Backoff(initial=0.001, maximum=0.001)
SLOW_STATES = ["validating", "running", "running", "running", "finalizing", "completed"]


def chats(n: int) -> list[bk.ChatRequest]:
    """Requests of equal length, so shards of equal size hold (nearly) equal token counts."""
    return [bk.ChatRequest(custom_id=f"q{i:03d}", max_tokens=20, messages=[
        {"role": "user", "content": f"Please classify support ticket number {i:03d}."}])
        for i in range(n)]


def tokens_of(provider: str, requests: list[bk.ChatRequest]) -> list[int]:
    """Each request's tokens, by the counter the estimate uses (as the planner counts)."""
    queue = queue_limit(provider, {"enqueued_tokens": 10**12})
    assert queue is not None
    return [queue.count(r) for r in requests]


def two_shards_of(tokens: list[int], size: int) -> int:
    """A limit with room for any two shards of ``size`` requests but never three."""
    shards = [sum(tokens[i:i + size]) for i in range(0, len(tokens), size)]
    limit = 2 * max(shards)
    assert 3 * min(shards) > limit
    return limit


def test_fake_never_more_than_two_shards_in_flight_and_every_result_returns() -> None:
    requests = chats(20)
    tokens = tokens_of("fake:m", requests)
    limit = two_shards_of(tokens, 4)
    job = bk.submit(requests, "fake:m", shard_size=4,
                    options={"enqueued_tokens": limit, "states": SLOW_STATES})
    shards = job.shards
    assert len(shards) == 5
    assert [s.input_tokens for s in shards] == [sum(tokens[i:i + 4]) for i in range(0, 20, 4)]
    assert [s.remote_id is not None for s in shards] == [True, True, False, False, False]
    held = job.held()
    assert sorted(held) == [2, 3, 4]
    assert "tokens in flight" in held[2] and f"enqueued_tokens {limit:,}" in held[2]
    assert "behind shard 2" in held[3]
    assert job.state == bk.JobState.PENDING
    results = job.wait(backoff=FAST).results()
    assert results.counts() == {"succeeded": 20}
    assert [r.custom_id for r in results] == [r.custom_id for r in requests]
    assert fake_peak_active() == 2
    assert fake_submissions() == {s.key: 1 for s in job.shards}
    assert job.held() == {}


def test_without_a_limit_every_shard_goes_at_once_and_nothing_is_counted() -> None:
    job = bk.submit(chats(20), "fake:m", shard_size=4, options={"states": SLOW_STATES})
    assert all(s.remote_id is not None and s.input_tokens is None for s in job.shards)
    job.wait(backoff=FAST)
    assert fake_peak_active() == 5


def test_the_planner_never_makes_a_shard_bigger_than_the_limit() -> None:
    """No shard_size: the limit itself cuts the shards, and they then go one at a time."""
    requests = chats(20)
    tokens = tokens_of("fake:m", requests)
    limit = sum(tokens[:5])
    job = bk.submit(requests, "fake:m", options={"enqueued_tokens": limit})
    assert [s.request_count for s in job.shards] == [5, 5, 5, 5]
    assert all(s.input_tokens is not None and s.input_tokens <= limit for s in job.shards)
    assert job.wait(backoff=FAST).results().counts() == {"succeeded": 20}
    assert fake_peak_active() == 1


def test_a_request_bigger_than_the_limit_is_refused_before_anything_is_sent() -> None:
    requests = chats(5)
    requests[3] = bk.ChatRequest(custom_id="huge", messages=[
        {"role": "user", "content": "word " * 400}])
    with pytest.raises(bk.InvalidRequestError) as info:
        bk.submit(requests, "fake:m", options={"enqueued_tokens": 100})
    message = str(info.value)
    assert "huge" in message and "more than the enqueued_tokens limit of 100" in message
    assert "fake:m" in message
    assert bk.list_jobs() == [] and fake_submissions() == {}


def test_a_journaled_shard_bigger_than_the_limit_is_a_clear_error() -> None:
    """Defence for journals made elsewhere: such a shard could never go, so waiting forever is
    replaced by an error naming the shard and both numbers."""
    shards = [ShardRecord(job_id="j", index=i, key=f"j-{i}", group="chat", request_count=1,
                          payload_path="p", requests_path="r", input_tokens=t)
              for i, t in enumerate([50, 700, 50])]
    with pytest.raises(bk.ConfigError, match="shard 1 holds 700 input tokens, more than the "
                                             "enqueued_tokens limit of 600"):
        admit(shards, 600)
    admitted, held = admit(shards, 790)
    assert [s.index for s in admitted] == [0, 1] and sorted(held) == [2]


@pytest.mark.parametrize("bad", [0, -5, "lots", 2.5, True])
def test_a_limit_that_is_not_a_positive_whole_number_is_refused(bad: object) -> None:
    with pytest.raises(bk.ConfigError, match="enqueued_tokens must be a whole number"):
        bk.submit(chats(3), "fake:m", options={"enqueued_tokens": bad})
    assert bk.list_jobs() == []


def test_the_limit_comes_from_batchkit_toml(tmp_path: Path) -> None:
    requests = chats(12)
    limit = two_shards_of(tokens_of("fake:m", requests), 4)
    (tmp_path / "batchkit.toml").write_text(f'[limits."fake:m"]\nenqueued_tokens = {limit}\n')
    job = bk.submit(requests, "fake:m", shard_size=4, options={"states": SLOW_STATES})
    assert job._record.options["enqueued_tokens"] == limit
    assert sorted(job.held()) == [2]
    assert job.wait(backoff=FAST).results().counts() == {"succeeded": 12}
    assert fake_peak_active() == 2
    other = bk.submit(chats(12), "fake:other", shard_size=4)  # another model: no limit
    assert other.held() == {} and "enqueued_tokens" not in other._record.options


def test_a_misspelt_limit_in_batchkit_toml_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "batchkit.toml").write_text('[limits."fake:m"]\nenqueued_token = 5\n')
    with pytest.raises(bk.ConfigError, match=r"unknown key.*enqueued_token"):
        bk.submit(chats(3), "fake:m")


def test_cli_option_and_status_show_held_shards() -> None:
    requests = chats(12)
    limit = two_shards_of(tokens_of("fake:m", requests), 4)
    path = Path("reqs.jsonl")
    path.write_text("".join(r.model_dump_json() + "\n" for r in requests))
    runner = CliRunner()
    submitted = runner.invoke(cli, ["submit", str(path), "-p", "fake:m", "--shard-size", "4",
                                    "-s", f"enqueued_tokens={limit}", "--json"])
    assert submitted.exit_code == 0, submitted.output
    (record,) = bk.list_jobs()
    shown = runner.invoke(cli, ["status", record.id])
    assert shown.exit_code == 0, shown.output
    assert "held:" in shown.output
    waited = runner.invoke(cli, ["wait", record.id, "--json"])
    assert waited.exit_code == 0, waited.output
    assert '"held": null' in waited.output and '"held": "held' not in waited.output
    assert bk.get_job(record.id).state == bk.JobState.COMPLETED


def test_retry_rounds_keep_to_the_limit() -> None:
    """Requests failed retryably go again within the limit, with their journaled counts."""
    requests = chats(12)
    tokens = tokens_of("fake:m", requests)
    limit = two_shards_of(tokens, 4)
    failing = {"q001": "server_error", "q005": "server_error", "q009": "rate_limit_exceeded"}
    job = bk.submit(requests, "fake:m", shard_size=4, retry=1,
                    options={"enqueued_tokens": limit, "errors": failing, "heal": True})
    results = job.wait(backoff=FAST).results()
    assert results.counts() == {"succeeded": 12}
    retried = [s for s in job.shards if s.attempt == 2]
    assert [s.request_count for s in retried] == [3]
    assert retried[0].input_tokens == sum(tokens[i] for i in (1, 5, 9))
    assert fake_peak_active() == 2


KILL_SCRIPT = textwrap.dedent(
    """
    import batchkit as bk
    from batchkit._clock import Backoff
    requests = [bk.ChatRequest(custom_id=f"q{i:03d}", max_tokens=20, messages=[
        {"role": "user", "content": f"Please classify support ticket number {i:03d}."}])
        for i in range(20)]
    job = bk.submit(requests, "fake:m", shard_size=4, options={"enqueued_tokens": LIMIT})
    job.wait(backoff=Backoff(initial=0.001, maximum=0.001))
    print("finished without being killed")
    """
)


def test_killed_while_sending_a_held_shard_resumes_within_the_limit() -> None:
    """Shard 3 is held at first and sent by wait(); the process dies right after the vendor
    created it. Resuming finds it by its key, pays nothing twice and keeps the limit."""
    limit = two_shards_of(tokens_of("fake:m", chats(20)), 4)
    env = {**os.environ, "BATCHKIT_FAKE_KILL_AT": "after_submit:3"}
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT.replace("LIMIT", str(limit))],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    (record,) = bk.list_jobs()
    shards = bk.get_job(record.id).shards
    assert shards[3].remote_id is None and fake_submissions()[shards[3].key] == 1
    assert shards[4].key not in fake_submissions()  # still held when the process died
    job = bk.resume(record.id)
    results = job.wait(backoff=FAST).results()
    assert results.counts() == {"succeeded": 20}
    assert fake_submissions() == {s.key: 1 for s in job.shards}
    assert fake_peak_active() <= 2


def test_openai_emulator_never_holds_more_than_two_of_the_jobs_batches() -> None:
    requests = chats(30)
    provider = "openai:gpt-4o-mini"
    tokens = tokens_of(provider, requests)
    limit = two_shards_of(tokens, 5)
    with emulate(providers=["openai"]) as handle:
        app = handle.apps["openai"]
        job = bk.submit(requests, provider, shard_size=5, options={"enqueued_tokens": limit})
        assert app.creates == 2 and sorted(job.held()) == [2, 3, 4, 5]
        results = job.wait(backoff=FAST).results()
        assert app.creates == 6
        assert app.peak_active == 2
    assert results.counts() == {"succeeded": 30}
    assert [r.custom_id for r in results] == [r.custom_id for r in requests]
    assert sum(s.input_tokens or 0 for s in job.shards) == sum(tokens)
