"""The real-time engine on the fake provider: same results as batch, real-time prices, rate
limits kept, passing failures retried, refusals before anything is recorded."""

from __future__ import annotations

import time

import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit._ratelimit import RateLimiter, parse_reset
from batchkit.testing._fake import fake_realtime_calls, fake_submissions


class Person(BaseModel):
    name: str
    age: int


def _chat(n: int, prefix: str = "r") -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"{prefix}{i}", max_tokens=20,
                           messages=[bk.Message(role="user", content=f"hello {i}")])
            for i in range(n)]


def _by_id(results: bk.ResultSet) -> dict[str, bk.Result]:
    return {r.custom_id: r for r in results}


def _view(results: bk.ResultSet) -> list[tuple[object, ...]]:
    return [(r.custom_id, r.status, r.text, r.parsed, r.usage, r.error and r.error.code)
            for r in results]


def test_realtime_results_equal_batch_results() -> None:
    requests = [*_chat(30), bk.ChatRequest(custom_id="p", response_model=Person,
                                           messages=[bk.Message(role="user", content="x")])]
    requests += [bk.EmbedRequest(custom_id=f"e{i}", text=f"doc {i}") for i in range(10)]
    batch = bk.run(requests, "fake:m")
    realtime = bk.run(requests, "fake:m", mode="realtime")
    assert _view(realtime) == _view(batch)
    assert _by_id(realtime)["p"].parsed is not None
    assert (_by_id(realtime)["e3"].embedding == _by_id(batch)["e3"].embedding).all()
    # the real-time job bought every row once and made no vendor batch
    assert fake_realtime_calls() == {r.custom_id: 1 for r in requests}
    assert len(fake_submissions()) == 2  # the batch run's chat and embed shards


def test_realtime_job_is_recorded_and_reads_back_like_batch() -> None:
    job = bk.submit(_chat(12), "fake:m", mode="realtime")
    assert job.state == bk.JobState.PENDING  # rows go during wait(), nothing sent yet
    assert fake_realtime_calls() == {}
    job.wait()
    assert job.state == bk.JobState.COMPLETED
    again = bk.get_job(job.id)  # another handle (another process) reads the same results
    assert [r.text for r in again.results()] == [f"echo: hello {i}" for i in range(12)]


def test_adapter_without_realtime_is_refused_before_recording(monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    from batchkit.testing._fake import FakeAdapter

    monkeypatch.delattr(FakeAdapter, "send_now")
    with pytest.raises(bk.ConfigError, match="no real-time path"):
        bk.submit(_chat(3), "fake:m", mode="realtime")
    assert bk.list_jobs() == []
    with pytest.raises(bk.ConfigError, match="mode must be one of"):
        bk.submit(_chat(3), "fake:m", mode="fast")


def test_auto_mode_picks_realtime_for_small_jobs_and_deadlines() -> None:
    small = bk.submit(_chat(5), "fake:m", mode="auto")
    assert isinstance(small, bk._realtime.RealtimeJob)
    big = bk.submit(_chat(30, "b"), "fake:m", mode="auto", options={"realtime_below": 10})
    assert not isinstance(big, bk._realtime.RealtimeJob)
    urgent = bk.submit(_chat(30, "u"), "fake:m", mode="auto", deadline_s=60,
                       options={"realtime_below": 10})
    assert isinstance(urgent, bk._realtime.RealtimeJob)


def test_rate_limit_is_kept_with_few_429s() -> None:
    """The fake account allows 1,200 requests a minute (20 a second); the engine learns the
    limit from the first answer's headers and stays under it."""
    requests = _chat(60)
    start = time.monotonic()
    job = bk.submit(requests, "fake:rl", mode="realtime", options={"vendor_rpm": 1200})
    job.wait()
    elapsed = time.monotonic() - start
    assert job.results().counts() == {"succeeded": 60}
    assert elapsed >= 2.0  # 60 requests at 20/s cannot finish sooner (bucket starts full)
    assert job.rate_stats.rate_limited <= 3


def test_passing_failures_are_sent_again_within_the_retry_budget() -> None:
    options = {"errors": {"r1": "server_error", "r2": "bad_request"}, "heal": True}
    results = _by_id(bk.run(_chat(4), "fake:m", mode="realtime", options=options))
    assert results["r1"].status == "succeeded"  # failed once, healed on the next send
    assert results["r2"].status == "errored" and results["r2"].error.code == "bad_request"
    calls = fake_realtime_calls()
    assert calls["r1"] == 2 and calls["r2"] == 1 and calls["r0"] == 1


def test_row_that_keeps_failing_goes_to_the_retry_rounds() -> None:
    options = {"errors": {"r0": "server_error"}}
    results = _by_id(bk.run(_chat(2), "fake:m", mode="realtime", options=options, retry=1))
    assert results["r0"].status == "errored"
    assert results["r0"].attempts == 2  # a retry round sent it again, as for batch
    assert results["r1"].status == "succeeded"


def test_limiter_learns_limits_from_headers() -> None:
    limiter = RateLimiter()
    limiter.active = 1
    limiter.release(None, {"x-ratelimit-limit-requests": "600",
                           "x-ratelimit-limit-tokens": "200000",
                           "x-ratelimit-remaining-requests": "3",
                           "x-ratelimit-reset-requests": "6s"})
    assert limiter.requests.per_minute == 600 and limiter.tokens.per_minute == 200000
    assert limiter.requests.level <= 3
    window = limiter.window
    limiter.active = 1
    limiter.release(None, retry_after=0.5, rate_limited=True)
    assert limiter.window == max(1.0, window / 2) and limiter.stats.rate_limited == 1
    limiter.active = 1
    limiter.release(None, {"anthropic-ratelimit-requests-limit": "50",
                     "anthropic-ratelimit-requests-remaining": "0",
                     "anthropic-ratelimit-requests-reset": "2s"})
    assert limiter.requests.per_minute == 50
    assert limiter.requests.level <= 0  # remaining 0: nothing goes until it refills
    assert parse_reset("6m0s") == 360 and parse_reset("20ms") == 0.02
    assert parse_reset("1.5") == 1.5 and parse_reset("soon") is None


def test_bad_rate_option_is_one_line_error() -> None:
    with pytest.raises(bk.ConfigError, match="option rpm must be a number"):
        bk.run(_chat(2), "fake:m", mode="realtime", options={"rpm": "fast"})
    assert bk.list_jobs() == []


def test_result_cache_applies_to_realtime_runs() -> None:
    requests = _chat(8)
    first = bk.run(requests, "fake:m", mode="realtime", cache=True)
    calls = dict(fake_realtime_calls())
    again = bk.run(requests, "fake:m", mode="realtime", cache=True)
    assert fake_realtime_calls() == calls  # nothing bought the second time
    assert [r.text for r in again] == [r.text for r in first]
    assert all(r.from_cache for r in again)
