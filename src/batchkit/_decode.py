"""Reading a vendor's batch OUTPUT files offline: ``bk.decode`` and ``batchkit decode``.

People arrive with files batchkit did not write: an output file downloaded from a console, a
results stream saved from a script, a prediction folder written by another pipeline. This module
reads them through the vendor's own decoder (``Adapter.decode``, the one a job uses) and gives
the same ResultSet a job would, without calling anyone.

Two promises shape it:

* **Flat memory.** Files are never held whole: the set is streamed from disk on every walk
  (``ResultSet.streamed``). Joined to requests, rows are first indexed by the hash of their id
  (some 50 bytes a row, in numpy arrays, never the rows; see ``_decode_index``) and then read
  back in the requests' order, seeking only where the file's order differs, and decoded once
  each. A 2 GB file decodes in the memory of a few rows plus that index.
* **Nothing dropped, nothing renamed.** Without requests every row is a result, under its id
  exactly as the file spells it. With requests every request gets exactly one result, in input
  order (``missing_result`` when no row names it, ``duplicate_result`` when several do), and a
  row that names no request is kept whole in ``results.unmatched``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from ._decode_index import (
    DECODE_ERRORS,
    FILE_BITS,
    NO_ROW,
    READ_BUFFER,
    RowIndex,
    rows,
    whole,
)
from ._exceptions import ConfigError
from ._normalize import ModelResolver, parse_by_path, readable_id, with_costs
from ._registry import make_adapter
from ._requests import Request, response_model_path
from ._results import ErrorInfo, Result, ResultSet
from .cost import usage_pricer
from .providers.base import Adapter

__all__ = ["decode"]

Requests = str | Path | Iterable[Request]
Paths = str | Path | Iterable[str | Path]


def decode(
    paths: Paths,
    provider: str,
    requests: Requests | None = None,
    *,
    errors: Paths | None = None,
    options: dict[str, Any] | None = None,
) -> ResultSet:
    """Decode a vendor's batch output file(s) into Results, offline and streamed.

    ``provider`` is ``vendor`` or ``vendor:model`` (the model prices the results, and picks
    the model family of vendors that host several). ``errors`` adds the vendor's error file(s)
    (the OpenAI family writes failed rows apart). Without ``requests`` every row is a result, in
    file order, under the id the file gives it. With ``requests`` (a request file, read with
    :func:`batchkit.read_requests`, or Request objects) there is one result per request in input
    order, parsed with the request's ``response_model``; rows no request claims are kept whole
    in ``results.unmatched``.
    """
    adapter = make_adapter(provider if ":" in provider else f"{provider}:offline", options)
    files = _existing(paths) + ([] if errors is None else _existing(errors))
    if len(files) >= 1 << FILE_BITS:
        raise ConfigError(f"decode takes at most {(1 << FILE_BITS) - 1} files at once")
    pricer = usage_pricer(provider)
    if requests is None:
        count = sum(_row_count(path) for path in files)
        return ResultSet.streamed(lambda: with_costs(_every_row(files, adapter), pricer), count)
    reread = _requests_source(requests)
    index = RowIndex(files, adapter)
    count, models = index.claim(reread, adapter)
    resolve = ModelResolver(models)
    results = ResultSet.streamed(
        lambda: with_costs(_joined(reread(), index, adapter, resolve), pricer), count)
    results.unmatched = index.unclaimed()
    return results


def _existing(paths: Paths) -> list[Path]:
    """``paths`` as files that exist, or a one-line error naming the first that does not.

    A folder stands for every JSONL file under it (``*.jsonl``, Bedrock's ``*.jsonl.out``), in
    name order: a Vertex AI prediction folder, a Bedrock output prefix copied down."""
    given = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    found: list[Path] = []
    for path in given:
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*.jsonl*") if p.is_file()
                            and p.name.endswith((".jsonl", ".jsonl.out")))
            if not inside:
                raise ConfigError(f"{path}: a folder with no .jsonl or .jsonl.out file in it")
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise ConfigError(f"{path}: no such file (give the vendor's output file)")
    return found


def _requests_source(requests: Requests) -> Callable[[], Iterable[Request]]:
    """A way to walk the requests again for every walk of the results: a file is re-read (its
    requests are never all in memory); anything else is kept as a list."""
    if isinstance(requests, (str, Path)):
        from ._readers import read_requests

        source = requests
        return lambda: read_requests(source)
    kept = list(requests)
    return lambda: kept


def _row_count(path: Path) -> int:
    with open(path, "rb", buffering=READ_BUFFER) as fh:
        return sum(1 for raw in fh if not raw.isspace())


def _decoded(adapter: Adapter, raw: bytes, where: Callable[[], str]) -> Result:
    """One row through the vendor's decoder; a row it cannot read is ``malformed_line`` under
    whatever id can be read from it, with the row kept whole in ``raw``. ``where`` names the
    row, for that message only."""
    try:
        return adapter.decode(raw)
    except DECODE_ERRORS as exc:
        return Result(readable_id(raw) or "", "errored", raw=whole(raw),
                      error=ErrorInfo("malformed_line", f"{where()}: {exc}"))


def _every_row(files: list[Path], adapter: Adapter) -> Iterator[Result]:
    for path in files:
        for line_no, _, raw in rows(path):
            yield _decoded(adapter, raw, functools.partial("{} line {}".format, path.name,
                                                           line_no))


class _RowReader:
    """Reads rows by place. Each file has a handle read forward through a large buffer (a
    file in the requests' order is read straight through, with no seek) and one for rows
    behind it, whose small buffer is all a backward jump wastes."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files
        self.ahead: dict[int, tuple[IO[bytes], list[int]]] = {}
        """Per file number, the forward handle and where its last row ended."""
        self.behind: dict[int, IO[bytes]] = {}

    def read(self, place: int) -> tuple[bytes, Callable[[], str]]:
        """The row at ``place``, and how to name it."""
        number, offset = place & ((1 << FILE_BITS) - 1), place >> FILE_BITS
        if number not in self.ahead:
            self.ahead[number] = (open(self.files[number], "rb",  # noqa: SIM115
                                       buffering=READ_BUFFER), [0])
        fh, end = self.ahead[number]
        if offset >= end[0]:
            if offset > end[0]:
                fh.seek(offset)
            raw = fh.readline()
            end[0] = offset + len(raw)
        else:
            if number not in self.behind:
                self.behind[number] = open(self.files[number], "rb")  # noqa: SIM115
            back = self.behind[number]
            back.seek(offset)
            raw = back.readline()
        return raw, lambda: f"{self.files[number].name} at byte {offset}"

    def close(self) -> None:
        for fh in [*(fh for fh, _ in self.ahead.values()), *self.behind.values()]:
            fh.close()


def _joined(requests: Iterable[Request], index: RowIndex, adapter: Adapter,
            resolve: ModelResolver) -> Iterator[Result]:
    """One Result per request, in input order, from the rows each one claimed."""
    reader = _RowReader(index.files)
    try:
        # a request file grown since it was indexed: its new requests have no row
        places = itertools.chain(index.places_in_order(), itertools.repeat(NO_ROW))
        for position, (request, place) in enumerate(zip(requests, places, strict=False)):
            if place >= 0:
                found = [_decoded(adapter, *reader.read(place))]
            elif place == NO_ROW:
                found = []
            else:
                found = [_decoded(adapter, *reader.read(p)) for p in index.places_of(position)]
            yield _for_request(request, found, resolve)
    finally:
        reader.close()


def _for_request(request: Request, found: list[Result], resolve: ModelResolver) -> Result:
    if not found:
        result = Result("", "errored", error=ErrorInfo(
            "missing_result", "the output has no row for this request", True))
    elif len(found) > 1:
        result = Result("", "errored", raw=[r.raw for r in found], error=ErrorInfo(
            "duplicate_result", f"the output has {len(found)} rows for this request; see raw"))
    else:
        result = found[0]
    # fields a vendor keeps beside the reply (Cohere's embed-job records) stay, under the
    # request's own metadata
    result.custom_id, result.metadata = request.custom_id, {**result.metadata,
                                                            **request.metadata}
    model = getattr(request, "response_model", None)
    if model is not None and result.status == "succeeded":
        parse_by_path(result, response_model_path(model), resolve)
    return result
