"""``batchkit worker``: a long-running process that moves every open job in the store along.

A team's nightly run submits jobs and walks away; any number of workers, on any number of
machines sharing one store (PostgreSQL) and the job folders, then do the rest: send journaled
shards, poll, download each finished shard's results, start retry rounds, and mark a job settled
when nothing is left to do. Each pass visits every unsettled job, oldest first, and works on a
job only while holding its lease (``_lease``): a job another worker holds is passed over, and a
dead worker's jobs are taken over once its lease is gone. A shard handed over half-sent is
looked up at the vendor by its key before it is sent again, so nothing is paid twice.

Passes repeat with backoff: at once after a pass that changed something, ever more slowly
while nothing moves. ``stop()`` (the CLI calls it on SIGTERM) ends the loop after the job at
hand, whose lease is released, never half way through a job's step.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from ._clock import Backoff, Clock, SystemClock
from ._exceptions import BatchkitError, StoreError
from ._job import Job
from ._lease import job_lease
from ._registry import make_adapter
from .store import ShardRecord, SQLStore

__all__ = ["PassReport", "Worker"]


@dataclass
class PassReport:
    """What one pass over the store did."""

    advanced: int = 0
    """Jobs in which something changed (a shard sent, a state moved, results downloaded)."""
    settled: int = 0
    """Jobs found finished for good, which later passes skip."""
    waiting: int = 0
    """Jobs whose batches are still running, unchanged by this pass."""
    busy: int = 0
    """Jobs passed over because another worker holds them."""
    failed: int = 0
    """Jobs whose step raised (reported, retried next pass)."""
    open: int = 0
    """Jobs still unsettled after the pass."""


def _snapshot(shards: list[ShardRecord]) -> list[tuple[object, ...]]:
    return [(s.index, s.state, s.remote_id, s.result_paths is not None) for s in shards]


class Worker:
    """Advances the jobs of one store: ``run`` loops until :meth:`stop`; ``run_once`` passes
    once."""

    def __init__(
        self,
        store: SQLStore,
        *,
        backoff: Backoff | None = None,
        clock: Clock | None = None,
        report: Callable[[str], None] = lambda line: None,
    ) -> None:
        self._store = store
        self._backoff = backoff or Backoff(initial=2.0, maximum=60.0)
        self._clock = clock or SystemClock()
        self._report = report
        self._stopping = threading.Event()

    def stop(self) -> None:
        """End the loop after the job step at hand (safe from a signal handler)."""
        self._stopping.set()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                done = self.run_once()
            except StoreError as exc:  # the store is unreachable: wait, then try again
                self._report(str(exc))
            else:
                if done.advanced or done.settled:
                    self._backoff.reset()
            self._stopping.wait(self._backoff.next_delay())

    def run_once(self) -> PassReport:
        """Visit every unsettled job once."""
        done = PassReport()
        for job_id in self._store.unsettled_jobs():
            if self._stopping.is_set():
                break
            try:
                outcome = self._advance(job_id)
            except BatchkitError as exc:
                self._report(f"job {job_id}: {exc}")
                outcome = "failed"
            setattr(done, outcome, getattr(done, outcome) + 1)
        done.open = len(self._store.unsettled_jobs())
        return done

    def _advance(self, job_id: str) -> str:
        """One step of one job under its lease: send, poll, collect, retry or settle."""
        with job_lease(self._store, job_id, wait=False) as held:
            if not held:
                return "busy"
            record = self._store.get_job(job_id)
            if record.settled_at is not None:  # settled by another since this pass began
                return "waiting"
            job = Job(record, self._store, make_adapter(record.provider, record.options),
                      clock=self._clock)
            before = _snapshot(job.shards)
            if any(s.remote_id is None and not s.state.is_terminal for s in job.shards):
                job._submit_pending()
            if job.refresh().is_terminal:
                for shard in job.shards:  # collect: each finished shard's files, once
                    job._fetch(shard)
                if not job._start_retry_round():
                    self._store.settle(job_id)
                    self._report(f"job {job_id}: {job.state.value}, settled")
                    return "settled"
            return "advanced" if _snapshot(job.shards) != before else "waiting"
