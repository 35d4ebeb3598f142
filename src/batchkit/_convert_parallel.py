"""Converting a vendor's native file: in this process, or, for a large one, on every core
(chunks of lines converted by forked workers, written back in order by the parent).

Why: a conversion is CPU-bound line work that needs nothing from its neighbours except the
rule that the lines of one kind name one model. The file is cut into chunks of whole lines
(``CHUNK_BYTES``, each with the number of its first line); workers forked from this process
(they inherit the adapter, nothing is pickled but bytes) convert a chunk each
(``_convert_lines.LineConverter``) and return its lines as bytes, which the parent writes in
file order. At most two chunks per worker are in flight, so memory stays flat whatever the
file's size.

Errors are the serial path's: each worker stops its chunk at its first bad line, and the
parent, taking chunks in order, raises the first. The one-model rule spans chunks, so workers
only note where each model of a kind is first named and the parent checks those notes in file
order; a model clash before a chunk's bad line is that chunk's error. Nothing reaches the
output before the last chunk is done (the caller stages it).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import Any

from ._convert_lines import LineConverter, blocks, model_differs
from ._exceptions import InvalidRequestError
from ._readers import Source, open_source
from ._storage import Target, is_url

__all__ = ["convert_native"]

BLOCK_BYTES = 1 << 20
"""The lines converted at once in this process."""
CHUNK_BYTES = 4 << 20
"""The lines a worker converts at once."""
PARALLEL_BYTES = 32 << 20
"""Files smaller than this are converted in this process: forking would cost more."""
MIN_CORES = 4
"""Fewer cores convert in this process: on a shared two-core machine the parent's reading,
copying and writing and the busy second core cost more than they gave (1,000,000 OpenAI lines
to Bedrock: 6.7 s on two workers against 2.8 s in one process)."""
_MAX_WORKERS = 8

_Outcome = tuple[bytes, int, list[tuple[int, str, Any, str]], tuple[str, str | None, int] | None,
                 bytes]
"""A chunk's lines, how many requests, its model notes, its first error (rule, id, line), the
keys of its ids (``LineConverter.keys``)."""

_job: tuple[str, Any, bool] | None = None
"""(format, adapter, keeps_raw) of the conversion, set in the parent before forking."""
_converter: LineConverter | None = None
"""A worker's converter, kept from chunk to chunk so shapes are learnt once per worker."""


def convert_native(source: Target, fmt: str, adapter: Any, write: Callable[[bytes], Any],
                   keeps_raw: bool, keys: array[int]) -> int:
    """Write every line of the native file ``source`` (format ``vendor[:model]``) as the
    target's lines, adding the key of each line's id to ``keys``; returns how many were
    written. A local file of ``PARALLEL_BYTES`` or more is cut into chunks converted on every
    core."""
    local = None if is_url(source) else Path(source)
    workers = 0 if local is None else workers_for(local)
    if local is not None and workers:
        written = convert_in_parallel(local, fmt, adapter, write, keeps_raw, keys, workers)
    else:
        converter = LineConverter(fmt, adapter, keeps_raw)
        converter.keys = keys
        with open_source(Source(local or source, None)) as fh, _collector_paused():
            written = sum(converter.convert(line_no, block, write, newlines)
                          for line_no, block, newlines in blocks(fh, BLOCK_BYTES))
    if not written:
        raise InvalidRequestError(f"{Source(local or source, None).name!r} holds no requests "
                                  "(it is empty)")
    return written


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while lines are converted in this process: a
    block's lines make thousands of tuples (each line's values), which set off collections
    that walk every object the process holds, and none of them can form a cycle (about a
    tenth of a conversion's time to Bedrock). It is back on, as it was, at the end."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def workers_for(path: Path) -> int:
    """How many workers convert ``path`` (0: convert it in this process)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 0
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    if cores < MIN_CORES or path.stat().st_size < PARALLEL_BYTES:
        return 0
    return min(cores, _MAX_WORKERS)


def convert_in_parallel(path: Path, fmt: str, adapter: Any, write: Callable[[bytes], Any],
                        keeps_raw: bool, keys: array[int], workers: int) -> int:
    """Write the target's lines for every line of ``path`` (their ids' keys to ``keys``);
    returns how many."""
    global _job
    _job = (fmt, adapter, keeps_raw)
    written = 0
    firsts: dict[str, tuple[int, Any]] = {}
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool, open(path, "rb") as fh:
            pending: deque[AsyncResult[_Outcome]] = deque()
            for chunk in blocks(fh, CHUNK_BYTES):
                pending.append(pool.apply_async(_convert_chunk, (chunk,)))
                if len(pending) >= 2 * workers:
                    written += _take(pending.popleft().get(), firsts, write, keys)
            while pending:
                written += _take(pending.popleft().get(), firsts, write, keys)
    finally:
        _job = None
    return written


def _take(outcome: _Outcome, firsts: dict[str, tuple[int, Any]],
          write: Callable[[bytes], Any], keys: array[int]) -> int:
    """Write a chunk's lines (its ids' keys to ``keys``), or raise its first error (a model
    clash included)."""
    data, converted, models, error, chunk_keys = outcome
    for line_no, kind, named, custom_id in models:
        first_line, first = firsts.setdefault(kind, (line_no, named))
        if named != first and (error is None or line_no <= error[2]):
            raise model_differs(named, first, first_line, custom_id, line_no)
    if error is not None:
        raise InvalidRequestError(error[0], custom_id=error[1], line=error[2])
    write(data)
    keys.frombytes(chunk_keys)
    return converted


def _convert_chunk(chunk: tuple[int, bytes, int]) -> _Outcome:
    """In a worker: one chunk's lines converted, or its first error."""
    assert _job is not None
    first_line, data, newlines = chunk
    global _converter
    if _converter is None:
        _converter = LineConverter(*_job, check_models=False)
    converter = _converter
    converter.next_chunk()
    out: list[bytes] = []  # one block of lines
    try:
        converted = converter.convert(first_line, data, out.append, newlines)
    except InvalidRequestError as exc:
        return b"", 0, converter.models, (exc.rule, exc.custom_id, exc.line or first_line), b""
    return b"".join(out), converted, converter.models, None, converter.keys.tobytes()
