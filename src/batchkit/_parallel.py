"""Decoding a multi-shard job's result files on every core: one process per shard.

Why: decoding is CPU work (a 1,536-float embedding line is some 1,536 float texts to parse) and
a job's shards are independent files, so on idle cores a job of several shards should decode
in about 1/cores of the time. Worker processes are forked, so each starts with the job's
collector (adapter, response models, retry rounds already read) and no setup to send; each
decodes one shard and returns its ``(input position, Result)`` pairs, which the caller merges
in input order as it does for shards decoded in turn.

It is used where it is exact: a first round whose index has no duplicate or cached rows
(those share one result across shards, so a shard cannot be decoded alone), several shards,
and the ``fork`` start method. It is opt-in, ``BATCHKIT_DECODE_PROCESSES=N``: on this
project's shared 2-core machine two processes have not yet beaten one (a 4-shard job of
8,000 float-text embeddings: 1.31-1.42 s against 0.97-1.19 s; each worker's wall time was 2-4x
its CPU time, i.e. it waited for a core other programs held), so the default stays one process
until a measurement on idle cores shows it pays.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from ._exceptions import ConfigError

if TYPE_CHECKING:
    from multiprocessing.pool import AsyncResult

    from ._results import Result
    from .store import ShardRecord

__all__ = ["decode_processes", "shards_in_processes"]

ShardDecoder = Callable[["ShardRecord"], Iterator[tuple[int, "Result"]]]
Stream = tuple[str, Iterator[tuple[int, "Result"]]]

_WORK: tuple[ShardDecoder, list[ShardRecord], list[Any]] | None = None
"""What the forked workers decode: set just before the fork, inherited, never pickled."""


def decode_processes(shards: int) -> int:
    """How many processes decode ``shards`` shards (1: this one), from
    ``BATCHKIT_DECODE_PROCESSES``."""
    wanted = os.environ.get("BATCHKIT_DECODE_PROCESSES", "")
    try:
        cap = int(wanted) if wanted else 1
    except ValueError:
        raise ConfigError("BATCHKIT_DECODE_PROCESSES must be a whole number of processes, "
                          f"not {wanted!r}") from None
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(cap, shards))


@contextmanager
def shards_in_processes(decode: ShardDecoder, shards: list[ShardRecord], unmatched: list[Any],
                        processes: int) -> Iterator[list[Stream]]:
    """Per shard, ``(group, stream of (position, Result))`` decoded by ``processes`` forked
    workers; each stream waits for its shard. Vendor lines matching no request are added to
    ``unmatched`` as each shard's stream is read. The workers end when the block does."""
    global _WORK
    _WORK = (decode, shards, unmatched)
    try:
        pool = multiprocessing.get_context("fork").Pool(processes)
    finally:
        _WORK = None  # the workers have their copy; this process keeps no reference
    try:
        pending = [pool.apply_async(_decode_shard, (i,)) for i in range(len(shards))]
        yield [(shard.group, _stream(job, unmatched)) for shard, job in zip(shards, pending,
                                                                             strict=True)]
    finally:
        pool.terminate()
        pool.join()


_Shard = tuple[list[tuple[int, "Result"]], list[Any], "np.ndarray | None", list[int]]
"""What a worker sends back: the pairs (their vectors lifted out), the unmatched lines, the
vectors as one block and which pairs they belong to."""


def _stream(job: AsyncResult[_Shard], unmatched: list[Any]) -> Iterator[tuple[int, Result]]:
    pairs, strays, block, rows = job.get()
    unmatched.extend(strays)
    if block is not None:  # each result's vector back, as a row of the shard's block
        for row, at in enumerate(rows):
            pairs[at][1].embedding = block[row]
    yield from pairs


def _decode_shard(index: int) -> _Shard:
    """In a worker: shard ``index``'s pairs, and the lines of it that matched no request."""
    assert _WORK is not None, "set before the fork"
    decode, shards, unmatched = _WORK
    before = len(unmatched)
    pairs = list(decode(shards[index]))
    strays = unmatched[before:]
    del unmatched[before:]
    block, rows = _lift_vectors(pairs)
    return pairs, strays, block, rows


def _lift_vectors(pairs: list[tuple[int, Result]]) -> tuple[np.ndarray | None, list[int]]:
    """The results' vectors as one matrix (sent back as one buffer: thousands of small arrays
    cost as much to pickle as to decode), each result's ``embedding`` emptied meanwhile.
    Left in place unless every vector has one dtype and length."""
    rows: list[int] = []
    vectors: list[np.ndarray] = []
    for at, (_, result) in enumerate(pairs):
        if result.embedding is not None:
            rows.append(at)
            vectors.append(result.embedding)
    if not vectors or len({(v.dtype, v.shape) for v in vectors}) != 1:
        return None, []
    block = np.stack(vectors)
    for at in rows:
        pairs[at][1].embedding = None
    return block, rows
