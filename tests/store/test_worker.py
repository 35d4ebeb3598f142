"""The worker, in process, on both backends: it sends, polls, collects, retries and settles
every open job, and leaves alone a job another holder has."""

from __future__ import annotations

import time

from click.testing import CliRunner

import batchkit as bk
from batchkit._clock import Backoff
from batchkit._worker import Worker
from batchkit.cli import cli
from batchkit.store import SQLStore
from batchkit.testing import fake_submissions


def chats(tag: str, n: int) -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"{tag}{i}",
                           messages=[{"role": "user", "content": f"{tag}{i}"}])
            for i in range(n)]


def test_worker_takes_submitted_jobs_to_the_end(store: SQLStore, store_target: str) -> None:
    plain = bk.submit(chats("a", 6), "fake:m", options={"max_requests": 2}, store=store_target)
    flaky = bk.submit(chats("b", 4), "fake:m", store=store_target, retry=1,
                      options={"errors": {"b1": "server_error"}, "heal": True})
    worker = Worker(store)
    passes = 0
    while store.unsettled_jobs():
        passes += 1
        assert passes < 30, "the worker stopped making progress"
        worker.run_once()
    assert fake_submissions() == {s.key: 1 for j in (plain, flaky) for s in j.shards}
    assert all(s.result_paths is not None for j in (plain, flaky) for s in j.shards)
    for job, tag, n in ((plain, "a", 6), (flaky, "b", 4)):
        results = bk.get_job(job.id, store=store_target).results()
        assert [r.custom_id for r in results] == [f"{tag}{i}" for i in range(n)]
        assert results.counts() == {"succeeded": n}
    assert max(s.attempt for s in flaky.shards) == 2  # the retry round was the worker's
    assert worker.run_once().settled == 0  # settled jobs are not visited again


def test_a_job_held_elsewhere_is_passed_over(store: SQLStore, store_target: str) -> None:
    job = bk.submit(chats("a", 2), "fake:m", store=store_target)
    assert store.take_lease(job.id, "otherhost:1:x", 60)
    done = Worker(store).run_once()
    assert (done.busy, done.advanced, done.open) == (1, 0, 1)
    assert store.get_shards(job.id)[0].vendor_status is None  # not polled by this worker


def test_a_dead_workers_job_passes_on_when_its_lease_expires(
    store: SQLStore, store_target: str
) -> None:
    job = bk.submit(chats("a", 2), "fake:m", store=store_target)
    assert store.take_lease(job.id, "gone-host:4242:x", 0.5)  # another machine, not renewing
    assert Worker(store).run_once().busy == 1
    time.sleep(0.6)
    done = Worker(store).run_once()
    assert (done.busy, done.advanced) == (0, 1)
    assert store.lease_holder(job.id) is None  # released after the step


def test_worker_once_from_the_command_line(store_target: str) -> None:
    job = bk.submit(chats("a", 2), "fake:m", store=store_target, options={"states": ["completed"]})
    run = CliRunner().invoke(cli, ["worker", "--once", "--store", store_target])
    assert run.exit_code == 0, run.output
    assert "1 settled" in run.output and "0 open" in run.output
    assert bk.get_job(job.id, store=store_target).state == bk.JobState.COMPLETED


def test_worker_loop_stops_when_asked(store: SQLStore) -> None:
    worker = Worker(store, backoff=Backoff(initial=0.01, maximum=0.01))
    worker.stop()
    worker.run()  # returns at once: the stop was asked before the first pass
