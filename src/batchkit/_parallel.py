"""Decoding a multi-shard job's result files on several cores: this process and forked ones.

Why: decoding is CPU work (a 1,536-float embedding line is some 1,536 float texts to parse) and
a job's shards are independent files, so on idle cores a job of several shards decodes in about
1/cores of the time.

Every shard is cut into pieces of about a megabyte of whole lines (``_cut``) and has a leader,
which takes its pieces from the front: with N processes this one leads the last shard and every
N-th before it, N - 1 forked processes the others, a few shards ahead of the reader. Pieces
are also taken from the back, by whoever would otherwise wait (``_Claims``): this process while
it waits for a forked leader's pieces, a forked process with no shard of its own left. The two
meet, so neither waits on the other for longer than a piece and a hand-over, and results in
waiting stay a few shards' worth however big the job.

This process matches every shard's results to its requests (a dictionary lookup a line), so a
forked process sends back only the Results of the pieces it took, in file order, with their
vectors moved out to a file of float32 rows, which this process maps (``np.memmap``,
copy-on-write) and hands out as rows of that map: vectors cross the process boundary through the
page cache, not through a pipe, and never sit in this process's heap. A forked process starts
with all it needs (the decoder, the pieces, the claims), inherited through the fork, so nothing
is sent to it but which shard to take pieces of, and from which end.

It is used where it is exact: a first round whose index has no duplicate or cached rows
(those share one result across shards, so a shard cannot be decoded alone), several shards,
and the ``fork`` start method. A forked process that dies is no lost shard: the pieces it had
claimed are decoded here instead, with one warning line. How many processes:
``decode_processes``.
"""

from __future__ import annotations

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

ShardDecoder = Callable[["ShardRecord", Fill], Iterator[tuple[int, "Result"]]]
"""A shard's ``(position, Result)`` pairs, its lines decoded by the ``Fill`` given."""
Stream = tuple[str, Iterator[tuple[int, "Result"]]]
Piece = tuple[Path, int, int]
"""Lines of a result file: its path, the first line's first byte, the byte after the last."""
Task = tuple[bool, int]
"""A forked process's work: take pieces from the back (True) or the front of shard ``index``."""
_Decoded = tuple[list["Result"], list[Any]]
"""Pieces' Results in file order, and their unreadable lines."""
_Moved = tuple[list[int], int] | None
"""Which results' vectors went to a row file, and their length (None: none went)."""
_Sent = tuple[list["Result"], list[Any], _Moved]
"""What a forked process sends back for the pieces it took of a shard: their Results in file
order, their unreadable lines, the moved rows."""


class _Work:
    """What the forked processes decode, and where they put vectors: set before the fork,
    inherited, never pickled."""

    def __init__(self, decode_line: Callable[[bytes], Result], folder: Path,
                 pieces: list[list[Piece]], led_here: list[int]) -> None:
        self.decode_line, self.folder, self.pieces = decode_line, folder, pieces
        self.led_here = led_here
        """The shards this process leads, in order."""
        self.claims = _Claims([len(cut) for cut in pieces])
        self.early: dict[int, list[_Decoded]] = {index: [] for index in led_here}
        """Per shard this process leads, the pieces it decoded ahead of the shard's turn
        (``_decode_ahead``)."""
        self.died = False
        """A forked process ended unexpectedly (said once)."""


_WORK: _Work | None = None
_PIECE_BYTES = 1 << 20
"""About how many bytes of lines a piece holds: the most one process waits for at a shard's
end is the other decoding one (some 50 float-text embedding lines, 4 ms)."""
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
                        shards: list[ShardRecord], processes: int) -> Iterator[list[Stream]]:
    """Per shard, ``(group, stream of (position, Result))``: each shard's lines decoded with
    ``decode_line`` by pieces, here and in ``processes - 1`` forked processes (see the module's
    docstring), as its stream is read. The processes end, and their row files go, when the
    block does."""
    global _WORK
    folder = Path(tempfile.mkdtemp(prefix="batchkit-decode-"))
    led_here = [i for i in range(len(shards)) if (len(shards) - 1 - i) % processes == 0]
    _WORK = work = _Work(decode_line, folder, [_cut(shard.result_paths or []) for shard in shards],
                         led_here)
    # they lead the shards this process does not, then help with those it does
    tasks = [(False, i) for i in range(len(shards)) if i not in led_here]
    # a forked process's collector would walk (and so copy) every object it shares with this
    # one, for nothing: its Results hold no cycles, and it ends with the block
    ahead = _Ahead(ProcessPoolExecutor(processes - 1, initializer=gc.disable,
                                       mp_context=multiprocessing.get_context("fork")),
                   tasks + [(True, i) for i in led_here], 2 * (processes - 1))
    try:
        yield [(shard.group, decode(shard, _fill(work, ahead, i)))
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
    """Which pieces of each shard are taken: one process takes them from the front, another
    from the back, one at a time, under a lock; the two ends live in memory shared through the
    fork."""

    def __init__(self, counts: list[int]) -> None:
        ends = [end for count in counts for end in (0, count)]
        self.ends: SynchronizedArray[int] = multiprocessing.get_context("fork").Array(
            "q", ends or [0])

    def take(self, index: int, from_back: bool) -> int | None:
        """The next piece of shard ``index`` from its back or front (None: none is left)."""
        at = 2 * index
        with self.ends.get_lock():
            first, end = self.ends[at], self.ends[at + 1]
            if first >= end:
                return None
            if from_back:
                self.ends[at + 1] = end - 1
                return end - 1
            self.ends[at] = first + 1
            return first

    def unclaimed(self, index: int) -> tuple[int, int]:
        """Shard ``index``'s pieces nobody has taken, as ``(first, end)``: those before
        ``first`` were taken from the front, those from ``end`` on from the back."""
        with self.ends.get_lock():
            return self.ends[2 * index], self.ends[2 * index + 1]


class _Ahead:
    """The forked processes' tasks, sent ``window`` at a time: one more each time a stream
    takes one, so results wait in memory for a few shards at most, however many the job has."""

    def __init__(self, pool: ProcessPoolExecutor, tasks: list[Task], window: int) -> None:
        self.pool, self.waiting = pool, tasks
        self.sent: dict[Task, Future[_Sent]] = {}
        for _ in range(window):
            self._send_next()

    def _send_next(self) -> None:
        if self.waiting:
            self._submit(self.waiting.pop(0))

    def _submit(self, task: Task) -> None:
        try:
            self.sent[task] = self.pool.submit(_taken_there, *task)
        except BrokenProcessPool as exc:  # a process died: the task's reader does it instead
            self.sent[task] = Future()
            self.sent[task].set_exception(exc)

    def take(self, task: Task) -> Future[_Sent]:
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


def _fill(work: _Work, ahead: _Ahead, index: int) -> Fill:
    """Shard ``index``'s lines in file order: if this process leads it, the pieces it decoded
    ahead of the shard's turn, those it decodes now from the front, then any a forked process
    took from the back; if not, those its forked leader took from the front, then those this
    process took from the back while it waited for them."""

    def fill(by_vid: dict[str, list[Result]], unmatched: list[Any]) -> None:
        if index in work.early:
            parts = [*work.early.pop(index), _take(work, index, from_back=False),
                     _helped(work, ahead, index)]
        else:
            parts = _led_there(work, ahead, index)
        keep = filed_by_id(by_vid)
        for results, unreadable in parts:
            for result in results:
                keep(result)
            unmatched.extend(unreadable)

    return fill


def _take(work: _Work, index: int, from_back: bool,
          until: Callable[[], bool] = lambda: False) -> _Decoded:
    """Take pieces of shard ``index`` one at a time from its back or front and decode them,
    until none is left (or ``until()``); their Results and unreadable lines, in file order."""
    cut, taken = work.pieces[index], []
    with gc_paused():  # through every piece, not each alone (see decode_piece)
        while not until() and (at := work.claims.take(index, from_back)) is not None:
            taken.append(_decoded_here(work, [cut[at]]))
    if from_back:
        taken.reverse()
    return ([result for results, _ in taken for result in results],
            [line for _, unreadable in taken for line in unreadable])


def _helped(work: _Work, ahead: _Ahead, index: int) -> _Decoded:
    """The pieces a forked process took from the back of shard ``index`` (one this process
    leads, its front all taken), decoded here instead if that process died."""
    helped_from = work.claims.unclaimed(index)[1]
    if helped_from == len(work.pieces[index]):
        ahead.drop((True, index))
        return [], []
    sent = _waited(work, ahead.take((True, index)), index)
    if sent is None:
        return _decoded_here(work, work.pieces[index][helped_from:])
    return _received(sent, _rows_file(work, (True, index)))


def _led_there(work: _Work, ahead: _Ahead, index: int) -> list[_Decoded]:
    """Shard ``index``'s pieces, led by a forked process: those it took from the front, then
    those this process takes from the back until they meet. If the process died, the pieces
    it had taken, and any nobody took, are decoded here."""
    waited = ahead.take((False, index))
    stolen = _take(work, index, from_back=True, until=waited.done)
    sent = _waited(work, waited, index)
    if sent is None:
        rest = _take(work, index, from_back=True)
        claimed = work.claims.unclaimed(index)[0]
        return [_decoded_here(work, work.pieces[index][:claimed]), rest, stolen]
    return [_received(sent, _rows_file(work, (False, index))), stolen]


def _waited(work: _Work, waited: Future[_Sent], after: int) -> _Sent | None:
    """What a forked process sent back, decoding ahead (``_decode_ahead``) until it is here;
    None if the process died (said once, in one warning line)."""
    _decode_ahead(work, after, waited)
    try:
        return waited.result()
    except BrokenProcessPool as exc:  # the process died (killed, out of memory)
        if not work.died:
            work.died = True
            _log.warning("a process decoding a shard ended unexpectedly (%s); decoding its "
                         "pieces in this process", exc)
        return None


def _decode_ahead(work: _Work, after: int, waited: Future[_Sent]) -> None:
    """While ``waited`` (a forked process's pieces) is not back, decode pieces of the next
    shard this process leads from the front, kept for that shard's turn. (Two groups' shards
    are read side by side, not in their order: one that has had its turn is passed over.)"""
    upcoming = [index for index in work.led_here if index > after and index in work.early]
    if upcoming:
        work.early[upcoming[0]].append(
            _take(work, upcoming[0], from_back=False, until=waited.done))


def _decoded_here(work: _Work, pieces: list[Piece]) -> _Decoded:
    """The pieces' Results and unreadable lines, decoded here in the order given."""
    results: list[Result] = []
    unreadable: list[Any] = []
    for piece in pieces:
        decode_piece(*piece, work.decode_line, results.append, unreadable)
    return results, unreadable


def _rows_file(work: _Work, task: Task) -> Path:
    from_back, index = task
    return work.folder / f"{'back' if from_back else 'front'}-{index}.f32"


def _taken_there(from_back: bool, index: int) -> _Sent:
    """In a forked process: pieces of shard ``index`` taken from its back or front until none
    is left; their Results in file order, their unreadable lines, and which Results' vectors
    were moved to a row file."""
    assert _WORK is not None, "set before the fork"
    results, unreadable = _take(_WORK, index, from_back)
    return results, unreadable, _move_vectors(results, _rows_file(_WORK, (from_back, index)))


def _received(sent: _Sent, rows_file: Path) -> _Decoded:
    """What a forked process sent back, its vectors in place again."""
    results, unreadable, moved = sent
    _vectors_back(results, moved, rows_file)
    return results, unreadable


def _move_vectors(results: list[Result], rows_file: Path) -> _Moved:
    """Write the results' float32 vectors to ``rows_file``, one row each, and empty their
    ``embedding``: thousands of small arrays cost as much to pickle as to decode. Left in
    place unless every vector is one float32 row of one length."""
    vectors = [(at, r.embedding) for at, r in enumerate(results) if r.embedding is not None]
    if not vectors or any(v.dtype != np.float32 or v.ndim != 1 or len(v) != len(vectors[0][1])
                          for _, v in vectors):
        return None
    with open(rows_file, "wb", buffering=1 << 20) as fh:  # one write a few hundred rows
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
