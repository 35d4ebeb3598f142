"""Wait for a batchkit job submitted elsewhere (another task, a script, ``batchkit submit``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..._exceptions import BatchkitError
from ._compat import BaseSensorOperator
from .triggers import BatchkitJobTrigger, advance_job

__all__ = ["BatchkitJobSensor"]


class BatchkitJobSensor(BaseSensorOperator):  # type: ignore[misc]
    """Succeeds when job ``job_id`` is finished (completed, expired, failed or cancelled), and
    returns its final state. Each poke advances the job one step (see ``advance_job``).

    ``deferrable=True`` waits in the triggerer instead of poking from a worker slot.
    """

    template_fields: Sequence[str] = ("job_id",)

    def __init__(self, *, job_id: str, store: str | None = None, deferrable: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.store = store
        self.deferrable = deferrable

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        self.defer(trigger=BatchkitJobTrigger(self.job_id, self.poke_interval, self.store),
                   method_name="execute_complete")
        return None

    def poke(self, context: Any) -> bool:
        state = advance_job(self.job_id, self.store)
        self.log.info("batchkit job %s: %s", self.job_id, state or "still running")
        return state is not None

    def execute_complete(self, context: Any, event: dict[str, Any]) -> str:
        if "error" in event:
            raise BatchkitError(f"job {event['job_id']}: {event['error']}")
        return str(event["state"])
