"""One list call answers for many shards: ``Adapter.poll_many`` and its use in ``Job.refresh``.

The call counts come from the emulator's own record of the HTTP requests the real vendor SDK
sent (``endpoint_faults.calls``), not from batchkit's bookkeeping.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import batchkit as bk
from batchkit._clock import Backoff
from batchkit._registry import make_adapter
from batchkit.providers.base import RemoteStatus, scan_listing
from batchkit.testing import emulate

FAST = Backoff(initial=0.001, maximum=0.001)


def chats(n: int, prefix: str = "c") -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"{prefix}{i}", max_tokens=20,
                           messages=[{"role": "user", "content": f"question {i}"}])
            for i in range(n)]


class Calls:
    """Counts list and single-batch GETs on one emulator app since the last ``reset``."""

    def __init__(self, app: Any, collection: str) -> None:
        self.app, self.collection = app, collection
        self.reset()

    def reset(self) -> None:
        self.app.endpoint_faults.calls.clear()

    @property
    def lists(self) -> int:
        return int(self.app.endpoint_faults.calls[("GET", self.collection)])

    @property
    def retrieves(self) -> int:
        prefix = self.collection + "/"
        return sum(n for (method, path), n in self.app.endpoint_faults.calls.items()
                   if method == "GET" and path.startswith(prefix)
                   and path.count("/") == self.collection.count("/") + 1)


@pytest.fixture
def handle() -> Iterator[Any]:
    with emulate(providers=["openai", "anthropic"]) as h:
        yield h


VENDORS = {
    "openai": ("openai:gpt-4o-mini", "/v1/batches"),
    "anthropic": ("anthropic:claude-haiku-4-5", "/v1/messages/batches"),
}


def _counting_refreshes(job: bk.Job, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record how many shards were out at each refresh of ``job``."""
    seen: list[int] = []
    original = job.refresh

    def refresh() -> bk.JobState:
        seen.append(sum(s.remote_id is not None and not s.state.is_terminal for s in job.shards))
        return original()

    monkeypatch.setattr(job, "refresh", refresh)
    return seen


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_eight_shards_cost_one_list_call_per_refresh(
    handle: Any, vendor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider, collection = VENDORS[vendor]
    calls = Calls(handle.apps[vendor], collection)
    job = bk.submit(chats(40), provider, shard_size=5)
    assert len(job.shards) == 8
    calls.reset()
    refreshes = _counting_refreshes(job, monkeypatch)
    job.wait(backoff=FAST)
    assert refreshes[0] == 8
    assert calls.lists == sum(1 for out in refreshes if out > 1)
    assert calls.retrieves == sum(out for out in refreshes if out == 1)  # a lone shard: a poll
    assert calls.lists + calls.retrieves < 8 * len(refreshes) / 4
    results = job.results()
    assert results.counts() == {"succeeded": 40}
    assert [r.custom_id for r in results] == [f"c{i}" for i in range(40)]


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_without_a_listing_every_shard_is_polled(
    handle: Any, vendor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The contrast: the same job with the default (empty) poll_many costs a call per shard."""
    provider, collection = VENDORS[vendor]
    calls = Calls(handle.apps[vendor], collection)
    job = bk.submit(chats(40), provider, shard_size=5)
    monkeypatch.setattr(job._adapter, "poll_many", lambda *_a, **_k: {})
    calls.reset()
    refreshes = _counting_refreshes(job, monkeypatch)
    job.wait(backoff=FAST)
    assert calls.lists == 0
    assert refreshes[0] == 8 and calls.retrieves == sum(refreshes)
    assert job.results().counts() == {"succeeded": 40}


def test_listing_pages_until_every_shard_is_found(handle: Any) -> None:
    """Batches made after the job push its shards to the second page: paging goes on."""
    job = bk.submit(chats(10), "openai:gpt-4o-mini", shard_size=5)
    other = bk.submit(chats(110, "x"), "openai:gpt-4o-mini", shard_size=1)
    assert len(other.shards) == 110
    calls = Calls(handle.apps["openai"], "/v1/batches")
    job.refresh()
    assert (calls.lists, calls.retrieves) == (2, 0)
    assert all(s.vendor_status is not None for s in job.shards)


def test_a_shard_the_listing_does_not_reach_is_polled(handle: Any) -> None:
    """Listing stops after as many pages as there are shards; the shards it did not reach are
    polled one by one, and their status is recorded all the same."""
    job = bk.submit(chats(10), "openai:gpt-4o-mini", shard_size=5)
    bk.submit(chats(210, "x"), "openai:gpt-4o-mini", shard_size=1)
    calls = Calls(handle.apps["openai"], "/v1/batches")
    job.refresh()
    assert (calls.lists, calls.retrieves) == (2, 2)
    assert all(s.vendor_status is not None for s in job.shards)


def test_a_refused_listing_falls_back_to_polls_and_is_not_asked_again(handle: Any) -> None:
    app = handle.apps["openai"]
    job = bk.submit(chats(20), "openai:gpt-4o-mini", shard_size=5)
    app.endpoint_faults.add(403, method="GET", path_prefix="/v1/batches",
                            path_suffix="/v1/batches", times=1)
    calls = Calls(app, "/v1/batches")
    job.wait(backoff=FAST)
    assert app.endpoint_faults.hits == 1
    assert calls.lists == 1  # refused once, never asked again by this handle
    assert calls.retrieves >= 4 * 3
    assert job.results().counts() == {"succeeded": 20}


def test_a_passing_listing_failure_is_retried_then_used(handle: Any) -> None:
    app = handle.apps["openai"]
    job = bk.submit(chats(20), "openai:gpt-4o-mini", shard_size=5)
    app.endpoint_faults.add(500, method="GET", path_prefix="/v1/batches",
                            path_suffix="/v1/batches", times=1)
    calls = Calls(app, "/v1/batches")
    job.refresh()
    assert app.endpoint_faults.hits == 1
    assert calls.retrieves == 0 and calls.lists == 2  # the SDK's own retry got through
    assert all(s.vendor_status is not None for s in job.shards)


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_poll_many_sees_what_poll_sees(vendor: str) -> None:
    """On a still clock (nothing moves between the two reads) the listing and a retrieve of
    each batch agree exactly, and ids the vendor does not have are simply not in the answer."""
    provider, _ = VENDORS[vendor]
    with emulate(providers=[vendor], auto=False) as h:
        job = bk.submit(chats(15), provider, shard_size=5)
        h.clock.advance(30)
        adapter = make_adapter(provider)
        ids = [s.remote_id for s in job.shards if s.remote_id is not None]
        listed = adapter.poll_many(ids, job_id=job.id, since=job._record.created_at)
        assert sorted(listed) == sorted(ids)
        for remote_id, status in listed.items():
            assert adapter.poll(remote_id) == status
        assert adapter.poll_many(["nope-1", "nope-2"], job_id=job.id,
                                 since=job._record.created_at) == {}
        adapter.close()


# -- the page-reading rule, on its own ---------------------------------------------------------


def _status(name: str) -> RemoteStatus:
    return RemoteStatus(bk.JobState.RUNNING, name)


class Pages:
    """A lazy listing of pages of (id, created) pairs that counts the pages fetched."""

    def __init__(self, pages: list[list[tuple[str, int]]]) -> None:
        self.pages, self.fetched = pages, 0

    def __iter__(self) -> Iterator[list[tuple[str, int]]]:
        for page in self.pages:
            self.fetched += 1
            yield page


def _scan(pages: Pages, wanted: set[str], oldest: int | None = None) -> dict[str, RemoteStatus]:
    return scan_listing(
        pages, wanted, batch_id=lambda item: item[0], status=lambda item: _status(item[0]),
        too_old=None if oldest is None else (lambda item: item[1] < oldest))


def test_scan_stops_once_every_id_is_found() -> None:
    pages = Pages([[("a", 9), ("b", 8)], [("c", 7)], [("d", 6)]])
    assert sorted(_scan(pages, {"a", "c", "z1"}, oldest=0)) == ["a", "c"]
    assert pages.fetched == 3  # "z1" is never found: read on, up to the cap of 3 pages
    pages = Pages([[("a", 9), ("b", 8)], [("c", 7)], [("d", 6)]])
    assert sorted(_scan(pages, {"a", "b"})) == ["a", "b"]
    assert pages.fetched == 1


def test_scan_stops_at_a_batch_older_than_the_job() -> None:
    pages = Pages([[("a", 9), ("b", 4)], [("c", 3)], [("d", 2)]])
    assert sorted(_scan(pages, {"a", "c", "d"}, oldest=5)) == ["a"]
    assert pages.fetched == 1


def test_scan_reads_no_more_pages_than_there_are_ids() -> None:
    pages = Pages([[("x", 9)], [("y", 8)], [("a", 7)], [("b", 6)]])
    assert _scan(pages, {"a", "b"}) == {}
    assert pages.fetched == 2


def test_the_default_poll_many_lists_nothing() -> None:
    adapter = make_adapter("fake:m")
    assert adapter.poll_many(["fb_1", "fb_2"], job_id="j", since=0.0) == {}


# -- every vendor with a list call ---------------------------------------------------------


def _listing_targets() -> list[Any]:
    from tests.conformance.targets import TARGETS

    return [t for t in TARGETS if t.name != "fake"]


@pytest.mark.parametrize("target", _listing_targets(), ids=lambda t: t.name)
def test_every_vendor_answers_for_all_shards_with_one_call(target: Any) -> None:
    """Three shards out: the listing knows all three exactly as a poll of each does, one
    refresh sends a single request to the vendor, and the job still finishes."""
    with target.environment() as handle:
        app = handle.apps[target.name]
        job = bk.submit(chats(6), target.chat, shard_size=2)
        ids = [s.remote_id for s in job.shards if s.remote_id is not None]
        assert len(ids) == 3
        handle.clock.auto = False  # hold still: listing and polls then see the same thing
        adapter = make_adapter(target.chat)
        listed = adapter.poll_many(ids, job_id=job.id, since=job._record.created_at)
        assert sorted(listed) == sorted(ids)
        for remote_id in ids:
            polled = adapter.poll(remote_id)
            assert (polled.state, polled.vendor_status) == (
                listed[remote_id].state, listed[remote_id].vendor_status)
        adapter.close()
        before = sum(app.endpoint_faults.calls.values())
        job.refresh()
        assert sum(app.endpoint_faults.calls.values()) - before == 1
        handle.clock.auto = True
        job.wait(backoff=FAST)
        assert job.results().counts() == {"succeeded": 6}
