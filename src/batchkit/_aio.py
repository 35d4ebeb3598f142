"""The async API: ``asubmit``, ``arun``, ``aresume`` and the Job's ``await_done`` / ``stream``.

The sync API stays the simple one; these are the same operations for code that lives in an
event loop. A batch job is followed by polling with ``asyncio.sleep`` between polls, each
vendor call (SDKs without an async client) on a worker thread; a real-time job sends its rows
from the loop itself (see ``_realtime``). Planning a job reads the caller's requests, which may
be a plain generator, so it runs on a worker thread too: the loop never stalls on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from ._clock import Backoff
from ._results import Result, ResultSet

if TYPE_CHECKING:
    from ._job import Job
    from ._requests import Request

__all__ = ["AsyncJobMixin", "arun", "asubmit"]

_STREAM_CHUNK = 256
"""Results read per worker-thread hop while streaming."""


class AsyncJobMixin:
    """The awaitable half of :class:`~batchkit.Job`."""

    async def _aadvance(self: Job) -> bool:  # type: ignore[misc]
        """One step of :meth:`Job.wait`'s loop, off the loop; True once nothing is left."""
        def step() -> bool:
            if any(s.remote_id is None and not s.state.is_terminal for s in self.shards):
                self._submit_pending()
            if self.refresh().is_terminal:
                return not self._start_retry_round()
            return False

        return await asyncio.to_thread(step)

    async def await_done(  # type: ignore[misc]
        self: Job, *, timeout: float | None = None, raise_on_failure: bool = True
    ) -> Job:
        """:meth:`Job.wait` for an event loop: other coroutines run while the job goes on."""
        backoff = Backoff(initial=self._adapter.poll_interval())
        loop = asyncio.get_running_loop()
        start = loop.time()
        while not await self._aadvance():
            if timeout is not None and loop.time() - start >= timeout:
                raise TimeoutError(f"job {self.id} still {self.state.value} after {timeout}s")
            await asyncio.sleep(backoff.next_delay())
        if raise_on_failure:
            self._raise_if_rejected()
        return self

    async def stream(self: Job) -> AsyncIterator[Result]:  # type: ignore[misc]
        """Every request's Result in input order, once the job is done (awaited here)."""
        await self.await_done(raise_on_failure=False)
        results = self.iter_results()
        while True:
            chunk = await asyncio.to_thread(_take, results, _STREAM_CHUNK)
            for result in chunk:
                yield result
            if len(chunk) < _STREAM_CHUNK:
                return

    async def aresults(self: Job) -> ResultSet:  # type: ignore[misc]
        """:meth:`Job.results` off the loop (decoding a big job takes a while)."""
        return await asyncio.to_thread(self.results)


def _take(results: Any, count: int) -> list[Result]:
    chunk: list[Result] = []
    for result in results:
        chunk.append(result)
        if len(chunk) == count:
            break
    return chunk


async def asubmit(requests: Iterable[Request], provider: str | None = None,
                  **kwargs: Any) -> Job:
    """:func:`batchkit.submit` for an event loop (same arguments, including ``mode``)."""
    from ._submit import submit

    return await asyncio.to_thread(submit, requests, provider, **kwargs)


async def aresume(job_id: str, **kwargs: Any) -> Job:
    """:func:`batchkit.resume` for an event loop; then ``await job.await_done()``."""
    from ._submit import resume

    return await asyncio.to_thread(resume, job_id, **kwargs)


async def arun(requests: Iterable[Request], provider: str | None = None, *,
               timeout: float | None = None, **kwargs: Any) -> ResultSet:
    """:func:`batchkit.run` for an event loop: submit, await, results."""
    job = await asubmit(requests, provider, **kwargs)
    await job.await_done(timeout=timeout)
    return await job.aresults()
