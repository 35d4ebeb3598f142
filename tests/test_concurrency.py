"""Shards are submitted and polled several at a time, within the bound, and never for a vendor
whose re-attach depends on creation order."""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

import pytest

import batchkit as bk
from batchkit._clock import Backoff
from batchkit._registry import _registered
from batchkit.providers.base import RemoteStatus, ShardInput
from batchkit.testing import fake_submissions
from batchkit.testing._fake import FakeAdapter

FAST = Backoff(initial=0.001, maximum=0.001)


class Overlap:
    """Counts how many calls are inside a method at once."""

    def __init__(self) -> None:
        self.now = self.peak = 0
        self.lock = threading.Lock()

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(0.05)  # long enough for parallel calls to overlap

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.now -= 1


class SlowFake(FakeAdapter):
    name = "slowfake"
    submits: ClassVar[Overlap]
    polls: ClassVar[Overlap]

    def submit(self, shard: ShardInput) -> str:
        with self.submits:
            return super().submit(shard)

    def poll(self, remote_id: str) -> RemoteStatus:
        with self.polls:
            return super().poll(remote_id)


class SerialFake(SlowFake):
    name = "serialfake"
    parallel_submit = False


@pytest.fixture(autouse=True)
def adapters() -> Any:
    for cls in (SlowFake, SerialFake):
        cls.submits, cls.polls = Overlap(), Overlap()
        bk.register_provider(cls.name, cls, clobber=True)
    yield
    for cls in (SlowFake, SerialFake):
        _registered.pop(cls.name, None)


def chats(n: int) -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"c{i}", messages=[{"role": "user", "content": str(i)}])
            for i in range(n)]


def test_shards_are_submitted_and_polled_concurrently_within_the_bound() -> None:
    job = bk.submit(chats(100), "slowfake:m", options={"max_requests": 10}, concurrency=3)
    results = job.wait(backoff=FAST).results()
    assert results.counts() == {"succeeded": 100}
    assert [r.custom_id for r in results] == [f"c{i}" for i in range(100)]
    assert fake_submissions() == {s.key: 1 for s in job.shards}
    assert SlowFake.submits.peak == 3  # ten shards, three at a time
    assert 1 < SlowFake.polls.peak <= 4  # get_job() handles default to 4


def test_concurrency_one_is_serial() -> None:
    bk.submit(chats(30), "slowfake:m", options={"max_requests": 10}, concurrency=1)
    assert SlowFake.submits.peak == 1


def test_a_vendor_without_keys_is_never_submitted_in_parallel() -> None:
    job = bk.submit(chats(50), "serialfake:m", options={"max_requests": 10}, concurrency=8)
    assert SerialFake.submits.peak == 1
    assert job.wait(backoff=FAST).results().counts() == {"succeeded": 50}


def test_one_failed_create_does_not_strand_the_others() -> None:
    class Flaky(SlowFake):
        name = "flakyfake"

        def submit(self, shard: ShardInput) -> str:
            if shard.index == 2:
                raise bk.ProviderError("HTTP 400: nope", status_code=400)
            return super().submit(shard)

    bk.register_provider("flakyfake", Flaky, clobber=True)
    try:
        with pytest.raises(bk.ProviderError, match="shard 2 was not submitted"):
            bk.submit(chats(50), "flakyfake:m", options={"max_requests": 10}, concurrency=4)
        (record,) = bk.list_jobs()
        recorded = [s.index for s in bk.get_job(record.id).shards if s.remote_id is not None]
        assert recorded == [0, 1, 3, 4]
    finally:
        _registered.pop("flakyfake", None)
