"""The progress bar of :meth:`Job.wait` (``progress=True``): shards finished out of all."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._job import Job

__all__ = ["job_progress"]


@contextlib.contextmanager
def job_progress(enabled: bool, job: Job) -> Iterator[Callable[[Job], Any]]:
    """Yields ``update(job)`` to call after each poll; a no-op when ``enabled`` is False, so
    rich is imported only for a bar that is shown."""
    if not enabled:
        yield lambda _job: None
        return
    from rich.progress import Progress

    with Progress(transient=False) as bar:
        task = bar.add_task(f"{job.id}", total=len(job.shards))

        def update(current: Job) -> None:
            shards = current.shards
            done = sum(s.state.is_terminal for s in shards)
            bar.update(task, completed=done, description=f"{current.id} {current.state.value}")

        yield update
