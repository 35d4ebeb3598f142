"""Decoding a multi-shard job's result files on several cores: this process and forked ones.

Why: decoding is CPU work (a 1,536-float embedding line is some 1,536 float texts to parse) and
a job's shards are independent files, so on idle cores a job of several shards decodes in about
1/cores of the time. With N processes this one decodes every N-th shard itself, as it would
alone (its results are never copied), and N - 1 forked processes decode the others, a few
shards ahead of the reader, so results in waiting stay a few shards' worth however big the job.
A forked process starts with the job's collector (adapter, response models, retry rounds
already read), so nothing is sent to it; it sends back its shard's results with their vectors
moved out to a file of float32 rows, which this process maps (``np.memmap``, copy-on-write)
and hands out as rows of that map: vectors cross the process boundary through the page cache,
not through a pipe, and never sit in this process's heap.

It is used where it is exact: a first round whose index has no duplicate or cached rows
(those share one result across shards, so a shard cannot be decoded alone), several shards,
and the ``fork`` start method. A forked process that dies is no lost shard: its shards are
decoded here instead, with one warning line. How many processes: ``decode_processes``.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._exceptions import ConfigError

if TYPE_CHECKING:
    from ._results import Result
    from .store import ShardRecord

__all__ = ["decode_processes", "shards_in_processes"]

ShardDecoder = Callable[["ShardRecord"], Iterator[tuple[int, "Result"]]]
Stream = tuple[str, Iterator[tuple[int, "Result"]]]
_Moved = tuple[list[int], int] | None
"""Which pairs' vectors went to the shard's row file, and their length (None: none went)."""
_Shard = tuple[list[tuple[int, "Result"]], list[Any], _Moved]
"""What a forked process sends back: the pairs, the lines no request claimed, the moved rows."""

_WORK: tuple[ShardDecoder, list[ShardRecord], list[Any], Path] | None = None
"""What the forked processes decode, and where they put vectors: set before the fork,
inherited, never pickled."""
_PAYS_FROM = 32 << 20
"""Result bytes from which a job decodes on several cores unless told: forking costs some
10-80 ms (more for a process holding more memory)."""
_ROW_PAYS_FROM = 4 << 10
"""Result bytes a request from which it does: a result sent back costs some 20 us to pickle
and unpickle, and decoding some 3.4 us a KB of line (a 1,536-float line, 21 KB: 70 us), so a
line of 4 KB (a chat reply, some 1-2 KB, stays here) is the least where two processes are
1.2x one on two idle cores."""
_log = logging.getLogger("batchkit.decode")


def decode_processes(shards: int, requests: int, result_bytes: Callable[[], int]) -> int:
    """How many processes decode a job's ``shards`` shards of ``requests`` (1: this one alone).

    ``BATCHKIT_DECODE_PROCESSES=N`` asks for N (1 turns it off). Unset, a job of at least
    32 MB of results and 4 KB a request (``result_bytes()``, asked only then) uses the cores
    this process may run on that other programs leave idle (by the 1-minute load average): on
    cores other programs hold, forked processes only wait for them. Unset, a process with
    threads running (a fork copies only the calling thread, and a lock another thread held
    stays locked in the copy) or a daemonic one (it may not have children) stays alone. Never
    more processes than shards, and 1 where ``fork`` is not available."""
    wanted = os.environ.get("BATCHKIT_DECODE_PROCESSES", "")
    try:
        cap = int(wanted) if wanted else None
    except ValueError:
        raise ConfigError("BATCHKIT_DECODE_PROCESSES must be a whole number of processes, "
                          f"not {wanted!r}") from None
    if shards < 2 or "fork" not in multiprocessing.get_all_start_methods() or cap == 1:
        return 1
    if cap is None:
        if threading.active_count() > 1 or multiprocessing.current_process().daemon:
            return 1
        size = result_bytes()
        if size < _PAYS_FROM or size < _ROW_PAYS_FROM * requests:
            return 1
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1)
        cap = int(cores - os.getloadavg()[0] + 0.5)
    return max(1, min(cap, shards))


def file_bytes(paths: Iterable[Path]) -> int:
    """The size of the files that exist among ``paths``."""
    total = 0
    for path in paths:
        with suppress(OSError):
            total += os.stat(path).st_size
    return total


@contextmanager
def shards_in_processes(decode: ShardDecoder, shards: list[ShardRecord], unmatched: list[Any],
                        processes: int) -> Iterator[list[Stream]]:
    """Per shard, ``(group, stream of (position, Result))``: every ``processes``-th shard from
    the first decoded here as its stream is read, the others by ``processes - 1`` forked
    processes, a few shards ahead of the reader (each such stream waits for its shard).
    Vendor lines matching no request are added to ``unmatched`` as each shard's stream is
    read. The processes end, and their row files go, when the block does."""
    global _WORK
    folder = Path(tempfile.mkdtemp(prefix="batchkit-decode-"))
    _WORK = (decode, shards, unmatched, folder)
    ahead = _Ahead(ProcessPoolExecutor(processes - 1,
                                       mp_context=multiprocessing.get_context("fork")),
                   [i for i in range(len(shards)) if i % processes], 2 * (processes - 1))
    try:
        yield [(shard.group, decode(shard) if i % processes == 0 else _stream(
                    ahead, i, functools.partial(decode, shard), unmatched, folder / f"{i}.f32"))
               for i, shard in enumerate(shards)]
    finally:
        _WORK = None
        ahead.pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(folder, ignore_errors=True)


class _Ahead:
    """The forked processes' shards, sent ``window`` at a time: one more each time a stream
    takes one, so results wait in memory for a few shards at most, however many the job has."""

    def __init__(self, pool: ProcessPoolExecutor, shards: list[int], window: int) -> None:
        self.pool, self.waiting = pool, shards
        self.sent: dict[int, Future[_Shard]] = {}
        for _ in range(window):
            self._send_next()

    def _send_next(self) -> None:
        if self.waiting:
            index = self.waiting.pop(0)
            self.sent[index] = self.pool.submit(_decode_shard, index)

    def take(self, index: int) -> Future[_Shard]:
        """Shard ``index``'s decoding (sent now if the reader came to it first)."""
        if index not in self.sent:
            self.waiting.remove(index)
            self.sent[index] = self.pool.submit(_decode_shard, index)
        self._send_next()
        return self.sent.pop(index)


def _stream(ahead: _Ahead, index: int, here: Callable[[], Iterator[tuple[int, Result]]],
            unmatched: list[Any], rows_file: Path) -> Iterator[tuple[int, Result]]:
    try:
        pairs, strays, moved = ahead.take(index).result()
    except BrokenProcessPool as exc:  # the process died (killed, out of memory): redo it here
        _log.warning("a process decoding a shard ended unexpectedly (%s); decoding that shard "
                     "in this process", exc)
        yield from here()
        return
    unmatched.extend(strays)
    if moved is not None:  # each result's vector back, as a row of the file it was put in
        at, length = moved
        matrix = np.asarray(np.memmap(rows_file, dtype=np.float32, mode="c",
                                      shape=(len(at), length)))
        rows_file.unlink()  # mapped: the rows stay while a result holds one
        for row, index in enumerate(at):
            pairs[index][1].embedding = matrix[row]
    yield from pairs


def _decode_shard(index: int) -> _Shard:
    """In a forked process: shard ``index``'s pairs, the lines of it that matched no request,
    and which pairs' vectors were moved to the shard's row file."""
    assert _WORK is not None, "set before the fork"
    decode, shards, unmatched, folder = _WORK
    before = len(unmatched)
    pairs = list(decode(shards[index]))
    strays = unmatched[before:]
    del unmatched[before:]
    return pairs, strays, _move_vectors(pairs, folder / f"{index}.f32")


def _move_vectors(pairs: list[tuple[int, Result]], rows_file: Path) -> _Moved:
    """Write the results' float32 vectors to ``rows_file``, one row each, and empty their
    ``embedding``: thousands of small arrays cost as much to pickle as to decode. Left in
    place unless every vector is one float32 row of one length."""
    vectors = [(at, r.embedding) for at, (_, r) in enumerate(pairs) if r.embedding is not None]
    if not vectors or any(v.dtype != np.float32 or v.ndim != 1 or len(v) != len(vectors[0][1])
                          for _, v in vectors):
        return None
    with open(rows_file, "wb") as fh:
        for at, vector in vectors:
            fh.write(vector.data)
            pairs[at][1].embedding = None
    return [at for at, _ in vectors], len(vectors[0][1])
