"""Reading a vendor's batch OUTPUT files offline: ``bk.decode`` and ``batchkit decode``.

People arrive with files batchkit did not write: an output file downloaded from a console, a
results stream saved from a script, a prediction folder written by another pipeline. This module
reads them through the vendor's own decoder (``Adapter.decode``, the one a job uses) and gives
the same ResultSet a job would, without calling anyone.

Two promises shape it:

* **Flat memory.** Files are never held whole: the set is streamed from disk on every walk
  (``ResultSet.streamed``). Joined to requests, rows are first indexed by the hash of their id
  (16 bytes a row, in numpy arrays, never the rows) and then read back in the requests' order by
  seeking to each. A 2 GB file decodes in the memory of a few rows plus that index.
* **Nothing dropped, nothing renamed.** Without requests every row is a result, under its id
  exactly as the file spells it. With requests every request gets exactly one result, in input
  order (``missing_result`` when no row names it, ``duplicate_result`` when several do), and a
  row that names no request is kept whole in ``results.unmatched``.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ._exceptions import ConfigError, InvalidRequestError
from ._normalize import ModelResolver, _parse, _readable_id, with_costs
from ._registry import make_adapter
from ._requests import ChatRequest, Request, response_model_path
from ._results import ErrorInfo, Result, ResultSet
from .cost import usage_pricer
from .providers.base import Adapter

__all__ = ["decode"]

_DECODE_ERRORS = (ValueError, KeyError, TypeError, AttributeError)
"""What a vendor decoder raises for a line it cannot read (see ``Adapter.decode``)."""
_FILE_BITS = 8
"""A row's place is packed in one int64: its byte offset, then its file's number in 8 bits."""

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
    if len(files) >= 1 << _FILE_BITS:
        raise ConfigError(f"decode takes at most {(1 << _FILE_BITS) - 1} files at once")
    pricer = usage_pricer(provider)
    if requests is None:
        count = sum(_row_count(path) for path in files)
        return ResultSet.streamed(lambda: with_costs(_every_row(files, adapter), pricer), count)
    reread = _requests_source(requests)
    index = _RowIndex(files, adapter)
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
    with open(path, "rb") as fh:
        return sum(1 for raw in fh if raw.strip())


def _rows(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """``(line number, byte offset, line)`` of each non-blank line, read one at a time."""
    offset = 0
    with open(path, "rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            if raw.strip():
                yield line_no, offset, raw
            offset += len(raw)


def _whole(raw: bytes) -> Any:
    """A row as the vendor wrote it: its JSON, or its text when it is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace").rstrip("\n")


def _decoded(adapter: Adapter, raw: bytes, where: str) -> Result:
    """One row through the vendor's decoder; a row it cannot read is ``malformed_line`` under
    whatever id can be read from it, with the row kept whole in ``raw``."""
    try:
        return adapter.decode(raw)
    except _DECODE_ERRORS as exc:
        return Result(_readable_id(raw) or "", "errored", raw=_whole(raw),
                      error=ErrorInfo("malformed_line", f"{where}: {exc}"))


def _every_row(files: list[Path], adapter: Adapter) -> Iterator[Result]:
    for path in files:
        for line_no, _, raw in _rows(path):
            yield _decoded(adapter, raw, f"{path.name} line {line_no}")


@dataclass
class _Claimed:
    """Which request claimed each row: ``owner[i]`` is the input position of row ``i`` (in
    hash order) or -1; ``rows_by_owner`` lists rows sorted by owner for the join."""

    owner: np.ndarray
    rows_by_owner: np.ndarray
    owners_sorted: np.ndarray


class _RowIndex:
    """Where every row of the files is, by the hash of its id, in two int64 arrays.

    Ids are compared by hash (Python's 64-bit string hash), so the index holds 16 bytes a row
    where a dict of ids would hold over a hundred. In a file of a million rows, the odds that
    two different ids share a hash are about 3 in 10^8; should it happen, the request takes both
    rows and reads ``duplicate_result`` with both kept in ``raw``: visible, never silent.
    """

    def __init__(self, files: list[Path], adapter: Adapter) -> None:
        self.files = files
        hashes, places = array("q"), array("q")
        self.no_id: list[Any] = []
        """Rows whose id cannot be read at all: they can match no request."""
        for number, path in enumerate(files):
            for line_no, offset, raw in _rows(path):
                try:
                    key: str | None = adapter.decode(raw).custom_id
                except _DECODE_ERRORS as exc:
                    key = _readable_id(raw)
                    if key is None:
                        self.no_id.append({"file": path.name, "line": line_no,
                                           "error": str(exc), "row": _whole(raw)})
                        continue
                hashes.append(hash(key))
                places.append(offset << _FILE_BITS | number)
        order = np.argsort(np.frombuffer(hashes, dtype=np.int64), kind="stable")
        self.hashes = np.frombuffer(hashes, dtype=np.int64)[order]
        self.places = np.frombuffer(places, dtype=np.int64)[order]
        self.claimed = _Claimed(np.full(len(order), -1, dtype=np.int64),
                                np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))

    def _free_rows(self, key: str) -> np.ndarray:
        wanted = hash(key)
        span = np.arange(np.searchsorted(self.hashes, wanted, "left"),
                         np.searchsorted(self.hashes, wanted, "right"))
        return span[self.claimed.owner[span] < 0]

    def claim(self, requests: Callable[[], Iterable[Request]], adapter: Adapter
              ) -> tuple[int, dict[str, Any]]:
        """Give each request the rows under its id: the id the vendor was sent
        (``vendor_id``), else the id itself (a foreign file's ids as they are), else the keys
        a vendor whose rows carry no id files them under (``Adapter.row_keys``).

        Returns the request count and the response models met, by import path.
        """
        count, models = 0, {}
        id_hashes = array("q")
        for position, request in enumerate(requests()):
            count += 1
            cid = request.custom_id
            id_hashes.append(hash(cid))
            if isinstance(request, ChatRequest) and request.response_model is not None:
                models[response_model_path(request.response_model)] = request.response_model
            vid = adapter.vendor_id(cid)
            for key, by_id in _keys(vid, cid, request, adapter):
                rows = self._free_rows(key)
                if len(rows):  # rows under an id are all this request's (duplicates show);
                    # identical requests share a content key and take one row each
                    self.claimed.owner[rows if by_id else rows[:1]] = position
                    break
        _refuse_duplicate_ids(id_hashes, requests)
        order = np.argsort(self.claimed.owner, kind="stable")
        self.claimed.rows_by_owner = order
        self.claimed.owners_sorted = self.claimed.owner[order]
        return count, models

    def rows_of(self, position: int) -> list[tuple[Path, int]]:
        """The claimed rows of the request at ``position``, as ``(file, offset)`` in file order."""
        owners = self.claimed.owners_sorted
        lo, hi = (np.searchsorted(owners, position, side) for side in ("left", "right"))
        places = sorted(int(p) for p in self.places[self.claimed.rows_by_owner[lo:hi]])
        mask = (1 << _FILE_BITS) - 1
        return [(self.files[p & mask], p >> _FILE_BITS) for p in places]

    def unclaimed(self) -> list[Any]:
        """Every row no request claimed, whole (its JSON as the vendor wrote it), file order."""
        mask = (1 << _FILE_BITS) - 1
        left = sorted(int(p) for p in self.places[self.claimed.owner < 0])
        kept = [_whole(_read_at(self.files[p & mask], p >> _FILE_BITS)) for p in left]
        return kept + self.no_id


def _refuse_duplicate_ids(id_hashes: array[int],
                          requests: Callable[[], Iterable[Request]]) -> None:
    """Two requests under one id could not be told apart by any row: refuse them, naming the
    id. Checked on the ids' hashes (8 bytes a request); only when two hashes meet are the
    requests walked again to find the id."""
    hashes = np.sort(np.frombuffer(id_hashes, dtype=np.int64))
    repeated = set(hashes[1:][hashes[1:] == hashes[:-1]].tolist())
    if not repeated:
        return
    seen: set[str] = set()
    for request in requests():
        cid = request.custom_id
        if hash(cid) not in repeated:
            continue
        if cid in seen:
            raise InvalidRequestError("duplicate custom_id in the requests (each row of the "
                                      "output must name one request)", custom_id=cid)
        seen.add(cid)


def _keys(vid: str, cid: str, request: Request, adapter: Adapter
          ) -> Iterator[tuple[str, bool]]:
    """The keys a request's rows may be under, each with whether it is an id (True) or a key
    made from the request's content (``Adapter.row_keys``)."""
    yield vid, True
    if cid != vid:
        yield cid, True
    try:
        keys = adapter.row_keys(request, vid)
    except InvalidRequestError:  # a request the vendor could not take has no row of its own
        return
    for key in keys:
        yield key, False


def _read_at(path: Path, offset: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(offset)
        return fh.readline()


def _joined(requests: Iterable[Request], index: _RowIndex, adapter: Adapter,
            resolve: ModelResolver) -> Iterator[Result]:
    """One Result per request, in input order, from the rows each one claimed."""
    handles: dict[Path, Any] = {}
    try:
        for position, request in enumerate(requests):
            found = []
            for path, offset in index.rows_of(position):
                fh = handles.get(path) or handles.setdefault(path, open(path, "rb"))  # noqa: SIM115
                fh.seek(offset)
                found.append(_decoded(adapter, fh.readline(), f"{path.name} at byte {offset}"))
            yield _for_request(request, found, resolve)
    finally:
        for fh in handles.values():
            fh.close()


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
        _parse(result, response_model_path(model), resolve)
    return result
