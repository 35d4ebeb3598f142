"""The job handle and the orchestration loop: plan, journal, submit, poll, collect.

The order of effects is the whole point of this module:

1. every request is validated and written into shard files (nothing sent yet);
2. the job and all its shards, each with an idempotency key, are journaled in the store;
3. only then is each shard submitted, and its vendor id recorded;
4. a shard that is journaled but has no vendor id (the process died around step 3) is first
   looked up at the vendor by its key, and submitted only if the vendor has no batch for it.

So a crash at any point can be resumed (``bk.resume`` / ``batchkit wait``) and no shard is ever
paid for twice. No vendor is named here: everything vendor-specific goes through the adapter.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ._cache import ResultCache
from ._clock import Backoff, Clock, SystemClock
from ._collect import ResultCollector, rejection_lines
from ._config import batchkit_home, resolve_provider
from ._exceptions import (
    BatchFailedError,
    BatchkitError,
    ConfigError,
    InvalidRequestError,
    ProviderError,
)
from ._normalize import ModelResolver, with_costs
from ._plan import plan_shards
from ._registry import make_adapter
from ._requests import Request
from ._results import Result, ResultSet
from ._retry import is_retryable, retry_allowance, write_retry_shards
from ._state import JobState
from .cost import RunningEstimate, check_budget, usage_pricer
from .providers.base import Adapter, RemoteStatus, ShardInput
from .store import JobRecord, ShardRecord, SQLiteStore, default_store, open_store

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per job is the user's job there
    fcntl = None  # type: ignore[assignment]

__all__ = ["Job", "get_job", "list_jobs", "resume", "run", "submit"]

StoreArg = SQLiteStore | str | Path | None


def _store(store: StoreArg) -> SQLiteStore:
    if isinstance(store, SQLiteStore):
        return store
    return default_store() if store is None else open_store(store)


def _new_job_id() -> str:
    return time.strftime("bk_%Y%m%d_%H%M%S_", time.gmtime()) + secrets.token_hex(4)


def _shard_input(
    job: JobRecord, shard: ShardRecord, taken: frozenset[str] = frozenset()
) -> ShardInput:
    return ShardInput(
        job_id=job.id,
        index=shard.index,
        key=shard.key,
        group=shard.group,
        payload_path=Path(shard.payload_path),
        request_count=shard.request_count,
        journaled_at=job.created_at,
        taken=taken,
    )


@contextlib.contextmanager
def _job_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on the job while submitting, across processes.

    The kernel drops the lock when a process dies, so a SIGKILL never leaves a job locked.
    """
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(folder / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class Job:
    """A handle on a job in the store. Cheap to create; every method reads the store afresh."""

    def __init__(
        self,
        record: JobRecord,
        store: SQLiteStore,
        adapter: Adapter,
        response_models: dict[str, type[BaseModel]] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._record = record
        self._store = store
        self._adapter = adapter
        self._models = ModelResolver(response_models)
        self._clock = clock or SystemClock()

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

    def _submit_pending(self, *, look_up_first: bool) -> None:
        """Submit every journaled shard that has no vendor id yet.

        ``look_up_first`` asks the vendor for a batch with the shard's key before creating one;
        it is skipped only right after planning, when no earlier process can have submitted.
        """
        with _job_lock(self.folder):
            job = self._store.get_job(self.id)
            shards = self._store.get_shards(self.id)
            taken = {s.remote_id for s in shards if s.remote_id is not None}
            for shard in shards:
                if shard.remote_id is not None or shard.state.is_terminal:
                    continue
                if job.cancel_requested:
                    self._store.update_shard(self.id, shard.index, state=JobState.CANCELLED)
                    continue
                recorded = self._submit_one(_shard_input(job, shard, frozenset(taken)),
                                            look_up_first)
                if recorded is not None:
                    taken.add(recorded)

    def _submit_one(self, shard_in: ShardInput, look_up_first: bool) -> str | None:
        """Attach or submit one shard; returns the vendor id recorded (None if rejected)."""
        remote_id = self._adapter.find_by_key(shard_in) if look_up_first else None
        if remote_id is None:
            try:
                remote_id = self._adapter.submit(shard_in)
            except BatchFailedError as exc:
                self._store.update_shard(
                    self.id, shard_in.index, state=JobState.FAILED, vendor_status="rejected",
                    errors=[{"line": None, "code": "batch_failed", "message": str(exc)}],
                )
                return None
            except ProviderError as exc:
                raise ProviderError(
                    f"job {self.id}: shard {shard_in.index} was not submitted ({exc}); it is "
                    f"journaled, so `batchkit wait {self.id}` or bk.resume() will retry it",
                    status_code=exc.status_code,
                ) from exc
        return self._store.set_remote_id(self.id, shard_in.index, remote_id)

    # -- polling ------------------------------------------------------------------------------

    def refresh(self) -> JobState:
        """Poll every unfinished shard once and record what the vendor says."""
        for shard in self._store.get_shards(self.id):
            if shard.remote_id is None or shard.state.is_terminal:
                continue
            self._record_status(shard, self._adapter.poll(shard.remote_id))
        return self.state

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
        with _progress(progress, self) as update:
            while True:
                if any(s.remote_id is None and not s.state.is_terminal for s in self.shards):
                    self._submit_pending(look_up_first=True)
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
        """Journal and send the next retry round, if one is due; True if one was started."""
        job = self._store.get_job(self.id)
        shards = self._store.get_shards(self.id)
        attempt = max(s.attempt for s in shards)
        if job.cancel_requested or attempt > job.retries:
            return False
        collector = ResultCollector(shards, self._fetch, self._adapter.decode, self._models)
        sources = []
        for shard in shards:
            if shard.attempt == attempt and shard.request_count:
                positions = {pos for pos, result in collector.shard_results(shard)
                             if is_retryable(result)}
                if positions:
                    sources.append((shard, positions))
        if not sources:
            return False
        already = sum(s.request_count for s in shards if s.attempt > 1)
        planned = write_retry_shards(
            sources, self._adapter, self.folder, first_index=len(shards), attempt=attempt + 1,
            allowance=retry_allowance(job.estimate, already),
        )
        if not planned.shards:
            return False
        detail = (f"attempt {planned.attempt}: {planned.request_count} request(s) sent again"
                  + (f", {planned.dropped_for_budget} left out to stay within max_cost_usd"
                     if planned.dropped_for_budget else ""))
        self._store.add_shards(self.id, [
            ShardRecord(job_id=self.id, index=p.index, key=f"{self.id}-{p.index:04d}",
                        group=p.group, request_count=p.request_count,
                        payload_path=str(p.payload_path), requests_path=str(p.requests_path),
                        attempt=planned.attempt)
            for p in planned.shards
        ], detail)
        self._submit_pending(look_up_first=True)
        return True

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
        """Cancel: unsent shards are never sent, running ones are cancelled at the vendor."""
        self._store.request_cancel(self.id)
        for shard in self.shards:
            if shard.state.is_terminal:
                continue
            if shard.remote_id is None:
                self._store.update_shard(self.id, shard.index, state=JobState.CANCELLED)
            else:
                self._adapter.cancel(shard.remote_id)
                self._store.update_shard(self.id, shard.index, state=JobState.CANCELLING)

    # -- results ------------------------------------------------------------------------------

    def _fetch(self, shard: ShardRecord) -> list[Path]:
        if shard.result_paths is not None:
            return [Path(p) for p in shard.result_paths]
        if shard.remote_id is None:
            return []
        final = self.folder / f"shard-{shard.index:04d}.results"
        partial = final.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(mode=0o700)
        status = self._adapter.poll(shard.remote_id)
        paths = self._adapter.fetch_results(shard.remote_id, status, partial)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(partial, final)
        kept = [str(final / p.name) for p in paths]
        self._store.update_shard(self.id, shard.index, result_paths=kept)
        return [Path(p) for p in kept]

    def iter_results(
        self, response_models: dict[str, type[BaseModel]] | None = None
    ) -> Iterator[Result]:
        """Stream one Result per request, in input order. The job must be finished."""
        shards = self.shards
        unfinished = [s.index for s in shards if not s.state.is_terminal]
        if unfinished:
            raise BatchkitError(
                f"job {self.id} is {self.state.value}; call wait() before results()"
            )
        collector = ResultCollector(
            shards, self._fetch, self._adapter.decode,
            ModelResolver(response_models) if response_models else self._models,
        )
        self._unmatched = collector.unmatched
        yield from with_costs(collector.in_input_order(), usage_pricer(self.provider))

    def results(self, response_models: dict[str, type[BaseModel]] | None = None) -> ResultSet:
        """Every request's Result, in input order (see :meth:`iter_results`)."""
        results = ResultSet(self.iter_results(response_models), unmatched=())
        results.unmatched = self._unmatched
        self._store.set_actual_cost(self.id, results.cost_usd)
        return results


@contextlib.contextmanager
def _progress(enabled: bool, job: Job) -> Iterator[Any]:
    if not enabled:
        yield lambda _job: None
        return
    from rich.progress import Progress

    with Progress(transient=False) as bar:
        task = bar.add_task(f"{job.id}", total=len(job.shards))

        def update(j: Job) -> None:
            shards = j.shards
            done = sum(s.state.is_terminal for s in shards)
            bar.update(task, completed=done, description=f"{j.id} {j.state.value}")

        yield update


def submit(
    requests: Iterable[Request],
    provider: str | None = None,
    *,
    profile: str | None = None,
    options: dict[str, Any] | None = None,
    store: StoreArg = None,
    shard_size: int | None = None,
    dedupe: bool = True,
    max_cost_usd: float | None = None,
    cache: bool = False,
    retry: int = 0,
    clock: Clock | None = None,
) -> Job:
    """Validate, plan, journal and submit a job; returns at once (see :meth:`Job.wait`).

    ``requests`` may be any iterable (a generator over a huge file is fine: it is streamed to
    shard files). If any request is invalid, nothing is recorded or sent. ``shard_size`` caps
    the requests per vendor batch below the provider's limit. Identical requests whose reply
    should repeat (embeddings, chat at temperature 0) are sent once and share the result,
    unless ``dedupe=False``. With ``max_cost_usd``, a job whose upper-bound batch cost (from
    each request's ``max_tokens``) is over the cap is refused with ``BudgetExceededError``
    before anything is recorded or sent. ``cache=True`` answers requests from the local result
    cache where it can (nothing is sent for them) and keeps this job's results there.
    ``retry=N`` sends requests that failed for a passing reason (rate limit, server error,
    expiry) again, in up to N follow-up rounds, within ``max_cost_usd`` (see ``_retry``).
    """
    if retry < 0:
        raise ConfigError(f"retry must be 0 or more rounds, got {retry}")
    resolved = resolve_provider(provider, profile, options)
    adapter = make_adapter(resolved.provider, resolved.options)
    db = _store(store)
    job_id = _new_job_id()
    folder = batchkit_home() / "jobs" / job_id
    (folder.parent).mkdir(mode=0o700, parents=True, exist_ok=True)
    running = RunningEstimate(resolved.provider) if max_cost_usd is not None else None
    result_cache = ResultCache() if cache else None
    try:
        plan = plan_shards(requests, adapter, folder, shard_size=shard_size, dedupe=dedupe,
                           observe=running.add if running else None, cache=result_cache,
                           cache_scope=resolved.provider)
        if plan.request_count == 0:
            raise InvalidRequestError("no requests to submit")
        estimate = None
        if running is not None and max_cost_usd is not None:
            estimate = running.result()
            check_budget(estimate, max_cost_usd)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        if result_cache is not None:
            result_cache.close()
    record = JobRecord(
        id=job_id, provider=resolved.provider, state=JobState.PENDING,
        request_count=plan.request_count, folder=str(folder), options=resolved.options,
        retries=retry, estimate=None if estimate is None else {
            "batch_cost_max": estimate.batch_cost_max,
            "batch_cost_expected": estimate.batch_cost_expected,
            "max_cost_usd": max_cost_usd,
            "requests_sent": plan.request_count - plan.duplicates - plan.cached,
            "saved_by_dedupe": plan.duplicates, "saved_by_cache": plan.cached,
        },
    )
    db.create_job(record, [
        ShardRecord(
            job_id=job_id, index=s.index, key=f"{job_id}-{s.index:04d}", group=s.group,
            request_count=s.request_count, payload_path=str(s.payload_path),
            requests_path=str(s.requests_path),
            # A shard of cached results only has nothing to send: it is done already.
            state=JobState.PENDING if s.request_count else JobState.COMPLETED,
        )
        for s in plan.shards
    ])
    job = Job(record, db, adapter, plan.response_models, clock)
    job._submit_pending(look_up_first=False)
    return job


def get_job(job_id: str, *, store: StoreArg = None, clock: Clock | None = None) -> Job:
    """A handle on a recorded job (from this or any earlier process)."""
    db = _store(store)
    record = db.get_job(job_id)
    return Job(record, db, make_adapter(record.provider, record.options), clock=clock)


def resume(job_id: str, *, store: StoreArg = None, clock: Clock | None = None) -> Job:
    """Re-attach to a job after a crash: submit what was journaled but not accepted.

    Each such shard is first looked up at the vendor by its idempotency key, so a shard the
    vendor accepted just before the crash is attached, not paid for again.
    """
    job = get_job(job_id, store=store, clock=clock)
    job._submit_pending(look_up_first=True)
    return job


def list_jobs(*, store: StoreArg = None, limit: int = 50) -> list[JobRecord]:
    """The most recent jobs in the store, newest first."""
    return _store(store).list_jobs(limit)


def run(
    requests: Iterable[Request],
    provider: str | None = None,
    *,
    timeout: float | None = None,
    progress: bool = False,
    **kwargs: Any,
) -> ResultSet:
    """Submit, wait and return the results: the one-call form."""
    job = submit(requests, provider, **kwargs)
    job.wait(timeout=timeout, progress=progress)
    return job.results()
