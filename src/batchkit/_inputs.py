"""A retry shard's files are derived data: rebuilt from the journal when they go missing.

Why: a retry round's payload and request index are copies of first-round lines (``_retry``),
so a user who clears files from a job folder, or a crash between writing them and using them,
must not strand the round. The journal lists each retry shard's input positions
(``store._journaled``); with the first round's files those give back the very same lines
under the same vendor ids. A first-round file has no other copy batchkit can read, so its loss
is reported in one line instead of a ``FileNotFoundError``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from ._exceptions import BatchkitError
from .providers.base import open_private
from .store import ShardRecord
from .store._integrity import journaled_positions

__all__ = ["restore_inputs"]


def restore_inputs(shard: ShardRecord, shards: list[ShardRecord], *, need_payload: bool) -> None:
    """Make sure ``shard``'s request index (and, with ``need_payload``, its payload) exist.

    Raises a one-line :class:`BatchkitError` when they cannot be rebuilt.
    """
    payload, index = Path(shard.payload_path), Path(shard.requests_path)
    if index.exists() and (payload.exists() or not need_payload):
        return
    where = f"job {shard.job_id}: shard {shard.index}"
    if shard.attempt == 1:
        gone = index if not index.exists() else payload
        raise BatchkitError(
            f"{where}: its file {gone} is gone, and batchkit keeps no other copy of a job's "
            "requests; restore the file, or forget the job and submit the requests again")
    if index.exists():
        with open(index, "rb") as fh:
            records = [orjson.loads(raw) for raw in fh]
    else:
        positions = journaled_positions(index.parent, shard.index)
        if positions is None:
            raise BatchkitError(f"{where}: its request index {index} is gone and the job's "
                                "journal does not list the retried requests")
        records = _first_round_records(set(positions), shards, where)
    _write(records, shards, payload, index, where)


def _first_round_records(positions: set[int], shards: list[ShardRecord],
                         where: str) -> list[dict[str, Any]]:
    """The first round's index records of ``positions``, in the order ``_retry`` copies them
    (shard by shard, line by line), renumbered as the retry shard's lines."""
    found: list[dict[str, Any]] = []
    for source in (s for s in shards if s.attempt == 1):
        with open(_existing(source.requests_path, where), "rb") as fh:
            chosen = [rec for rec in map(orjson.loads, fh)
                      if rec["i"] in positions and rec["ln"] is not None]
        found.extend(sorted(chosen, key=lambda rec: rec["ln"]))
    if len(found) != len(positions):
        raise BatchkitError(f"{where}: {len(positions) - len(found)} retried request(s) are in "
                            "no first-round shard")
    return [{**rec, "ln": n} for n, rec in enumerate(found, 1)]


def _write(records: list[dict[str, Any]], shards: list[ShardRecord], payload: Path,
           index: Path, where: str) -> None:
    """Write the payload lines of ``records`` (copied from the first round's payloads by input
    position) and their index, each to a temporary name renamed into place."""
    lines = _source_lines({int(rec["i"]) for rec in records}, shards, where)
    for target, rows in ((payload, [lines[int(rec["i"])] for rec in records]),
                         (index, [orjson.dumps(rec) for rec in records])):
        partial = target.with_name(target.name + ".partial")
        with open_private(partial) as fh:
            for row in rows:
                fh.write(row + b"\n")
        os.replace(partial, target)


def _source_lines(positions: set[int], shards: list[ShardRecord],
                  where: str) -> dict[int, bytes]:
    """The first round's payload line of each input position in ``positions``."""
    lines: dict[int, bytes] = {}
    for source in (s for s in shards if s.attempt == 1):
        with open(_existing(source.requests_path, where), "rb") as fh:
            wanted = {rec["ln"]: rec["i"] for rec in map(orjson.loads, fh)
                      if rec["i"] in positions and rec["ln"] is not None}
        if not wanted:
            continue
        with open(_existing(source.payload_path, where), "rb") as fh:
            for number, line in enumerate(fh, start=1):
                if number in wanted:
                    lines[wanted[number]] = line.rstrip(b"\n")
    missing = positions - set(lines)
    if missing:
        raise BatchkitError(f"{where}: the first-round lines of {len(missing)} retried "
                            "request(s) are missing")
    return lines


def _existing(path: str, where: str) -> str:
    if not Path(path).exists():
        raise BatchkitError(f"{where} cannot be rebuilt: the first-round file {path} is gone "
                            "too, and batchkit keeps no other copy of a job's requests")
    return path
