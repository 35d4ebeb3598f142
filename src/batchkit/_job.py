"""The job handle and the orchestration loop: plan, journal, submit, poll, collect.

The order of effects is the whole point of this module:

1. every request is validated and written into shard files (nothing sent yet);
2. the job and all its shards, each with an idempotency key, are journaled in the store;
3. only then is each shard submitted, and its vendor id recorded;
4. a shard that is journaled but has no vendor id (the process died around step 3) is first
   looked up at the vendor by its key, and submitted only if the vendor has no batch for it.

So a crash at any point can be resumed (``bk.resume`` / ``batchkit wait``) and no shard is ever
paid for twice. Steps 1 and 2 are ``_submit``'s; the Job handle here does the rest. No vendor is
named here: everything vendor-specific goes through the adapter.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from ._aio import AsyncJobMixin
from ._clock import Backoff, Clock, SystemClock
from ._collect import ResultCollector, download_shard, rejection_lines
from ._exceptions import (
    BatchFailedError,
    BatchkitError,
    ProviderError,
)
from ._inputs import restore_inputs
from ._lease import job_lease
from ._normalize import ModelResolver, with_costs
from ._progress import job_progress
from ._queue import admit, token_limit
from ._results import Result, ResultSet, gc_paused
from ._retry import journal_retry_round
from ._state import JobState
from .cost import usage_pricer
from .providers.base import Adapter, RemoteStatus, ShardInput
from .store import JobRecord, ShardRecord, SQLStore

__all__ = ["Job"]

T = TypeVar("T")
DEFAULT_CONCURRENCY = 4
"""Vendor calls (uploads and creates, polls) a job makes at once: enough to keep a thousand-shard
job moving, few enough to stay inside the vendors' request rate limits."""
_TRANSIENT_TRIES = 5
"""Tries of one create that keeps failing transiently, before the shard is left for a resume."""
_TRANSIENT_PATIENCE = 36
"""Poll intervals (of 10 ms at least) an idempotent call may fail transiently: 3 min at 5 s."""

def _shard_input(
    job: JobRecord, shard: ShardRecord, taken: frozenset[str] = frozenset()
) -> ShardInput:
    return ShardInput(
        job_id=job.id, index=shard.index, key=shard.key, group=shard.group,
        payload_path=Path(shard.payload_path), request_count=shard.request_count,
        journaled_at=job.created_at, taken=taken,
    )


class Job(AsyncJobMixin):
    """A handle on a job in the store. Cheap to create; every method reads the store afresh."""

    _billed_as_batch = True
    """Results are priced at batch rates (a real-time job's at real-time rates)."""

    def __init__(
        self,
        record: JobRecord,
        store: SQLStore,
        adapter: Adapter,
        response_models: dict[str, type[BaseModel]] | None = None,
        clock: Clock | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self._record = record
        self._concurrency = concurrency
        self._store = store
        self._adapter = adapter
        self._models = ModelResolver(response_models)
        self._clock = clock or SystemClock()
        self._listing_refused = False
        """The vendor refused the list call (e.g. no permission): poll shard by shard."""
        self.unmatched: list[Any] = []
        """Vendor lines that matched no request, from the last read of the results."""

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.provider} {self.state.value} requests={self.request_count}>"

    @property
    def id(self) -> str:
        return self._record.id

    @property
    def provider(self) -> str:
        return self._record.provider

    @property
    def request_count(self) -> int:
        return self._record.request_count

    @property
    def actual_cost_usd(self) -> float | None:
        """What the job cost, recorded when its results were collected."""
        return self._store.get_job(self.id).actual_cost_usd

    @property
    def estimate(self) -> dict[str, Any] | None:
        """The cost estimate recorded at submission (when a budget was given)."""
        return self._record.estimate

    @property
    def folder(self) -> Path:
        return Path(self._record.folder)

    @property
    def state(self) -> JobState:
        self._record = self._store.get_job(self.id)
        return self._record.state

    @property
    def shards(self) -> list[ShardRecord]:
        return self._store.get_shards(self.id)

    # -- submitting ---------------------------------------------------------------------------

    def _submit_pending(self) -> None:
        """Submit every journaled shard that has no vendor id yet, under the job lock.

        A shard whose create was started before (``send_started``: a crash or a failed create
        may have left a batch at the vendor) is looked up by its key first; one never sent goes
        straight to the vendor, so a loose look-up can never adopt someone else's batch.
        """
        with job_lease(self._store, self.id):
            job = self._store.get_job(self.id)
            shards = self._store.get_shards(self.id)
            taken = {s.remote_id for s in shards if s.remote_id is not None}
            pending = [s for s in shards if s.remote_id is None and not s.state.is_terminal]
            limit = token_limit(job.options)
            if limit is not None and not job.cancel_requested:  # what the limit has room for
                admitted = {s.index for s in admit(shards, limit)[0]}
                pending = [s for s in pending if s.index in admitted]

            def send(shard: ShardRecord) -> None:
                if self._store.get_job(self.id).cancel_requested:  # checked shard by shard
                    self._store.update_shard(self.id, shard.index, state=JobState.CANCELLED)
                    return
                restore_inputs(shard, shards, need_payload=True)  # a retry's, if deleted
                recorded = self._submit_one(_shard_input(job, shard, frozenset(taken)),
                                            shard.send_started is not None)
                if recorded is not None:
                    taken.add(recorded)

            if not self._adapter.parallel_submit:
                for shard in pending:
                    send(shard)
            else:
                self._in_parallel(send, pending)
            if self._store.get_job(self.id).cancel_requested:
                # A cancel asked while this holder was sending waits for the lease, and may
                # wait long while this loop keeps taking it: the holder cancels what it sent.
                self._cancel_shards()

    def held(self) -> dict[int, str]:
        """Unsent shards that wait for room under the enqueued-token limit, with the reason,
        by shard index (empty without a limit). :meth:`wait` sends them as room frees up."""
        limit = token_limit(self._record.options)
        if limit is None or self._store.get_job(self.id).cancel_requested:
            return {}
        return admit(self.shards, limit)[1]

    def _in_parallel(
        self, work: Callable[[ShardRecord], object], shards: list[ShardRecord]
    ) -> None:
        """Run ``work`` on each shard, ``concurrency`` at a time; re-raise the first failure
        once every shard has had its turn (one shard's trouble never strands the others)."""
        if len(shards) < 2 or self._concurrency < 2:
            for shard in shards:
                work(shard)
            return
        work(shards[0])  # alone first: builds the SDK client once, not in a race
        with ThreadPoolExecutor(min(self._concurrency, len(shards) - 1)) as pool:
            futures = [pool.submit(work, shard) for shard in shards[1:]]
        failures = [f.exception() for f in futures if f.exception() is not None]
        if failures:
            raise failures[0]  # type: ignore[misc]

    def _submit_one(self, shard_in: ShardInput, look_up_first: bool) -> str | None:
        """Attach or submit one shard; returns the vendor id recorded (None if rejected).

        A create that fails transiently (rate limit, server error, lost connection) may still
        have created the batch, so before trying again the vendor is asked for the key first.
        """
        remote_id = self._patiently(lambda: self._adapter.find_by_key(shard_in)) \
            if look_up_first else None
        if remote_id is None:
            self._store.mark_send_started(self.id, shard_in.index)
        backoff = Backoff(initial=self._adapter.poll_interval())
        tries = 0
        while remote_id is None:
            tries += 1
            try:
                remote_id = self._adapter.submit(shard_in)
            except BatchFailedError as exc:
                self._store.update_shard(
                    self.id, shard_in.index, state=JobState.FAILED, vendor_status="rejected",
                    errors=[{"line": None, "code": "batch_failed", "message": str(exc)}],
                )
                return None
            except ProviderError as exc:
                if not exc.transient or tries >= _TRANSIENT_TRIES:
                    raise ProviderError(
                        f"job {self.id}: shard {shard_in.index} was not submitted ({exc}); it "
                        f"is journaled, so `batchkit wait {self.id}` or bk.resume() will retry "
                        "it", status_code=exc.status_code, transient=exc.transient,
                    ) from exc
                self._clock.sleep(backoff.next_delay())
                remote_id = self._patiently(lambda: self._adapter.find_by_key(shard_in))
        return self._store.set_remote_id(self.id, shard_in.index, remote_id)

    def _patiently(self, call: Callable[[], T]) -> T:
        """Run an idempotent vendor call, retrying transient failures with backoff and jitter.

        The SDKs retry on their own too; this outer loop rides out longer trouble (an outage
        of a minute, a download cut off half way) for ``_TRANSIENT_PATIENCE`` poll intervals
        of time (not tries: the delays grow), without failing the caller's ``wait``.
        """
        interval = max(self._adapter.poll_interval(), 0.01)
        backoff, deadline = Backoff(interval), self._clock.time() + _TRANSIENT_PATIENCE * interval
        while True:
            try:
                return call()
            except ProviderError as exc:
                delay = backoff.next_delay()
                if not exc.transient or self._clock.time() + delay > deadline:
                    raise
                self._clock.sleep(delay)

    # -- polling ------------------------------------------------------------------------------

    def refresh(self) -> JobState:
        """Poll every unfinished shard once and record the answers.

        With several shards out, one list call (``Adapter.poll_many``) answers for all the
        shards it shows; the rest are polled one by one, ``concurrency`` at a time.
        """
        live = [s for s in self._store.get_shards(self.id)
                if s.remote_id is not None and not s.state.is_terminal]
        listed = self._list_statuses(live)
        for shard in live:
            if shard.remote_id in listed:
                self._record_status(shard, listed[shard.remote_id])

        def poll(shard: ShardRecord) -> None:
            assert shard.remote_id is not None
            status = self._patiently(functools.partial(self._adapter.poll, shard.remote_id))
            self._record_status(shard, status)

        self._in_parallel(poll, [s for s in live if s.remote_id not in listed])
        return self.state

    def _list_statuses(self, live: list[ShardRecord]) -> dict[str, RemoteStatus]:
        """What one listing says about ``live`` shards ({} for a single shard: a poll is as
        cheap). A listing that fails costs nothing but the try: every shard is then polled,
        and a refusal (not a passing failure) makes this handle stop asking."""
        if len(live) < 2 or self._listing_refused:
            return {}
        ids = [s.remote_id for s in live if s.remote_id is not None]
        try:
            return self._patiently(lambda: self._adapter.poll_many(
                ids, job_id=self.id, since=self._record.created_at))
        except ProviderError as exc:
            self._listing_refused = not exc.transient
            return {}

    def _record_status(self, shard: ShardRecord, status: RemoteStatus) -> None:
        counts = {
            k: v
            for k, v in (("total", status.total), ("succeeded", status.succeeded),
                         ("failed", status.failed))
            if v is not None
        }
        errors = [{"line": e.line, "code": e.code, "message": e.message} for e in status.errors]
        self._store.update_shard(
            self.id, shard.index, state=status.state, vendor_status=status.vendor_status,
            counts=counts, errors=errors or None,
        )

    def wait(
        self,
        *,
        timeout: float | None = None,
        progress: bool = False,
        raise_on_failure: bool = True,
        backoff: Backoff | None = None,
    ) -> Job:
        """Poll until every shard is finished (submitting any journaled leftovers first).

        With ``retry=`` set at submission, a round whose requests failed retryably is followed
        by a round that sends them again, until none is left or the rounds run out.

        Raises :class:`BatchFailedError` if the vendor rejected a shard, listing the offending
        lines by custom_id (``raise_on_failure=False`` to get the errored results instead), and
        ``TimeoutError`` after ``timeout`` seconds.
        """
        backoff = backoff or Backoff(initial=self._adapter.poll_interval())
        start = self._clock.time()
        with job_progress(progress, self) as update:
            while True:
                if any(s.remote_id is None and not s.state.is_terminal for s in self.shards):
                    self._submit_pending()
                state = self.refresh()
                update(self)
                if state.is_terminal:
                    if self._start_retry_round():
                        continue
                    break
                if timeout is not None and self._clock.time() - start >= timeout:
                    raise TimeoutError(f"job {self.id} still {state.value} after {timeout}s")
                self._clock.sleep(backoff.next_delay())
        if raise_on_failure:
            self._raise_if_rejected()
        return self

    def _start_retry_round(self) -> bool:
        """Journal and send the next retry round, if one is due; True if the job goes on.

        Planned under the job lock, from the shards as they are then: if another process has
        started a round meanwhile, its shards are not finished and this one plans nothing.
        """
        with job_lease(self._store, self.id):
            if any(not s.state.is_terminal for s in self._store.get_shards(self.id)):
                return True
            started = self._journal_retry_round()
        if started:
            self._submit_pending()
        return started

    def _journal_retry_round(self) -> bool:
        return journal_retry_round(self._store, self.id, self._adapter, self.folder,
                                   self._fetch, self._models)

    def _raise_if_rejected(self) -> None:
        failed = [s for s in self.shards if s.state == JobState.FAILED]
        if not failed:
            return
        lines = rejection_lines(failed)
        shown = "; ".join(lines[:10]) + (f"; and {len(lines) - 10} more" if len(lines) > 10 else "")
        raise BatchFailedError(
            f"job {self.id}: the vendor rejected {len(failed)} of {len(self.shards)} shard(s): "
            f"{shown}. Results are still available with raise_on_failure=False / results()."
        )

    def cancel(self) -> None:
        """Cancel: unsent shards are never sent, running ones are cancelled at the vendor.

        Under the job lock, so a shard another process is sending right now gets its vendor
        id recorded first, and is then cancelled at the vendor instead of left running.
        """
        self._store.request_cancel(self.id)
        with job_lease(self._store, self.id):
            self._cancel_shards()

    def _cancel_shards(self) -> None:
        for shard in self.shards:
            if shard.state.is_terminal or shard.state == JobState.CANCELLING:
                continue  # ended, or asked already (once is enough for any vendor)
            if shard.remote_id is None:
                self._store.update_shard(self.id, shard.index, state=JobState.CANCELLED)
            else:
                self._adapter.cancel(shard.remote_id)
                self._store.update_shard(self.id, shard.index, state=JobState.CANCELLING)

    # -- results ------------------------------------------------------------------------------

    def _fetch(self, shard: ShardRecord) -> list[Path]:
        """The shard's result files, downloaded into the job folder the first time, and again
        if any has gone since (they are a cache of the vendor's; real-time answers are not)."""
        if shard.result_paths is not None and (
                shard.remote_id is None or all(Path(p).exists() for p in shard.result_paths)):
            return [Path(p) for p in shard.result_paths]
        if shard.remote_id is None:
            return []
        if not shard.state.is_terminal:
            raise BatchkitError(f"job {self.id}: shard {shard.index} has not finished")
        kept = download_shard(self._adapter, self.folder, shard.index, shard.remote_id,
                              self._patiently)
        self._store.update_shard(self.id, shard.index, result_paths=[str(p) for p in kept])
        return kept

    def iter_results(
        self, response_models: dict[str, type[BaseModel]] | None = None
    ) -> Iterator[Result]:
        """Stream one Result per request, in input order. The job must be finished."""
        shards = self._finished_shards()
        collector = ResultCollector(
            shards, self._fetch, self._adapter.decode,
            ModelResolver(response_models) if response_models else self._models,
        )
        self.unmatched = collector.unmatched
        total: float | None = None
        pricer = usage_pricer(self.provider, batch=self._billed_as_batch)
        for result in with_costs(collector.in_input_order(), pricer):
            if result.cost_usd is not None:
                total = (total or 0.0) + result.cost_usd
            yield result
        self._store.set_actual_cost(self.id, total)  # read to the end: the whole job's cost

    def results(
        self, response_models: dict[str, type[BaseModel]] | None = None, *, lazy: bool = False
    ) -> ResultSet:
        """Every request's Result, in input order (see :meth:`iter_results`).

        ``lazy=True`` keeps none of them in memory: each walk of the returned set (a loop,
        ``counts()``, ``embeddings()``, ``to_parquet()``...) decodes the result files again
        from the job folder, where they were downloaded once.
        """
        shards = self._finished_shards()  # refuse now, not at the first walk
        if not lazy:
            for shard in shards:  # downloads first: the collector stays on during network I/O
                self._fetch(shard)
            with gc_paused():
                results = ResultSet(self.iter_results(response_models))
            results.unmatched = self.unmatched
            return results

        def walk() -> Iterator[Result]:
            yield from self.iter_results(response_models)
            streamed.unmatched = self.unmatched

        streamed = ResultSet.streamed(walk, self.request_count)
        return streamed

    def _finished_shards(self) -> list[ShardRecord]:
        shards = self.shards
        if any(not s.state.is_terminal for s in shards):
            raise BatchkitError(
                f"job {self.id} is {self.state.value}; call wait() before results()"
            )
        return shards
