"""Decoding a multi-shard job's result files on several cores: this process and forked ones.

Why: decoding is CPU work (a 1,536-float embedding line is some 1,536 float texts to parse) and
a job's shards are independent files, so on idle cores a job of several shards decodes in about
1/cores of the time. With N processes this one decodes the last shard and every N-th before
it, as it would alone (its results are never copied), and N - 1 forked processes decode the
others, a few shards ahead of the reader, so results in waiting stay a few shards' worth
however big the job.
A forked process starts with the job's collector (adapter, response models, retry rounds
already read), so nothing is sent to it; it sends back its shard's results with their vectors
moved out to a file of float32 rows, which this process maps (``np.memmap``, copy-on-write)
and hands out as rows of that map: vectors cross the process boundary through the page cache,
not through a pipe, and never sit in this process's heap.

Shards are big units: on their own, one process would end a few of them before the other
and wait (this one also has the others' results to take in). So the shards this process
decodes are cut into pieces of about a megabyte of lines, which it takes from the front, also
ahead of its turn while it waits for a forked process's shard; a forked process with no shard
left takes them from the back (``_Claims``), until the two meet. The last shard being this
one's, neither waits long for the other at the end.

It is used where it is exact: a first round whose index has no duplicate or cached rows
(those share one result across shards, so a shard cannot be decoded alone), several shards,
and the ``fork`` start method. A forked process that dies is no lost shard: its shards are
decoded here instead, with one warning line. How many processes: ``decode_processes``.
"""

from __future__ import annotations

import functools
import gc
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
from ._normalize import Fill, decode_piece, filed_by_id
from ._results import gc_paused

if TYPE_CHECKING:
    from multiprocessing.sharedctypes import SynchronizedArray

    from ._results import Result
    from .store import ShardRecord

__all__ = ["decode_processes", "shards_in_processes"]

ShardDecoder = Callable[["ShardRecord", Fill | None], Iterator[tuple[int, "Result"]]]
"""A shard's ``(position, Result)`` pairs; given a ``Fill``, its lines are decoded by that."""
Stream = tuple[str, Iterator[tuple[int, "Result"]]]
Piece = tuple[Path, int, int]
"""Lines of a result file: its path, the first line's first byte, the byte after the last."""
_Moved = tuple[list[int], int] | None
"""Which results' vectors went to a row file, and their length (None: none went)."""
_Shard = tuple[list[tuple[int, "Result"]], list[Any], _Moved]
"""What a forked process sends back for a shard: the pairs, the lines no request claimed,
the moved rows."""
_Pieces = tuple[list["Result"], list[Any], _Moved]
"""What it sends back for the pieces it took of one of this process's shards: their Results
in file order, their unreadable lines, the moved rows."""


class _Work:
    """What the forked processes decode, and where they put vectors: set before the fork,
    inherited, never pickled."""

    def __init__(self, decode: ShardDecoder, decode_line: Callable[[bytes], Result],
                 shards: list[ShardRecord], unmatched: list[Any], folder: Path,
                 pieces: dict[int, list[Piece]]) -> None:
        self.decode, self.decode_line, self.shards = decode, decode_line, shards
        self.unmatched, self.folder, self.pieces = unmatched, folder, pieces
        self.claims = _Claims({index: len(cut) for index, cut in pieces.items()})
        self.early: dict[int, tuple[list[Result], list[Any]]] = {i: ([], []) for i in pieces}
        """Per shard of this process's, the Results and unreadable lines of the pieces it
        decoded ahead of the shard's turn (``_decode_ahead``)."""


_WORK: _Work | None = None
_PIECE_BYTES = 1 << 20
"""About how many bytes of lines a piece holds: the most this process waits for at a shard's
end is a forked process decoding one (some 50 float-text embedding lines, 4 ms)."""
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
def shards_in_processes(decode: ShardDecoder, decode_line: Callable[[bytes], Result],
                        shards: list[ShardRecord], unmatched: list[Any],
                        processes: int) -> Iterator[list[Stream]]:
    """Per shard, ``(group, stream of (position, Result))``: the last shard and every
    ``processes``-th before it decoded here as its stream is read (with ``decode_line``, by
    pieces, see ``_Claims``), the others by ``processes - 1`` forked processes, a few shards
    ahead of the reader (each such stream waits for its shard). Vendor lines matching no
    request are added to ``unmatched`` as each shard's stream is read. The processes end, and
    their row files go, when the block does."""
    global _WORK
    folder = Path(tempfile.mkdtemp(prefix="batchkit-decode-"))
    here = [i for i in range(len(shards)) if (len(shards) - 1 - i) % processes == 0]
    _WORK = work = _Work(decode, decode_line, shards, unmatched, folder,
                         {i: _cut(shards[i].result_paths or []) for i in here})
    tasks = [(_decode_shard, i) for i in range(len(shards)) if i not in work.pieces]
    # a forked process's collector would walk (and so copy) every object it shares with this
    # one, for nothing: its Results hold no cycles, and it ends with the block
    ahead = _Ahead(ProcessPoolExecutor(processes - 1, initializer=gc.disable,
                                       mp_context=multiprocessing.get_context("fork")),
                   tasks + [(_help, i) for i in here], 2 * (processes - 1))
    try:
        yield [(shard.group, decode(shard, _fill_here(work, ahead, i)) if i in work.pieces
                else _stream(work, ahead, i, functools.partial(decode, shard, None),
                             folder / f"{i}.f32"))
               for i, shard in enumerate(shards)]
    finally:
        _WORK = None
        ahead.pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(folder, ignore_errors=True)


def _cut(paths: list[str]) -> list[Piece]:
    """A shard's result files in pieces of whole lines, about ``_PIECE_BYTES`` each."""
    pieces = []
    for name in paths:
        path = Path(name)
        with open(path, "rb") as fh:
            end, start = fh.seek(0, os.SEEK_END), 0
            while start < end:
                fh.seek(min(start + _PIECE_BYTES, end))
                fh.readline()  # on to the next line's start
                pieces.append((path, start, fh.tell()))
                start = fh.tell()
    return pieces


class _Claims:
    """Which pieces of each of this process's shards are taken: this process takes them from
    the front as it reads the shard, a forked process with no shard of its own left from the
    back, one at a time, under a lock; the counts live in memory shared through the fork."""

    def __init__(self, counts: dict[int, int]) -> None:
        self.slot = {index: 2 * k for k, index in enumerate(counts)}
        ends = [end for count in counts.values() for end in (0, count)]
        self.ends: SynchronizedArray[int] = multiprocessing.get_context("fork").Array(
            "q", ends or [0])

    def front(self, index: int) -> int | None:
        """The next piece from the front of shard ``index``'s (None: none is left)."""
        at = self.slot[index]
        with self.ends.get_lock():
            first, end = self.ends[at], self.ends[at + 1]
            if first >= end:
                return None
            self.ends[at] = first + 1
            return first

    def back(self, index: int) -> int | None:
        """The next piece from the back of shard ``index``'s (None: none is left)."""
        at = self.slot[index]
        with self.ends.get_lock():
            first, end = self.ends[at], self.ends[at + 1]
            if first >= end:
                return None
            self.ends[at + 1] = end - 1
            return end - 1

    def taken_from_back(self, index: int) -> int:
        """The first of the pieces taken from the back (their count when none was)."""
        return self.ends[self.slot[index] + 1]


Task = tuple[Callable[[int], Any], int]
"""A forked process's work: ``_decode_shard`` or ``_help``, and a shard's index."""


class _Ahead:
    """The forked processes' tasks, sent ``window`` at a time: one more each time a stream
    takes one, so results wait in memory for a few shards at most, however many the job has."""

    def __init__(self, pool: ProcessPoolExecutor, tasks: list[Task], window: int) -> None:
        self.pool, self.waiting = pool, tasks
        self.sent: dict[Task, Future[Any]] = {}
        for _ in range(window):
            self._send_next()

    def _send_next(self) -> None:
        if self.waiting:
            self._submit(self.waiting.pop(0))

    def _submit(self, task: Task) -> None:
        fn, index = task
        try:
            self.sent[task] = self.pool.submit(fn, index)
        except BrokenProcessPool as exc:  # a process died: the task's reader does it instead
            self.sent[task] = Future()
            self.sent[task].set_exception(exc)

    def take(self, task: Task) -> Future[Any]:
        """The task's future (sent now if the reader came to it first)."""
        if task not in self.sent:
            self.waiting.remove(task)
            self._submit(task)
        self._send_next()
        return self.sent.pop(task)

    def drop(self, task: Task) -> None:
        """A task no longer needed: never sent, or cancelled unless it has started."""
        if task in self.waiting:
            self.waiting.remove(task)
        elif task in self.sent:
            self.sent.pop(task).cancel()
            self._send_next()


def _stream(work: _Work, ahead: _Ahead, index: int,
            here: Callable[[], Iterator[tuple[int, Result]]],
            rows_file: Path) -> Iterator[tuple[int, Result]]:
    future = ahead.take((_decode_shard, index))
    _decode_ahead(work, index, future)
    try:
        pairs, strays, moved = future.result()
    except BrokenProcessPool as exc:  # the process died (killed, out of memory): redo it here
        _log.warning("a process decoding a shard ended unexpectedly (%s); decoding that shard "
                     "in this process", exc)
        yield from here()
        return
    work.unmatched.extend(strays)
    _vectors_back([result for _, result in pairs], moved, rows_file)
    yield from pairs


def _decode_ahead(work: _Work, after: int, waited: Future[Any]) -> None:
    """While ``waited`` (a forked process's shard) is not back, decode pieces of this
    process's next shard from the front, kept for that shard's turn."""
    upcoming = [index for index in work.pieces if index > after]
    if not upcoming:
        return
    index = min(upcoming)
    cut, (results, strays) = work.pieces[index], work.early[index]
    with gc_paused():
        while not waited.done() and (at := work.claims.front(index)) is not None:
            decode_piece(*cut[at], work.decode_line, results.append, strays)


def _fill_here(work: _Work, ahead: _Ahead, index: int) -> Fill:
    """Decode shard ``index``'s pieces here from the front (after those decoded ahead of its
    turn); then take in the Results of any a forked process took from the back (decoding them
    here if that process died)."""

    def fill(by_vid: dict[str, list[Result]], unmatched: list[Any]) -> None:
        keep, cut = filed_by_id(by_vid), work.pieces[index]
        decoded, unreadable = work.early.pop(index)
        for result in decoded:
            keep(result)
        unmatched.extend(unreadable)
        with gc_paused():  # through every piece, not each alone (see decode_piece)
            while (at := work.claims.front(index)) is not None:
                decode_piece(*cut[at], work.decode_line, keep, unmatched)
        helped_from = work.claims.taken_from_back(index)
        if helped_from == len(cut):
            ahead.drop((_help, index))
            return
        try:
            results, strays, moved = ahead.take((_help, index)).result()
        except BrokenProcessPool as exc:
            _log.warning("a process decoding a shard ended unexpectedly (%s); decoding that "
                         "shard in this process", exc)
            for piece in cut[helped_from:]:
                decode_piece(*piece, work.decode_line, keep, unmatched)
            return
        _vectors_back(results, moved, work.folder / f"help-{index}.f32")
        for result in results:
            keep(result)
        unmatched.extend(strays)

    return fill


def _decode_shard(index: int) -> _Shard:
    """In a forked process: shard ``index``'s pairs, the lines of it that matched no request,
    and which pairs' vectors were moved to the shard's row file."""
    assert _WORK is not None, "set before the fork"
    before = len(_WORK.unmatched)
    pairs = list(_WORK.decode(_WORK.shards[index], None))
    strays = _WORK.unmatched[before:]
    del _WORK.unmatched[before:]
    moved = _move_vectors([result for _, result in pairs], _WORK.folder / f"{index}.f32")
    return pairs, strays, moved


def _help(index: int) -> _Pieces:
    """In a forked process with no shard of its own left: pieces of shard ``index`` (one of
    the reader's) from the back, until they meet the reader's; their Results in file order,
    their unreadable lines, and which Results' vectors were moved to a row file."""
    assert _WORK is not None, "set before the fork"
    cut, taken = _WORK.pieces[index], []
    with gc_paused():
        while (at := _WORK.claims.back(index)) is not None:
            results: list[Result] = []
            strays: list[Any] = []
            decode_piece(*cut[at], _WORK.decode_line, results.append, strays)
            taken.append((results, strays))
    taken.reverse()
    results = [result for piece, _ in taken for result in piece]
    strays = [stray for _, piece in taken for stray in piece]
    return results, strays, _move_vectors(results, _WORK.folder / f"help-{index}.f32")


def _move_vectors(results: list[Result], rows_file: Path) -> _Moved:
    """Write the results' float32 vectors to ``rows_file``, one row each, and empty their
    ``embedding``: thousands of small arrays cost as much to pickle as to decode. Left in
    place unless every vector is one float32 row of one length."""
    vectors = [(at, r.embedding) for at, r in enumerate(results) if r.embedding is not None]
    if not vectors or any(v.dtype != np.float32 or v.ndim != 1 or len(v) != len(vectors[0][1])
                          for _, v in vectors):
        return None
    with open(rows_file, "wb") as fh:
        for at, vector in vectors:
            fh.write(vector.data)
            results[at].embedding = None
    return [at for at, _ in vectors], len(vectors[0][1])


def _vectors_back(results: list[Result], moved: _Moved, rows_file: Path) -> None:
    """Each result's vector back, as a row of the file ``_move_vectors`` put it in, mapped
    copy-on-write: the rows stay while a result holds one, the file's name goes now."""
    if moved is None:
        return
    at, length = moved
    matrix = np.asarray(np.memmap(rows_file, dtype=np.float32, mode="c",
                                  shape=(len(at), length)))
    rows_file.unlink()
    for row, index in enumerate(at):
        results[index].embedding = matrix[row]
