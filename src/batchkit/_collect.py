"""Reading a finished job's results back: every shard normalized, retry rounds folded in.

A job's first-round shards hold every request; retry rounds (see ``_retry``) hold copies of
the requests sent again. Reading back therefore runs the rounds newest first, so that each
round's results replace the round before's for the requests they share, and ends with the
first round's shards streamed in input order, carrying every request's latest result.
Only the retry rounds' results are held in memory (they are the few that failed); the first
round streams one shard per group at a time.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ._cache import ResultCache
from ._exceptions import ProviderError
from ._inputs import restore_inputs
from ._normalize import (
    Fill,
    ModelResolver,
    ShardOutcome,
    lines_before,
    merge_in_order,
    normalize_shard,
)
from ._parallel import decode_processes, file_bytes, shards_in_processes
from ._plan import read_request_records
from ._results import Result
from .providers.base import Adapter
from .store import ShardRecord

__all__ = ["ResultCollector", "download_shard", "rejection_lines"]

_Download = tuple[Path, list[Path]]
"""A try's own folder and the files the adapter wrote there."""


class ResultCollector:
    """Turns a job's finished shards into Results; ``fetch`` downloads a shard's result files."""

    def __init__(
        self,
        shards: list[ShardRecord],
        fetch: Callable[[ShardRecord], list[Path]],
        decode: Callable[[bytes], Result],
        resolve: ModelResolver,
    ) -> None:
        self.shards = shards
        self.fetch, self.decode, self.resolve = fetch, decode, resolve
        self.unmatched: list[Any] = []
        """Vendor lines whose id matched no request, gathered while reading."""

    def shard_results(
        self,
        shard: ShardRecord,
        later: dict[int, Result] | None = None,
        shared: dict[str, Result | None] | None = None,
        cache: ResultCache | None = None,
        fill: Fill | None = None,
    ) -> Iterator[tuple[int, Result]]:
        """One finished shard's ``(input position, Result)`` pairs (see ``normalize_shard``)."""
        restore_inputs(shard, self.shards, need_payload=False)
        outcome = ShardOutcome(
            state=shard.state,
            line_errors={
                e["line"]: (e["code"], e["message"]) for e in shard.errors if e.get("line")
            },
            batch_message="; ".join(e["message"] for e in shard.errors if not e.get("line")),
        )
        return normalize_shard(
            read_request_records(shard.requests_path), self.fetch(shard), self.decode, outcome,
            self.resolve, self.unmatched, shared, cache, attempt=shard.attempt, later=later,
            fill=fill,
        )

    def in_input_order(self) -> Iterator[Result]:
        """Every request's latest Result, in input order."""
        first_round = [s for s in self.shards if s.attempt == 1]
        shared: dict[str, Result | None] = {}
        uses_cache = False
        for shard in first_round:
            restore_inputs(shard, self.shards, need_payload=False)  # a one-line error if gone
            index = Path(shard.requests_path)
            # rows counted, not decoded: the index is read whole only where a row can be a copy
            each_row_sent = lines_before(index, index.stat().st_size) == shard.request_count
            for rec in read_request_records(shard.requests_path):
                uses_cache = uses_cache or rec.cache_key is not None
                if rec.line is None and rec.cache_key is None:
                    shared[rec.vendor_id] = None
                if each_row_sent:  # no row is a copy, and a job with a cache keys each line
                    break  # it sends: the first row tells all
        later: dict[int, Result] = {}
        for attempt in sorted({s.attempt for s in self.shards if s.attempt > 1}, reverse=True):
            later = {
                position: result
                for shard in self.shards if shard.attempt == attempt
                for position, result in self.shard_results(shard, later)
            }
        alone = not shared and not uses_cache  # every shard decodes alone
        processes = decode_processes(len(first_round) if alone else 1,
                                     sum(shard.request_count for shard in first_round),
                                     lambda: sum(self._result_bytes(first_round)))
        if processes > 1:
            self._result_bytes(first_round)  # every download done here, before the fork
            with shards_in_processes(
                lambda shard, fill: self.shard_results(shard, later, fill=fill), self.decode,
                first_round, processes,
            ) as streams:
                yield from merge_in_order(streams)
            return
        cache = ResultCache() if uses_cache else None
        streams = [
            (shard.group, self.shard_results(shard, later, shared, cache))
            for shard in first_round
        ]
        try:
            yield from merge_in_order(streams)
        finally:
            if cache is not None:
                cache.close()

    def _result_bytes(self, shards: list[ShardRecord]) -> list[int]:
        """Each shard's result bytes, downloading any not here yet: here, before a fork, and
        noted on the shard's record (as the store has it) so that a forked process finds the
        files instead of downloading them again and writing to the store."""
        sizes = []
        for shard in shards:
            paths = self.fetch(shard)
            shard.result_paths = [str(p) for p in paths]
            sizes.append(file_bytes(paths))
        return sizes


def rejection_lines(failed: list[ShardRecord]) -> list[str]:
    """``custom_id 'x': code: message`` for each line the vendor rejected in ``failed`` shards
    (``shard N: ...`` where the vendor named no line)."""
    lines: list[str] = []
    for shard in failed:
        wanted = {e["line"] for e in shard.errors if e.get("line")}
        ids = {
            rec.line: rec.custom_id
            for rec in (read_request_records(shard.requests_path) if wanted else ())
            if rec.line is not None and rec.line in wanted
        }
        for err in shard.errors or [{"line": None, "code": "batch_failed", "message": ""}]:
            line = err.get("line")
            who = f"custom_id {ids[line]!r}" if line in ids else f"shard {shard.index}"
            lines.append(f"{who}: {err['code']}: {err['message']}")
    return lines


def download_shard(
    adapter: Adapter, folder: Path, index: int, remote_id: str,
    patiently: Callable[[Callable[[], _Download]], _Download],
) -> list[Path]:
    """Download a finished shard's result files into ``folder``; returns where they are.

    Each try downloads into a folder of its own that is renamed into place whole, so a cut
    download leaves nothing trusted behind and two readers of one job (a notebook and
    ``batchkit results``) never cut each other's files: the second rename finds the first
    one's complete files there and uses them. ``patiently`` retries passing failures.
    """
    final = folder / f"shard-{index:04d}.results"

    def download() -> _Download:
        partial = Path(tempfile.mkdtemp(prefix=f"{final.name}.partial-", dir=folder))
        try:
            return partial, adapter.fetch_results(remote_id, adapter.poll(remote_id), partial)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise

    partial, paths = patiently(download)
    strays = [p for p in paths if p.resolve().parent != partial.resolve()]
    if strays:  # defence in depth: vendor text must never steer where files go
        shutil.rmtree(partial, ignore_errors=True)
        raise ProviderError(f"shard {index}: result files outside the job folder: {strays}")
    try:
        os.rename(partial, final)
    except OSError:  # another reader renamed the same batch's files into place first...
        if all((final / p.name).exists() for p in paths):
            shutil.rmtree(partial, ignore_errors=True)
        else:  # ...or a copy that lost files (local files are a cache): this one replaces it
            shutil.rmtree(final, ignore_errors=True)
            try:
                os.replace(partial, final)
            except OSError:  # a third reader was quicker still: its files are checked below
                shutil.rmtree(partial, ignore_errors=True)
    kept = [final / p.name for p in paths]
    if not all(p.exists() for p in kept):
        raise ProviderError(f"shard {index}: result files incomplete in {final}; remove that "
                            "folder and read the results again")
    return kept
