"""Transparent batching behind an ordinary awaited call: ``await batcher.complete(request)``.

Many coroutines (agents, request handlers) each await one request; the Batcher gathers them
and flushes a job when ``max_size`` requests wait or the oldest has waited ``max_wait_s``. Each
job is planned, journaled and sent like any other (so it is crash-safe and counted once), and
when it returns every caller gets the Result of its own request, under its own ``custom_id``.

* Identical requests (same id and content) awaited at once share one row of the job.
* Cancelling one caller cancels only its own wait: the job goes on for the others.
* ``mode="auto"``: a caller with a ``deadline_s`` shorter than a batch can promise is sent in
  real time at once instead of waiting for a flush.
* Crash between flush and result: every job a Batcher flushes carries the Batcher's name in
  its recorded options, and is marked settled in the store once its results were handed out.
  ``await batcher.recover()`` (also run by ``async with``) resumes the named Batcher's
  unsettled jobs; a caller that awaits one of their requests again is answered from that job
  instead of buying the request a second time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Awaitable
from typing import Any

from ._aio import arun, asubmit
from ._exceptions import ConfigError
from ._job import Job
from ._plan import read_request_records
from ._requests import ChatRequest, EmbedRequest, Request
from ._results import Result
from ._submit import StoreArg, get_job, resolve_store

__all__ = ["Batcher"]

_TAG = "batcher"
"""The job option that names the Batcher a job belongs to."""


def _key(request: Request) -> str:
    """The id a request travels under inside a Batcher's job: its caller id and content, so
    the same request awaited again (after a crash) finds the row already bought."""
    body = request.model_dump_json(exclude={"metadata", "response_model"})
    digest = hashlib.blake2b(f"{request.kind}|{body}".encode(), digest_size=12).hexdigest()
    return f"bk{digest}"


class Batcher:
    """Gathers awaited requests into jobs; see the module docstring."""

    def __init__(
        self,
        provider: str,
        *,
        max_size: int = 1000,
        max_wait_s: float = 5.0,
        mode: str = "batch",
        name: str | None = None,
        options: dict[str, Any] | None = None,
        store: StoreArg = None,
        **submit_kwargs: Any,
    ) -> None:
        if mode not in ("batch", "auto"):
            raise ConfigError(f"Batcher mode must be 'batch' or 'auto', not {mode!r}")
        if max_size < 1 or max_wait_s < 0:
            raise ConfigError("Batcher needs max_size >= 1 and max_wait_s >= 0")
        self.provider, self.max_size, self.max_wait_s, self.mode = (
            provider, max_size, max_wait_s, mode)
        self.name = name or f"batcher:{provider}"
        self._options = {**(options or {}), _TAG: self.name}
        self._store = resolve_store(store)
        self._submit_kwargs = submit_kwargs
        self._pending: dict[str, tuple[Request, list[asyncio.Future[Result]]]] = {}
        self._timer: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._recovered: dict[str, asyncio.Future[Result]] = {}
        self._attached: set[str] = set()
        self.jobs: list[str] = []
        """Ids of the jobs this Batcher flushed (in this process), in order."""

    async def __aenter__(self) -> Batcher:
        """Re-attach to the jobs a crashed run of this Batcher left (see :meth:`recover`)."""
        await self.recover()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- callers -----------------------------------------------------------------------------

    async def complete(self, request: ChatRequest, *, deadline_s: float | None = None) -> Result:
        """The Result of one chat request, once its job returns."""
        return await self._submit_one(request, deadline_s)

    async def embed(self, request: EmbedRequest, *, deadline_s: float | None = None) -> Result:
        """The Result of one embedding request, once its job returns."""
        return await self._submit_one(request, deadline_s)

    async def _submit_one(self, request: Request, deadline_s: float | None) -> Result:
        key = _key(request)
        inner = request.model_copy(update={"custom_id": key})
        if key in self._recovered:
            return _as_callers(await asyncio.shield(self._recovered[key]), request)
        if self.mode == "auto" and deadline_s is not None and deadline_s < self.max_wait_s + \
                float(self._options.get("batch_window_s", 86_400)):
            results = await arun([inner], self.provider, mode="realtime", options=self._options,
                                 store=self._store, **self._submit_kwargs)
            return _as_callers(results[0], request)
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        entry = self._pending.setdefault(key, (inner, []))
        entry[1].append(future)
        if len(self._pending) >= self.max_size:
            self._flush()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._flush_later())
        return _as_callers(await future, request)

    # -- flushing ----------------------------------------------------------------------------

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.max_wait_s)
        self._timer = None
        self._flush()

    def _flush(self) -> None:
        """Send what waits as one job (in the background; callers keep awaiting)."""
        if self._timer is not None and self._timer is not asyncio.current_task():
            self._timer.cancel()
        self._timer = None
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        self._spawn(self._run_job(batch))

    async def flush(self) -> None:
        """Send what waits now, without waiting for size or time."""
        self._flush()

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_job(self, batch: dict[str, tuple[Request, list[asyncio.Future[Result]]]]
                       ) -> None:
        try:
            job = await asubmit([request for request, _ in batch.values()], self.provider,
                                mode=self.mode, options=self._options, store=self._store,
                                **self._submit_kwargs)
            self.jobs.append(job.id)
            await self._deliver(job, {key: waiters for key, (_, waiters) in batch.items()})
        except Exception as exc:  # every caller of the job hears it
            for _, waiters in batch.values():
                for future in waiters:
                    if not future.done():
                        future.set_exception(exc)

    async def _deliver(self, job: Job, waiters: dict[str, list[asyncio.Future[Result]]]) -> None:
        await job.await_done(raise_on_failure=False)
        async for result in job.stream():
            for future in waiters.get(result.custom_id, ()):
                if not future.done():  # a cancelled caller's future is done already
                    future.set_result(result)
        await asyncio.to_thread(self._store.settle, job.id)

    # -- after a crash -----------------------------------------------------------------------

    async def recover(self) -> list[Job]:
        """Resume this Batcher's jobs that were flushed but never handed out (a crash);
        their requests, awaited again, are answered from them. Returns those jobs."""
        def find() -> list[tuple[Job, list[str]]]:
            found = []
            for job_id in self._store.unsettled_jobs():
                record = self._store.get_job(job_id)
                if record.options.get(_TAG) != self.name or job_id in self._attached:
                    continue
                job = get_job(job_id, store=self._store)
                keys = [rec.custom_id for shard in job.shards if shard.attempt == 1
                        for rec in read_request_records(shard.requests_path)]
                found.append((job, keys))
            return found

        loop = asyncio.get_running_loop()
        jobs = []
        for job, keys in await asyncio.to_thread(find):
            self._attached.add(job.id)
            futures = {key: loop.create_future() for key in keys}
            self._recovered.update(futures)
            self._spawn(self._deliver_recovered(job, futures))
            jobs.append(job)
        return jobs

    async def _deliver_recovered(self, job: Job, futures: dict[str, asyncio.Future[Result]]
                                 ) -> None:
        try:
            await self._deliver(job, {key: [future] for key, future in futures.items()})
        except Exception as exc:
            for future in futures.values():
                if not future.done():
                    future.set_exception(exc)

    async def aclose(self) -> None:
        """Flush what waits and wait for every job to be handed out."""
        self._flush()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _as_callers(result: Result, request: Request) -> Result:
    """A job's Result under the caller's own id and metadata."""
    return dataclasses.replace(result, custom_id=request.custom_id, metadata=request.metadata)
