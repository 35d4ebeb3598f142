"""The entry points that make or find a job: submit, run, resume, get_job, list_jobs.

``submit`` does steps 1 and 2 of the order described in ``_job`` (validate and plan to disk,
then journal) and hands the journaled job to :class:`Job` to send; the rest of a job's life is
the Job handle's.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ._cache import ResultCache
from ._clock import Clock
from ._config import batchkit_home, resolve_provider
from ._exceptions import ConfigError, InvalidRequestError
from ._job import DEFAULT_CONCURRENCY, Job
from ._plan import check_minimum, plan_shards
from ._queue import queue_limit
from ._realtime import (
    MODE_OPTION,
    RealtimeJob,
    check_mode,
    choose_mode,
    is_realtime,
    realtime_token_counter,
)
from ._registry import make_adapter
from ._requests import Request
from ._results import ResultSet
from ._state import JobState
from .cost import RunningEstimate, check_budget
from .store import JobRecord, ShardRecord, SQLStore, default_store, open_store

__all__ = ["forget", "get_job", "list_jobs", "resolve_store", "resume", "run", "submit"]

StoreArg = SQLStore | str | Path | None


def resolve_store(store: StoreArg) -> SQLStore:
    if isinstance(store, SQLStore):
        return store
    return default_store() if store is None else open_store(store)


def _new_job_id() -> str:
    return time.strftime("bk_%Y%m%d_%H%M%S_", time.gmtime()) + secrets.token_hex(4)


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
    concurrency: int = DEFAULT_CONCURRENCY,
    clock: Clock | None = None,
    mode: str = "batch",
    deadline_s: float | None = None,
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
    ``concurrency`` caps the vendor calls (uploads and creates, polls) made at once. The
    option ``enqueued_tokens`` (or ``[limits."provider:model"]`` in batchkit.toml) caps the
    input tokens the job has queued at the vendor at once: shards beyond it are held and sent
    as earlier ones finish, during :meth:`Job.wait` (see ``_queue``).

    ``mode="realtime"`` plans and journals the job the same way but sends each request to the
    vendor's synchronous endpoint during :meth:`Job.wait` (or ``await job.await_done()``),
    within the rate limits (options ``rpm``, ``tpm``, ``concurrency``; see ``_ratelimit``),
    priced at real-time rates. ``mode="auto"`` picks real time for a job of at most
    ``realtime_below`` requests (option, default 100) or a ``deadline_s`` shorter than the
    batch window (option ``batch_window_s``, default 24 h), and batch otherwise.
    """
    if retry < 0:
        raise ConfigError(f"retry must be 0 or more rounds, got {retry}")
    resolved = resolve_provider(provider, profile, options)
    adapter = make_adapter(resolved.provider, resolved.options)
    adapter.check_options()
    check_mode(mode, adapter, resolved.options)
    db = resolve_store(store)
    job_id = _new_job_id()
    folder = batchkit_home() / "jobs" / job_id
    (folder.parent).mkdir(mode=0o700, parents=True, exist_ok=True)
    running = RunningEstimate(resolved.provider) if max_cost_usd is not None else None
    result_cache = ResultCache() if cache else None
    queue = queue_limit(resolved.provider, resolved.options)
    if mode != "batch" and queue is None:  # rows carry their rate-limit token estimate
        queue = realtime_token_counter(resolved.provider)
    try:
        plan = plan_shards(requests, adapter, folder, shard_size=shard_size, dedupe=dedupe,
                           observe=running.add if running else None, cache=result_cache,
                           cache_scope=resolved.provider, queue=queue,
                           enforce_minimum=mode == "batch")
        if plan.request_count == 0:
            raise InvalidRequestError("no requests to submit")
        # Credentials and the SDK client only now: a wrong line must be named before a
        # missing key is, and neither leaves anything recorded.
        adapter.prepare()
        asked, mode = mode, choose_mode(mode, adapter, plan.request_count, resolved.options,
                                        deadline_s)
        if mode == "batch" and asked != "batch":  # a per-batch minimum binds batch jobs only
            check_minimum(plan.shards, adapter)
        estimate = None
        if running is not None and max_cost_usd is not None:
            estimate = running.result()
            check_budget(estimate, max_cost_usd, batch=mode == "batch")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        if result_cache is not None:
            result_cache.close()
    realtime = mode == "realtime"
    options = {**resolved.options, MODE_OPTION: mode} if realtime else resolved.options
    record = JobRecord(
        id=job_id, provider=resolved.provider, state=JobState.PENDING,
        request_count=plan.request_count, folder=str(folder), options=options,
        retries=retry, estimate=None if estimate is None else {
            # A real-time job's bound is at real-time prices (retry rounds budget from it).
            "batch_cost_max": estimate.realtime_cost_max if realtime
            else estimate.batch_cost_max,
            "batch_cost_expected": estimate.realtime_cost_expected if realtime
            else estimate.batch_cost_expected,
            "mode": mode,
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
            input_tokens=s.input_tokens if queue is not None and not realtime else None,
            # A shard of cached results only has nothing to send: it is done already.
            state=JobState.PENDING if s.request_count else JobState.COMPLETED,
        )
        for s in plan.shards
    ])
    if realtime:  # its rows are sent by wait() / await_done(), not here
        return RealtimeJob(record, db, adapter, plan.response_models, clock, concurrency)
    job = Job(record, db, adapter, plan.response_models, clock, concurrency)
    job._submit_pending()
    return job


def get_job(job_id: str, *, store: StoreArg = None, clock: Clock | None = None) -> Job:
    """A handle on a recorded job (from this or any earlier process)."""
    db = resolve_store(store)
    record = db.get_job(job_id)
    kind = RealtimeJob if is_realtime(record.options) else Job
    return kind(record, db, make_adapter(record.provider, record.options), clock=clock)


def resume(job_id: str, *, store: StoreArg = None, clock: Clock | None = None) -> Job:
    """Re-attach to a job after a crash: submit what was journaled but not accepted.

    Each such shard whose create had been started is first looked up at the vendor by its
    idempotency key, so a shard the vendor accepted just before the crash is attached, not
    paid for again. A real-time job sends its unanswered rows when waited for.
    """
    job = get_job(job_id, store=store, clock=clock)
    if not isinstance(job, RealtimeJob):
        job._submit_pending()
    return job


def forget(job_id: str, *, force: bool = False, store: StoreArg = None) -> JobRecord:
    """Remove a job from the store and delete its folder; returns what was removed.

    A job that has not ended may still be running, and billed, at the vendor: forgetting it
    would lose the only handle on that batch, so it is refused unless ``force=True`` (for a
    job whose vendor side is known gone, such as one left by a sandbox that has stopped).
    """
    db = resolve_store(store)
    record = db.get_job(job_id)
    if not record.state.is_terminal and not force:
        raise ConfigError(
            f"job {job_id} is {record.state.value}: the vendor may still be running and billing "
            f"it; cancel it first (batchkit cancel {job_id}), or force it if you know the "
            "vendor side is gone")
    db.delete_job(job_id)
    shutil.rmtree(record.folder, ignore_errors=True)
    return record


def list_jobs(*, store: StoreArg = None, limit: int = 50) -> list[JobRecord]:
    """The most recent jobs in the store, newest first."""
    return resolve_store(store).list_jobs(limit)


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
