"""Join vendor result lines back to requests: every request exactly once, in input order.

Vendors return lines in any order, omit some, occasionally repeat one, and put errors in a
second file. This module owns the rules that turn that into one :class:`Result` per request:

* a request with no line gets a result from the shard's outcome: ``errored/missing_result``
  when the batch completed, ``expired``/``cancelled`` when it expired or was cancelled,
  ``errored/batch_failed`` (with the vendor's message for its line, if any) when it was rejected;
* a request with several lines is ``errored/duplicate_result`` with every line kept in ``raw``;
* a line that names no request is kept in ``ResultSet.unmatched`` and never silently dropped;
* a line that cannot be decoded becomes ``errored/malformed_line`` for its request if its id can
  be read, else goes to ``unmatched``;
* a reply for a request with a ``response_model`` is validated into ``parsed`` or leaves a
  one-line ``parse_error``;
* a de-duplicated request (not sent, see ``_plan``) gets a copy of the result of the identical
  request that was sent, under its own id and metadata;
* a request answered from the result cache gets the cached result; a sent request of a job that
  uses the cache leaves its succeeded result there for next time.
"""

from __future__ import annotations

import dataclasses
import heapq
import io
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from ._cache import ResultCache
from ._plan import RequestRecord
from ._requests import import_response_model
from ._results import ErrorInfo, Result, Usage, gc_paused
from ._state import JobState

__all__ = ["Fill", "ModelResolver", "ShardOutcome", "decode_piece", "filed_by_id",
           "lines_before", "merge_in_order", "normalize_shard", "parse_by_path", "parse_reply",
           "readable_id", "with_costs"]


@dataclass(frozen=True)
class ShardOutcome:
    """What is known about a finished shard, for requests the vendor returned no line for."""

    state: JobState
    line_errors: dict[int, tuple[str, str]]
    """1-based payload line -> (code, message) from the vendor's validation report."""
    batch_message: str = ""


class ModelResolver:
    """Finds response models by import path: first those this process submitted, then imports."""

    def __init__(self, known: dict[str, type[BaseModel]] | None = None) -> None:
        self._known: dict[str, type[BaseModel] | None] = dict(known or {})

    def __call__(self, path: str) -> type[BaseModel] | None:
        if path not in self._known:
            self._known[path] = import_response_model(path)
        return self._known[path]


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "reply"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {err['msg']}{more}"


def parse_by_path(
    result: Result, model_path: str, resolve: Callable[[str], type[BaseModel] | None]
) -> None:
    model = resolve(model_path)
    if model is None:
        result.parse_error = (
            f"response model {model_path} cannot be imported here (run from the folder that "
            "holds its module, or give it to results(response_models=...))"
        )
        return
    parse_reply(result, model)


def parse_reply(result: Result, model: type[BaseModel]) -> None:
    """Validate the reply's text into ``model``: ``parsed``, or a one-line ``parse_error``."""
    if result.text is None:
        result.parse_error = "the reply has no text to parse"
        return
    try:
        result.parsed = model.model_validate_json(result.text)
    except ValidationError as exc:
        result.parse_error = _one_line(exc)


Fill = Callable[[dict[str, list[Result]], list[Any]], None]
"""Decodes a shard's result lines into its results by vendor id, and its unreadable lines
into the unmatched list, when not every result file is decoded whole here (see ``_parallel``)."""


def decode_piece(
    path: Path, start: int, stop: int | None, decode: Callable[[bytes], Result],
    keep: Callable[[Result], object], unmatched: list[Any],
) -> None:
    """Decode the lines of ``path`` from byte ``start`` (a line's first) to ``stop`` (None:
    the end) in order, handing each Result to ``keep``. A line that does not decode is an
    errored Result of its id (naming the file and line), or, with no id to read, unmatched."""
    # a 64 KiB buffer: the default 8 KiB takes three reads and joins per 21 KB embedding line
    with open(path, "rb", buffering=1 << 16) as fh, gc_paused():  # a shard's Results, all kept
        fh.seek(start)
        lines = fh if stop is None else io.BytesIO(fh.read(stop - start))
        for number, raw in enumerate(lines):
            if raw.isspace():
                continue
            try:
                result = decode(raw)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                vid, line_no = readable_id(raw), lines_before(path, start) + number + 1
                info = ErrorInfo("malformed_line", f"{path.name} line {line_no}: {exc}")
                if vid is None:
                    unmatched.append({"file": path.name, "line": line_no, "error": str(exc)})
                    continue
                result = Result(custom_id=vid, status="errored", error=info, raw=raw.decode(
                    "utf-8", "replace"))
            keep(result)


def filed_by_id(by_vid: dict[str, list[Result]]) -> Callable[[Result], None]:
    """``keep`` for ``decode_piece``: each Result under its vendor id, in the order read."""
    return lambda result: by_vid.setdefault(result.custom_id, []).append(result)


def lines_before(path: Path, start: int) -> int:
    """How many lines ``path`` has before byte ``start``, counted in blocks, not decoded (to
    name a bad line of a piece, or to count a request index's rows)."""
    count = 0
    with open(path, "rb") as fh:
        while (left := start - fh.tell()) > 0 and (block := fh.read(min(left, 1 << 20))):
            count += block.count(b"\n")
    return count


def readable_id(raw: bytes) -> str | None:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    for key in ("custom_id", "key", "recordId", "id"):
        if isinstance(obj, dict) and isinstance(obj.get(key), str):
            return str(obj[key])
    return None


def _stand_in(outcome: ShardOutcome, line: int) -> Result:
    """The result of a request the vendor returned no line for."""
    if outcome.state == JobState.FAILED:
        code, message = outcome.line_errors.get(
            line, ("batch_failed", outcome.batch_message or "the vendor rejected the batch")
        )
        return Result("", "errored", error=ErrorInfo(code, message))
    if outcome.state == JobState.EXPIRED:
        return Result("", "expired", error=ErrorInfo(
            "batch_expired", "not run before the batch's completion window ended", True))
    if outcome.state == JobState.CANCELLED:
        return Result("", "cancelled", error=ErrorInfo(
            "batch_cancelled", "not run because the batch was cancelled"))
    return Result("", "errored", error=ErrorInfo(
        "missing_result", "the vendor returned no result line for this request", True))


def normalize_shard(
    records: Iterable[RequestRecord],
    result_files: Iterable[Path],
    decode: Callable[[bytes], Result],
    outcome: ShardOutcome,
    resolve: Callable[[str], type[BaseModel] | None],
    unmatched: list[Any],
    shared: dict[str, Result | None] | None = None,
    cache: ResultCache | None = None,
    *,
    attempt: int = 1,
    later: dict[int, Result] | None = None,
    fill: Fill | None = None,
) -> Iterator[tuple[int, Result]]:
    """Yield ``(input position, Result)`` for each request of one shard, in shard order.

    Holds one shard's decoded lines in memory (a shard is at most one vendor batch).
    ``shared`` maps the vendor ids that de-duplicated requests point at to their result, filled
    in as the originals go by (an original always comes before its copies). ``later`` holds the
    results of retry rounds by input position: they replace this shard's result for a request
    that was sent again (``attempt`` is this shard's round, recorded on its own results).
    ``fill`` decodes the lines instead of ``result_files`` being decoded whole here.
    """
    later = {} if later is None else later
    shared = {} if shared is None else shared
    by_vid: dict[str, list[Result]] = {}
    if fill is None:
        for path in result_files:
            decode_piece(path, 0, None, decode, filed_by_id(by_vid), unmatched)
    else:
        fill(by_vid, unmatched)
    for rec in records:
        if rec.line is None:
            if rec.cache_key is not None and cache is not None:
                yield rec.position, _from_cache(rec, cache, resolve)
            else:
                yield rec.position, _copy_shared(rec, shared, resolve)
            continue
        found = by_vid.pop(rec.vendor_id, None)
        if rec.position in later:
            result = later[rec.position]
        elif not found:
            result = _stand_in(outcome, rec.line)
        elif len(found) > 1:
            result = Result("", "errored", raw=[r.raw for r in found], error=ErrorInfo(
                "duplicate_result",
                f"the vendor returned {len(found)} lines for this request; see raw",
            ))
        else:
            result = found[0]
        if rec.position not in later:
            result.custom_id, result.metadata, result.attempts = (
                rec.custom_id, rec.metadata, attempt)
            if rec.response_model is not None and result.status == "succeeded":
                parse_by_path(result, rec.response_model, resolve)
        if rec.vendor_id in shared:
            shared[rec.vendor_id] = result
        if cache is not None and rec.cache_key is not None:
            cache.put(rec.cache_key, result)
        yield rec.position, result
    for leftover in by_vid.values():
        unmatched.extend(r.raw for r in leftover)


def _copy_shared(
    rec: RequestRecord, shared: dict[str, Result | None],
    resolve: Callable[[str], type[BaseModel] | None],
) -> Result:
    original = shared.get(rec.vendor_id)
    if original is None:
        return Result(rec.custom_id, "errored", metadata=rec.metadata, error=ErrorInfo(
            "missing_result", "the identical request this one shares a result with is missing"))
    copy = dataclasses.replace(original, custom_id=rec.custom_id, metadata=rec.metadata,
                               parsed=None, parse_error=None, shared_from=original.custom_id)
    if rec.response_model is not None and copy.status == "succeeded":
        parse_by_path(copy, rec.response_model, resolve)
    return copy


def _from_cache(
    rec: RequestRecord, cache: ResultCache, resolve: Callable[[str], type[BaseModel] | None]
) -> Result:
    assert rec.cache_key is not None
    result = cache.get(rec.cache_key)
    if result is None:
        return Result(rec.custom_id, "errored", metadata=rec.metadata, error=ErrorInfo(
            "missing_result", "the cached result was removed from the cache before it was read"))
    result.custom_id, result.metadata, result.from_cache = rec.custom_id, rec.metadata, True
    if rec.response_model is not None:
        parse_by_path(result, rec.response_model, resolve)
    return result


def with_costs(
    results: Iterable[Result], price: Callable[[Usage], float | None]
) -> Iterator[Result]:
    """Set each result's ``cost_usd`` from its usage; copies and cached results cost nothing."""
    for result in results:
        if result.shared_from is not None or result.from_cache:
            result.cost_usd = 0.0
        elif result.usage is not None:
            result.cost_usd = price(result.usage)
        yield result


def merge_in_order(streams: list[tuple[str, Iterator[tuple[int, Result]]]]) -> Iterator[Result]:
    """Merge ``(group, per-shard stream)`` pairs into input order.

    Within a group, positions only grow from one shard to the next, so a group's shards are
    chained (one shard decoded at a time); groups are merged by position, which holds one
    shard per group in memory.
    """
    by_group: dict[str, list[Iterator[tuple[int, Result]]]] = {}
    for group, stream in streams:
        by_group.setdefault(group, []).append(stream)
    chains = [itertools.chain.from_iterable(parts) for parts in by_group.values()]
    for _, result in heapq.merge(*chains, key=lambda pair: pair[0]):
        yield result
