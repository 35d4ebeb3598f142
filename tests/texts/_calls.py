"""Count every HTTP call the emulators receive, so a refusal can be shown to send nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import batchkit as bk
from batchkit.testing import emulate


@contextmanager
def counted(vendor: str) -> Iterator[Callable[[], int]]:
    """The emulators of ``vendor`` (and its storage, e.g. S3 for Bedrock) with every app's
    ``handle`` wrapped; yields a function returning the calls so far, and asserts on the way
    out that no job was recorded meanwhile."""
    calls = [0]
    with emulate(providers=[vendor]) as handle:
        for app in handle.apps.values():
            app.handle = _counting(app.handle, calls)
        jobs = len(bk.list_jobs())
        yield lambda: calls[0]
        assert len(bk.list_jobs()) == jobs, "a refused job was recorded"


def _counting(handle: Callable[[Any], Any], calls: list[int]) -> Callable[[Any], Any]:
    def counting(request: Any) -> Any:
        calls[0] += 1
        return handle(request)
    return counting
