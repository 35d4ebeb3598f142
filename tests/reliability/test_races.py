"""Two handles on one job, and shards that were never sent: the races a review found.

Each test failed before its fix: a held or retry shard adopting another job's Anthropic batch
(looked up by request count though it was never sent), a cancel racing a held shard's upload
(leaving a paid batch running), a second handle starting a retry round while the last one ran,
and two readers of one job cutting each other's downloads.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

import batchkit as bk
from batchkit._clock import Backoff
from batchkit._config import batchkit_home
from batchkit._queue import queue_limit
from batchkit.providers.anthropic.codec import vendor_id
from batchkit.testing import emulate
from batchkit.testing._fake import FakeAdapter

FAST = Backoff(initial=0.001, maximum=0.001)
ANTHROPIC = "anthropic:claude-haiku-4-5"
SLOW = ["validating", "running", "running", "running", "finalizing", "completed"]


def chats(prefix: str, n: int) -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"{prefix}{i:03d}", max_tokens=20, messages=[
        {"role": "user", "content": f"Please classify support ticket number {i:03d}."}])
        for i in range(n)]


def test_a_held_shard_is_sent_not_matched_to_another_jobs_batch() -> None:
    with emulate(providers=["anthropic"]) as handle:
        mine = chats("a", 4)
        queue = queue_limit(ANTHROPIC, {"enqueued_tokens": 10**12})
        per_shard = max(sum(queue.count(r) for r in mine[i:i + 2]) for i in (0, 2))
        job = bk.submit(mine, ANTHROPIC, shard_size=2, options={"enqueued_tokens": per_shard})
        assert sorted(job.held()) == [1]
        other = bk.submit(chats("b", 2), ANTHROPIC)  # another job, batches of the same size
        job.wait(backoff=FAST, raise_on_failure=False)
        other.wait(backoff=FAST)
        assert job.shards[1].remote_id not in {s.remote_id for s in other.shards}
        assert handle.apps["anthropic"].creates == 3
        assert job.results().counts() == {"succeeded": 4}


def test_a_retry_shard_is_sent_not_matched_to_another_jobs_batch() -> None:
    with emulate(providers=["anthropic"]) as handle:
        handle.apps["anthropic"].fault(vendor_id("a001"), "errored",
                                       error_type="overloaded_error")
        job = bk.submit(chats("a", 3), ANTHROPIC, retry=1)
        other = bk.submit(chats("b", 1), ANTHROPIC)  # one request, like the retry shard
        job.wait(backoff=FAST, raise_on_failure=False)
        retry_shards = [s for s in job.shards if s.attempt == 2]
        assert len(retry_shards) == 1
        assert retry_shards[0].remote_id != other.shards[0].remote_id


def test_cancel_during_a_held_shards_upload_cancels_its_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = bk.submit(chats("q", 12), "fake:m", shard_size=4,
                    options={"enqueued_tokens": 60, "states": SLOW})
    held_index = min(job.held())
    original = FakeAdapter.submit
    canceller: list[threading.Thread] = []

    def upload_while_the_user_cancels(self: FakeAdapter, shard: Any) -> str:
        if shard.index == held_index and not canceller:  # `batchkit cancel` from elsewhere
            canceller.append(threading.Thread(target=lambda: bk.get_job(job.id).cancel()))
            canceller[0].start()
            time.sleep(0.5)
        return original(self, shard)

    monkeypatch.setattr(FakeAdapter, "submit", upload_while_the_user_cancels)
    job.wait(backoff=FAST, raise_on_failure=False)
    canceller[0].join(timeout=30)
    key = job.shards[held_index].key
    made = [orjson.loads(p.read_bytes())
            for p in (batchkit_home() / "fake-vendor" / "batches").glob("*.json")]
    made = [b for b in made if b["key"] == key]
    assert made and all(b["cancelled"] for b in made)


def test_a_second_handle_starts_no_round_while_the_last_one_runs() -> None:
    with emulate(providers=["openai"]) as handle:
        app = handle.apps["openai"]
        app.fault("q001", "http_error")  # a 500 for q001 in every batch: retryable
        first = bk.submit(chats("q", 4), "openai:gpt-4o-mini", retry=2)
        while not first.refresh().is_terminal:
            pass
        second = bk.get_job(first.id)  # another process; it also saw round 1 end
        assert first._start_retry_round()  # round 2 sent, not finished
        assert second._start_retry_round()  # the job goes on, but nothing new is planned
        shards = second.shards
        assert max(s.attempt for s in shards) == 2 and app.creates == 2
        assert all(s.result_paths is None for s in shards if not s.state.is_terminal)


def test_two_readers_of_one_job_both_get_every_result(monkeypatch: pytest.MonkeyPatch) -> None:
    job = bk.submit(chats("q", 6), "fake:m").wait(backoff=FAST)
    original = FakeAdapter.fetch_results

    def slow_download(self: FakeAdapter, remote_id: str, status: Any, dest: Path) -> list[Path]:
        paths = original(self, remote_id, status, dest)
        time.sleep(0.3)  # a big file takes a while
        return paths

    monkeypatch.setattr(FakeAdapter, "fetch_results", slow_download)
    outcomes: list[object] = []

    def read() -> None:
        try:
            outcomes.append(bk.get_job(job.id).results().counts())
        except Exception as exc:  # the failure is the finding
            outcomes.append(exc)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
        time.sleep(0.1)
    for reader in readers:
        reader.join()
    assert outcomes == [{"succeeded": 6}] * 2


def test_lazy_results_take_any_slice() -> None:
    job = bk.submit(chats("q", 5), "fake:m").wait(backoff=FAST)
    eager, lazy = job.results(), job.results(lazy=True)
    for window in (slice(None, None, -1), slice(4, 0, -2), slice(1, 4)):
        assert [r.custom_id for r in lazy[window]] == [r.custom_id for r in eager[window]]
