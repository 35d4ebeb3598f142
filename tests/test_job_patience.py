"""A vendor call that fails transiently is retried for a time budget, not a fixed count of tries:
an outage that lasts longer than a handful of quick retries is ridden out, and one that outlasts
the budget reaches the caller, having waited no longer than the budget."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import batchkit as bk
from batchkit._job import _TRANSIENT_PATIENCE
from batchkit.providers.base import RemoteStatus
from tests.conftest import FakeClock


def _job(clock: FakeClock) -> bk.Job:
    requests = [bk.ChatRequest(custom_id="a", messages=[{"role": "user", "content": "hi"}])]
    return bk.submit(requests, "fake:m", clock=clock)


def _failing_polls(job: bk.Job, clock: FakeClock, until: float) -> list[float]:
    """Make the job's polls fail with a 503 until the clock reads ``until``; the times of the
    tries are returned (appended as they happen)."""
    adapter = job._adapter
    poll: Callable[[str], RemoteStatus] = adapter.poll
    tries: list[float] = []

    def flaky(remote_id: str) -> RemoteStatus:
        tries.append(clock.now)
        if clock.now < until:
            raise bk.ProviderError("HTTP 503: service unavailable", status_code=503)
        return poll(remote_id)

    adapter.poll = flaky  # type: ignore[method-assign]
    return tries


def test_an_outage_longer_than_a_few_retries_is_ridden_out(clock: FakeClock) -> None:
    job = _job(clock)
    budget = _TRANSIENT_PATIENCE * job._adapter.poll_interval()
    tries = _failing_polls(job, clock, until=clock.now + budget / 2)
    job.refresh()
    assert len(tries) > 5  # more than the flat five tries there used to be
    assert tries[-1] >= tries[0] + budget / 2  # the last one came after the outage


def test_an_outage_longer_than_the_budget_reaches_the_caller(clock: FakeClock) -> None:
    job = _job(clock)
    budget = _TRANSIENT_PATIENCE * job._adapter.poll_interval()
    start = clock.now
    tries = _failing_polls(job, clock, until=float("inf"))
    with pytest.raises(bk.ProviderError, match="503"):
        job.refresh()
    assert clock.now - start <= budget  # it never slept past the budget
    assert clock.now - start >= budget / 3  # and it did not give up early
    assert len(tries) > 5


def test_a_permanent_error_is_not_retried(clock: FakeClock) -> None:
    job = _job(clock)
    adapter = job._adapter
    calls: list[str] = []

    def refused(remote_id: str) -> RemoteStatus:
        calls.append(remote_id)
        raise bk.ProviderError("HTTP 404: no such batch", status_code=404)

    adapter.poll = refused  # type: ignore[method-assign]
    slept = len(clock.sleeps)
    with pytest.raises(bk.ProviderError, match="404"):
        job.refresh()
    assert len(calls) == 1 and len(clock.sleeps) == slept
