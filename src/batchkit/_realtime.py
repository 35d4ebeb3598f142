"""Real-time jobs: planned and journaled like a batch job, executed by batchkit itself.

A real-time job has the same folder, store record and shard payload files as a batch job.
Instead of uploading a shard, batchkit sends each payload line to the vendor's synchronous
endpoint (``Adapter.send_now``) and appends the answer, in the vendor's batch output shape, to
the shard's result file ``shard-NNNN.realtime.jsonl``. The usual collect path then reads that
file like a downloaded one, so results, parsed models, usage and ordering are those of batch.

Crash safety: every answer is written to the file the moment it arrives (one ``write`` per
row, so a killed process loses none it had received), and fsynced in small batches. A resumed
shard first reads the file back (dropping a torn last line) and sends only the rows it lacks.
A row in flight at the moment of a kill has no answer on disk and is sent again: synchronous
endpoints take no idempotency key, so that is the one case a row may be billed twice, at most
as many rows as were in flight.

A row refused by a rate limit waits (``_ratelimit``) and goes again; a row that keeps failing
for a passing reason is left out of the file, so it reads back as a retryable
``missing_result`` and the job's ``retry=`` rounds send it again like a batch retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson

from ._exceptions import ConfigError, ProviderError, RateLimitedError, UnknownProviderError
from ._job import Job
from ._lease import job_lease
from ._queue import QueueLimit
from ._ratelimit import RateLimiter, RateStats, check_rate_options, limiter_for
from ._requests import ChatRequest, Request
from ._results import Result
from ._state import JobState
from .cost import DEFAULT_MAX_TOKENS, counter_for, load_catalog, usage_pricer
from .providers.base import Adapter
from .store import ShardRecord

__all__ = [
    "MODES",
    "MODE_OPTION",
    "RealtimeJob",
    "RealtimeProgress",
    "answered_ids",
    "check_mode",
    "choose_mode",
    "is_realtime",
    "realtime_token_counter",
    "run_sync",
]

T = TypeVar("T")
MODE_OPTION = "mode"
"""The job option that marks a real-time job (``"realtime"``); kept with the job's options."""
_PASSING_TRIES = 3
"""Sends of one row that fails for a passing reason (server error, lost connection) before it
is left for the job's retry rounds."""
_RATE_LIMITED_TRIES = 50
"""429s one row may meet before it is left for the retry rounds (the account is saturated)."""
_SYNC_EVERY_ROWS = 64
_SYNC_EVERY_SECONDS = 1.0


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to the end from synchronous code, also when the calling thread already
    runs an event loop (a notebook): then on a thread of its own."""
    async def main() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    box: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            box.append(asyncio.run(main()))
        except BaseException as exc:  # handed to the caller's thread
            errors.append(exc)

    worker = threading.Thread(target=target, name="batchkit-realtime")
    worker.start()
    worker.join()
    if errors:
        raise errors[0]
    return box[0]


@dataclass
class RealtimeProgress:
    """A real-time run as it goes, for progress bars: rows done, tokens, 429s, cost so far."""

    total: int = 0
    done: int = 0
    tokens: int = 0
    """Tokens the vendor reported (input + output) for the rows answered."""
    cost_usd: float = 0.0
    rate_limited: int = 0
    started: float = 0.0


class _ResultFile:
    """The shard's result file, appended one row per write and fsynced every few rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.unsynced = 0
        self.synced_at = time.monotonic()

    def append(self, line: bytes) -> None:
        os.write(self.fd, line.rstrip(b"\n") + b"\n")
        self.unsynced += 1
        if self.unsynced >= _SYNC_EVERY_ROWS or \
                time.monotonic() - self.synced_at >= _SYNC_EVERY_SECONDS:
            self.sync()

    def sync(self) -> None:
        if self.unsynced:
            os.fsync(self.fd)
        self.unsynced, self.synced_at = 0, time.monotonic()

    def close(self) -> None:
        self.sync()
        os.close(self.fd)


def answered_ids(path: Path, decode: Callable[[bytes], Result]) -> set[str]:
    """The vendor ids a result file already answers; a torn last line (the process was killed
    while writing it) is cut off first, so the row is sent again rather than lost."""
    if not path.exists():
        return set()
    data = path.read_bytes()
    whole = data[: data.rfind(b"\n") + 1]
    if len(whole) != len(data):
        with open(path, "r+b") as fh:
            fh.truncate(len(whole))
    done: set[str] = set()
    for raw in whole.splitlines():
        if raw.strip():
            with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
                done.add(decode(raw).custom_id)
    return done


def _rows(shard: ShardRecord, done: set[str]) -> Iterator[tuple[bytes, int]]:
    """The shard's payload lines not answered yet, with their rate-limit token estimate."""
    tokens: dict[int, tuple[str, int]] = {}
    with open(shard.requests_path, "rb") as index:
        for raw in index:
            rec = orjson.loads(raw)
            if rec["ln"] is not None:
                tokens[rec["ln"]] = (rec["vid"], int(rec.get("tk", 0)))
    with open(shard.payload_path, "rb") as payload:
        for number, line in enumerate(payload, start=1):
            vid, estimate = tokens.get(number, ("", 0))
            if vid not in done:
                yield line.rstrip(b"\n"), estimate


async def _send_row(adapter: Adapter, limiter: RateLimiter, line: bytes, group: str,
                    tokens: int, progress: RealtimeProgress) -> bytes | None:
    """One row's answer line, or None when it kept failing for a passing reason."""
    failures = limited = 0
    while True:
        ticket = await limiter.acquire(tokens)
        try:
            answer = await adapter.asend_now(line, group)
        except RateLimitedError as exc:
            limiter.release(ticket, retry_after=exc.retry_after, rate_limited=True)
            progress.rate_limited += 1
            limited += 1
            if limited >= _RATE_LIMITED_TRIES:
                return None
            continue
        except ProviderError as exc:
            limiter.release(ticket)
            failures += 1
            if not exc.transient:
                raise
            if failures >= _PASSING_TRIES:
                return None
            await asyncio.sleep(0.2 * 2 ** failures)
            continue
        except BaseException:
            limiter.release(ticket)
            raise
        limiter.release(ticket, answer.headers)
        return answer.line


class RealtimeJob(Job):
    """A job whose shards batchkit executes itself against the vendor's synchronous endpoint.

    Same handle as :class:`Job`: ``wait`` runs the rows (``await_done`` in an event loop), and
    results come back the same way, priced at real-time rates.
    """

    _billed_as_batch = False
    progress: RealtimeProgress | None = None
    """The run in progress (set while rows are being sent), for progress bars."""

    @property
    def rate_stats(self) -> RateStats:
        """Calls, 429s and tokens seen by this provider's limiter in this process."""
        return limiter_for(self.provider, self._record.options).stats

    def _submit_pending(self) -> None:
        run_sync(self._arun_pending)

    async def _aadvance(self) -> bool:
        await self._arun_pending()

        def next_round() -> bool:
            with job_lease(self._store, self.id):
                return self._journal_retry_round()

        return not await asyncio.to_thread(next_round)

    async def _arun_pending(self) -> None:
        """Send every unanswered row of every unfinished shard, holding the job's lease."""
        async with _lease(self):
            job = self._store.get_job(self.id)
            shards = [s for s in self._store.get_shards(self.id) if not s.state.is_terminal]
            if not shards:
                return
            if job.cancel_requested:
                for shard in shards:
                    self._store.update_shard(self.id, shard.index, state=JobState.CANCELLED)
                return
            self._adapter.prepare()
            limiter = limiter_for(self.provider, job.options)
            progress = self.progress = RealtimeProgress(
                total=sum(s.request_count for s in shards), started=time.monotonic())
            for shard in shards:
                await self._run_shard(shard, limiter, progress)

    async def _run_shard(self, shard: ShardRecord, limiter: RateLimiter,
                         progress: RealtimeProgress) -> None:
        path = self.folder / f"shard-{shard.index:04d}.realtime.jsonl"
        self._store.update_shard(self.id, shard.index, state=JobState.RUNNING,
                                 vendor_status="realtime", result_paths=[str(path)])
        done = answered_ids(path, self._adapter.decode)
        progress.done += len(done)
        price = usage_pricer(self.provider, batch=False)
        rows = _rows(shard, done)
        out = _ResultFile(path)
        stop = asyncio.Event()

        def record(line: bytes) -> None:
            out.append(line)
            progress.done += 1
            with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
                usage = self._adapter.decode(line).usage
                if usage is not None:
                    progress.tokens += usage.input_tokens + usage.output_tokens
                    progress.cost_usd += price(usage) or 0.0

        async def worker() -> None:
            for line, tokens in rows:  # one shared iterator: each row goes to one worker
                if stop.is_set():
                    return
                answer = await _send_row(self._adapter, limiter, line, shard.group, tokens,
                                         progress)
                if answer is not None:
                    record(answer)

        try:
            async with _cancel_watch(self, stop):
                workers = [asyncio.create_task(worker()) for _ in range(limiter.max_concurrency)]
                try:
                    await asyncio.gather(*workers)
                except BaseException:
                    for task in workers:
                        task.cancel()
                    await asyncio.gather(*workers, return_exceptions=True)
                    raise
        finally:
            out.close()
        state = JobState.CANCELLED if stop.is_set() else JobState.COMPLETED
        self._store.update_shard(self.id, shard.index, state=state, vendor_status="realtime")


@contextlib.asynccontextmanager
async def _cancel_watch(job: Job, stop: asyncio.Event) -> AsyncIterator[None]:
    """Set ``stop`` once someone asks the store to cancel the job (checked every second)."""
    async def watch() -> None:
        while not stop.is_set():
            await asyncio.sleep(1.0)
            if await asyncio.to_thread(lambda: job._store.get_job(job.id).cancel_requested):
                stop.set()

    task = asyncio.create_task(watch())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def _lease(job: Job) -> AsyncIterator[None]:
    """The job's lease, held by a thread of its own for the block (the lease is per thread
    and taking it may wait, neither of which suits an event loop)."""
    taken, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold() -> None:
        try:
            with job_lease(job._store, job.id):
                taken.set()
                release.wait()
        except BaseException as exc:
            errors.append(exc)
            taken.set()

    holder = threading.Thread(target=hold, name=f"lease-holder-{job.id}", daemon=True)
    holder.start()
    await asyncio.to_thread(taken.wait)
    if errors:
        raise errors[0]
    try:
        yield
    finally:
        release.set()
        await asyncio.to_thread(holder.join)


def is_realtime(options: dict[str, Any]) -> bool:
    """Whether a job's options mark it real-time."""
    return options.get(MODE_OPTION) == "realtime"


MODES = ("batch", "realtime", "auto")
DEFAULT_REALTIME_BELOW = 100
"""``mode="auto"`` runs a job of at most this many requests in real time (option
``realtime_below``): below it, the batch discount saves less than a day's wait costs."""
DEFAULT_BATCH_WINDOW_S = 86_400.0
"""How long a batch may take (the vendors' 24-hour completion window; option
``batch_window_s``): ``auto`` runs a job with a shorter ``deadline_s`` in real time."""


def check_mode(mode: str, adapter: Adapter, options: dict[str, Any]) -> None:
    """Refuse an unknown mode, real time on an adapter without it, or a bad rate-limit
    option, before anything is recorded."""
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "realtime" and not adapter.supports_realtime:
        raise ConfigError(f"{adapter.name} has no real-time path in batchkit yet; "
                          "use mode='batch' (or 'auto', which falls back to batch)")
    if mode != "batch":
        check_rate_options(options)


def choose_mode(mode: str, adapter: Adapter, request_count: int, options: dict[str, Any],
                deadline_s: float | None) -> str:
    """``"batch"`` or ``"realtime"`` for a job of ``request_count`` requests (see MODES)."""
    if mode != "auto":
        return mode
    if not adapter.supports_realtime:
        return "batch"
    try:
        below = int(options.get("realtime_below", DEFAULT_REALTIME_BELOW))
        window = float(options.get("batch_window_s", DEFAULT_BATCH_WINDOW_S))
    except (TypeError, ValueError):
        raise ConfigError("options realtime_below and batch_window_s must be numbers, not "
                          f"{options.get('realtime_below')!r} / "
                          f"{options.get('batch_window_s')!r}") from None
    if request_count <= below or (deadline_s is not None and deadline_s < window):
        return "realtime"
    return "batch"


def realtime_token_counter(provider: str) -> QueueLimit:
    """A planner token count for real-time rows: input tokens as the cost module counts them
    plus the request's ``max_tokens`` (what vendors charge against a tokens-per-minute limit),
    journaled with each row so a resumed run paces itself the same way."""
    try:
        spec = load_catalog().get(provider).tokenizer
    except UnknownProviderError:
        spec = "chars:4"
    counter = counter_for(spec)

    def count(request: Request) -> int:
        out = (request.max_tokens or DEFAULT_MAX_TOKENS) if isinstance(request, ChatRequest) \
            else 0
        return int(counter.count(request).tokens) + out

    return QueueLimit(2**62, provider, count)
