"""The deferrable operator: submit a request file, wait in the triggerer, collect the results."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from ..._exceptions import BatchkitError
from ..._export import write_jsonl, write_parquet, write_parquet_dataset
from ..._readers import read_requests
from ..._results import Result
from ..._submit import get_job, submit
from ._compat import BaseOperator
from .triggers import BatchkitJobTrigger, advance_job

__all__ = ["BatchkitOperator"]


class BatchkitOperator(BaseOperator):  # type: ignore[misc]
    """Run the requests in ``source`` (a path or fsspec URL) as one batchkit job on ``provider``.

    ``execute`` validates and submits the job (nothing is sent if a request is invalid), then
    defers to :class:`BatchkitJobTrigger`; the task holds no worker slot until the job is
    finished. ``execute_complete`` then streams the results, in input order, to ``destination``:
    ``.parquet`` for one Parquet file, a name ending in ``/`` for a partitioned Parquet
    dataset, anything else for JSONL. It returns ``{"job_id", "state", "counts", "output"}``
    (the XCom; ``output`` is the destination). ``deferrable=False`` waits in the worker
    instead (for executors without a triggerer).

    ``retry`` and ``max_cost_usd`` are :func:`batchkit.submit`'s. An Airflow retry of this
    task runs ``execute`` again and submits a new job, so keep the task's own ``retries`` at 0
    and let ``retry`` resend the requests that failed for a passing reason.
    """

    template_fields: Sequence[str] = ("source", "destination", "provider")

    def __init__(self, *, source: str, provider: str, destination: str | None = None,
                 kind: str | None = None, options: dict[str, Any] | None = None,
                 store: str | None = None, retry: int = 0, max_cost_usd: float | None = None,
                 poll_interval: float = 60.0, deferrable: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.retry = retry
        self.max_cost_usd = max_cost_usd
        self.source = source
        self.provider = provider
        self.destination = destination
        self.kind = kind
        self.options = options
        self.store = store
        self.poll_interval = poll_interval
        self.deferrable = deferrable

    def execute(self, context: Any) -> Any:
        requests = read_requests(self.source, kind=self.kind)  # type: ignore[arg-type]
        job = submit(requests, self.provider, options=self.options, store=self.store,
                     retry=self.retry, max_cost_usd=self.max_cost_usd)
        self.log.info("batchkit job %s: %d requests submitted to %s", job.id,
                      job.request_count, job.provider)
        if not self.deferrable:
            while (state := advance_job(job.id, self.store)) is None:
                time.sleep(self.poll_interval)
            return self._collect(job.id, state)
        self.defer(trigger=BatchkitJobTrigger(job.id, self.poll_interval, self.store),
                   method_name="execute_complete")
        return None  # not reached: defer() raises Airflow's TaskDeferred

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        if "error" in event:
            raise BatchkitError(f"job {event['job_id']}: {event['error']}")
        return self._collect(str(event["job_id"]), str(event["state"]))

    def _collect(self, job_id: str, state: str) -> dict[str, Any]:
        job = get_job(job_id, store=self.store)
        counts: Counter[str] = Counter()

        def tallied() -> Iterator[Result]:
            for result in job.iter_results():
                counts[result.status] += 1
                yield result

        where = self.destination
        if where is None:
            for _ in tallied():
                pass
        elif where.endswith("/"):
            write_parquet_dataset(tallied(), where, existing="overwrite_or_ignore")
        elif where.lower().endswith(".parquet"):
            write_parquet(tallied(), where)
        else:
            write_jsonl(tallied(), where)
        self.log.info("batchkit job %s %s: %s", job_id, state, dict(counts))
        return {"job_id": job_id, "state": state, "counts": dict(counts),
                "output": where}
