"""Where each row of a vendor's output files is, by the hash of its id: the index ``bk.decode``
joins requests to rows with (see ``_decode``).

The index is built in one pass that reads each row's id and nothing else where the vendor's
adapter can (``Adapter.row_id``: an id in a line's first or last bytes is read there, while
the rest of an embedding line is 1,536 floats to parse); each row is then decoded once, when the
requests are walked. Rows are held as int64 numbers (the id's hash, the row's place in the
files, the request that claimed it), never as rows.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ._batched import batched
from ._exceptions import InvalidRequestError
from ._normalize import readable_id
from ._requests import ChatRequest, Request, response_model_path
from .providers.base import Adapter

__all__ = ["DECODE_ERRORS", "FILE_BITS", "NO_ROW", "READ_BUFFER", "RowIndex", "rows", "whole"]

DECODE_ERRORS = (ValueError, KeyError, TypeError, AttributeError)
"""What a vendor decoder raises for a line it cannot read (see ``Adapter.decode``)."""
FILE_BITS = 8
"""A row's place is packed in one int64: its byte offset, then its file's number in 8 bits."""
READ_BUFFER = 1 << 16
"""Bytes read from a file at once: the default 8 KiB takes three reads and joins per 21 KB
embedding line, four times slower than reading the line from a 64 KiB buffer."""
NO_ROW, SEVERAL_ROWS = -1, -2
"""``RowIndex.places_in_order`` for a request with no row, and with more than one."""
_CHUNK = 1 << 16
"""Requests whose row places are turned into Python ints at a time (memory stays flat)."""
_CLAIM_CHUNK = 1 << 10
"""Requests whose ids are looked up in the index at once (one ``searchsorted`` for them all)."""


def rows(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """``(line number, byte offset, line)`` of each non-blank line, read one at a time."""
    offset = 0
    with open(path, "rb", buffering=READ_BUFFER) as fh:
        for line_no, raw in enumerate(fh, start=1):
            if not raw.isspace():
                yield line_no, offset, raw
            offset += len(raw)


def whole(raw: bytes) -> Any:
    """A row as the vendor wrote it: its JSON, or its text when it is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace").rstrip("\n")


class RowIndex:
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
            for line_no, offset, raw in rows(path):
                key = adapter.row_id(raw)
                if key is None:
                    try:
                        key = adapter.decode(raw).custom_id
                    except DECODE_ERRORS as exc:
                        key = readable_id(raw)
                        if key is None:
                            self.no_id.append({"file": path.name, "line": line_no,
                                               "error": str(exc), "row": whole(raw)})
                            continue
                hashes.append(hash(key))
                places.append(offset << FILE_BITS | number)
        order = np.argsort(np.frombuffer(hashes, dtype=np.int64), kind="stable")
        self.hashes = np.frombuffer(hashes, dtype=np.int64)[order]
        self.places = np.frombuffer(places, dtype=np.int64)[order]
        self.owner = np.full(len(order), -1, dtype=np.int64)
        """The input position of the request that claimed each row (hash order), or -1."""
        self.place_of = np.zeros(0, dtype=np.int64)
        """Per request, its one row's place, ``NO_ROW`` or ``SEVERAL_ROWS``."""
        self.by_owner = self.owners_sorted = self.place_of
        """Rows sorted by the request that claimed them, and those requests: where the rows
        of a request with several are found."""

    def _free_rows(self, key: str) -> np.ndarray:
        wanted = hash(key)
        span = np.arange(np.searchsorted(self.hashes, wanted, "left"),
                         np.searchsorted(self.hashes, wanted, "right"))
        return span[self.owner[span] < 0]

    def claim(self, requests: Callable[[], Iterable[Request]], adapter: Adapter
              ) -> tuple[int, dict[str, Any]]:
        """Give each request the rows under its id: the id the vendor was sent
        (``vendor_id``), else the id itself (a foreign file's ids as they are), else the keys
        a vendor whose rows carry no id files them under (``Adapter.row_keys``).

        Returns the request count and the response models met, by import path.
        """
        count, models = 0, {}
        id_hashes = array("q")
        for chunk in batched(requests(), _CLAIM_CHUNK):
            vids = [adapter.vendor_id(request.custom_id) for request in chunk]
            wanted = np.fromiter((hash(vid) for vid in vids), dtype=np.int64, count=len(vids))
            starts = np.searchsorted(self.hashes, wanted, "left").tolist()
            ends = np.searchsorted(self.hashes, wanted, "right").tolist()
            for request, vid, start, end in zip(chunk, vids, starts, ends, strict=True):
                position, count = count, count + 1
                cid = request.custom_id
                id_hashes.append(hash(cid))
                if isinstance(request, ChatRequest) and request.response_model is not None:
                    models[response_model_path(request.response_model)] = request.response_model
                if end - start == 1 and self.owner[start] < 0:  # one free row under the id
                    self.owner[start] = position  # sent: what the key walk below would take
                    continue
                for key, by_id in _keys(vid, cid, request, adapter):
                    found = self._free_rows(key)
                    if len(found):  # rows under an id are all this request's (duplicates
                        # show); identical requests share a content key and take one row each
                        self.owner[found if by_id else found[:1]] = position
                        break
        _refuse_duplicate_ids(id_hashes, requests)
        taken = self.owner >= 0
        self.place_of = np.full(count, NO_ROW, dtype=np.int64)
        self.place_of[self.owner[taken]] = self.places[taken]
        self.place_of[np.bincount(self.owner[taken], minlength=count) > 1] = SEVERAL_ROWS
        self.by_owner = np.argsort(self.owner, kind="stable")
        self.owners_sorted = self.owner[self.by_owner]
        return count, models

    def places_in_order(self) -> Iterator[int]:
        """Each request's ``place_of``, in input order, as Python ints made a chunk at a time."""
        for start in range(0, len(self.place_of), _CHUNK):
            yield from self.place_of[start:start + _CHUNK].tolist()

    def places_of(self, position: int) -> list[int]:
        """The places of the rows the request at ``position`` claimed, in file order."""
        lo, hi = (np.searchsorted(self.owners_sorted, position, side) for side in ("left", "right"))
        return sorted(self.places[self.by_owner[lo:hi]].tolist(),
                      key=lambda p: (p & ((1 << FILE_BITS) - 1), p))

    def unclaimed(self) -> list[Any]:
        """Every row no request claimed, whole (its JSON as the vendor wrote it), file order."""
        mask = (1 << FILE_BITS) - 1
        left = sorted(self.places[self.owner < 0].tolist(), key=lambda p: (p & mask, p))
        kept = [whole(_read_at(self.files[p & mask], p >> FILE_BITS)) for p in left]
        return kept + self.no_id


def _read_at(path: Path, offset: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(offset)
        return fh.readline()


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
