"""Job leases: one holder at a time may submit, collect or plan a retry round of a job.

The lease is a row-level claim in the store (``jobs.lease_owner`` / ``lease_expires``), so it
holds across threads, processes and machines alike, on SQLite and PostgreSQL. While held, a
heartbeat thread extends it every third of its length; a holder that dies stops extending it,
and once it has expired anyone may take it. On the holder's own machine a dead holder's lease
is taken at once (its process id is gone), so a crash on a laptop does not make the next
``batchkit wait`` sit out the expiry.

Handing a job over cannot make a shard paid twice: a shard whose create was started is looked
up at the vendor by its idempotency key before it is sent again (see ``_job``).

Leases are re-entrant within a thread: a worker holding a job's lease may call the Job methods
that take it themselves.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ._exceptions import ConfigError
from .store import SQLStore

__all__ = ["job_lease", "lease_seconds"]

DEFAULT_LEASE_SECONDS = 30.0
"""How long a lease lasts without a heartbeat: long enough to ride out a stalled connection,
short enough that a dead worker's jobs are picked up within the minute."""
_WAIT_STEP = 0.05
_HOST = socket.gethostname()
_log = logging.getLogger("batchkit.lease")
_held = threading.local()


def lease_seconds() -> float:
    """``BATCHKIT_LEASE_SECONDS``, or the default."""
    raw = os.environ.get("BATCHKIT_LEASE_SECONDS")
    if not raw:
        return DEFAULT_LEASE_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if seconds < 0.3:
        raise ConfigError(f"BATCHKIT_LEASE_SECONDS must be a number of seconds >= 0.3, not {raw!r}")
    return seconds


def _depths() -> dict[str, int]:
    if not hasattr(_held, "depths"):
        _held.depths = {}
    depths: dict[str, int] = _held.depths
    return depths


@contextmanager
def job_lease(store: SQLStore, job_id: str, *, wait: bool = True) -> Iterator[bool]:
    """Hold the job's lease for the block; yields True once held.

    With ``wait=False`` yields False at once when someone else holds it (a worker then moves on
    to another job); otherwise waits until it is free or expired.
    """
    depths = _depths()
    if depths.get(job_id):
        depths[job_id] += 1
        try:
            yield True
        finally:
            depths[job_id] -= 1
        return
    owner = f"{_HOST}:{os.getpid()}:{secrets.token_hex(6)}"
    seconds = lease_seconds()
    if not _take(store, job_id, owner, seconds, wait):
        yield False
        return
    depths[job_id] = 1
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(store, job_id, owner, seconds, stop),
                            name=f"lease-{job_id}", daemon=True)
    beat.start()
    try:
        yield True
    finally:
        stop.set()
        beat.join()
        del depths[job_id]
        store.release_lease(job_id, owner)


def _take(store: SQLStore, job_id: str, owner: str, seconds: float, wait: bool) -> bool:
    while True:
        if store.take_lease(job_id, owner, seconds):
            return True
        holder = store.lease_holder(job_id)
        if holder is None:  # released meanwhile, or no such job (which raises here)
            store.get_job(job_id)
        elif _dead_here(holder) and store.take_lease(job_id, owner, seconds, replacing=holder):
            return True
        if not wait:
            return False
        time.sleep(_WAIT_STEP)


def _dead_here(holder: str) -> bool:
    """True if ``holder`` was a process on this machine that no longer runs."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != _HOST or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def _heartbeat(
    store: SQLStore, job_id: str, owner: str, seconds: float, stop: threading.Event
) -> None:
    while not stop.wait(seconds / 3):
        try:
            if not store.renew_lease(job_id, owner, seconds):
                _log.warning("lease on job %s lost: another holder took it after it expired",
                             job_id)
                return
        except Exception as exc:  # a passing store outage: the next beat tries again
            _log.warning("lease on job %s not renewed: %s", job_id, exc)
