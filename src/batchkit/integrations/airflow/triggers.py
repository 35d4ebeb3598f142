"""The trigger a deferred batchkit task waits on, in Airflow's triggerer (no worker slot)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from ..._submit import get_job
from ._compat import BaseTrigger, TriggerEvent

__all__ = ["BatchkitJobTrigger", "advance_job"]


def advance_job(job_id: str, store: str | None = None) -> str | None:
    """One step of ``Job.wait``: send journaled leftovers, poll every live shard once, start a
    due retry round. Returns the job's final state, or None while it is still going."""
    job = get_job(job_id, store=store)
    try:
        job.wait(timeout=0, raise_on_failure=False)
    except TimeoutError:  # wait's one pass ended with the job still open
        return None
    return job.state.value


class BatchkitJobTrigger(BaseTrigger):  # type: ignore[misc]
    """Advance job ``job_id`` every ``poll_interval`` seconds until it is finished, then fire
    one event ``{"job_id", "state"}`` (or ``{"job_id", "error"}`` if a step raised).

    Each step runs in a thread (``asyncio.to_thread``): the store and the vendor SDKs are
    synchronous, and the triggerer's event loop serves many triggers at once.
    """

    def __init__(self, job_id: str, poll_interval: float = 60.0,
                 store: str | None = None) -> None:
        super().__init__()
        self.job_id = job_id
        self.poll_interval = poll_interval
        self.store = store

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}",
                {"job_id": self.job_id, "poll_interval": self.poll_interval,
                 "store": self.store})

    async def run(self) -> AsyncIterator[Any]:
        while True:
            try:
                state = await asyncio.to_thread(advance_job, self.job_id, self.store)
            except Exception as exc:  # the task fails with batchkit's one-line message
                yield TriggerEvent({"job_id": self.job_id, "error": f"{type(exc).__name__}: "
                                                                    f"{exc}"})
                return
            if state is not None:
                yield TriggerEvent({"job_id": self.job_id, "state": state})
                return
            await asyncio.sleep(self.poll_interval)
