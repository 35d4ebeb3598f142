"""Item retries: resubmit the requests that failed for a passing reason, as follow-up shards.

A batch can come back with a few requests rate-limited, hit by a server error, or expired
before they ran. With ``retry=N`` on submit, once every shard of a round has finished, the
requests whose result is retryable (see :func:`is_retryable`) are copied — their exact payload
lines, under the same vendor ids — into new shards journaled as the next *attempt*, and sent.
At most N such rounds run. When results are read, a later attempt's result replaces the earlier
one for the same request, and ``Result.attempts`` says how many times it was sent.

Retries never break the job's budget: the submission estimate gives an upper-bound cost per
request sent, and a round only retries as many requests as that bound lets the cap still hold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ._collect import ResultCollector
from ._inputs import restore_inputs
from ._normalize import ModelResolver
from ._plan import OpenShard, PlannedShard
from ._queue import token_limit
from ._results import Result
from .providers.base import Adapter
from .store import ShardRecord, SQLStore

__all__ = ["RetryRound", "is_retryable", "journal_retry_round", "retry_allowance",
           "write_retry_shards"]


def is_retryable(result: Result) -> bool:
    """Worth sending again: it expired unrun, or the vendor called its error transient."""
    if result.status == "expired":
        return True
    return result.status == "errored" and result.error is not None and result.error.retryable


@dataclass(frozen=True)
class RetryRound:
    """The follow-up shards of one round, written to disk but not yet journaled."""

    attempt: int
    shards: list[PlannedShard]
    request_count: int
    dropped: int
    """Retryable requests left out: retrying them could break ``max_cost_usd``, or they are
    too few for the vendor's smallest batch."""


def retry_allowance(estimate: dict[str, Any] | None, already_retried: int) -> int | None:
    """How many more requests may be retried within the budget (None: no budget was set).

    The bound is the submission's upper-bound batch cost per request sent, times the requests
    sent again so far: conservative, since a retried request usually cost nothing the first time.
    """
    if not estimate or estimate.get("max_cost_usd") is None:
        return None
    sent = int(estimate.get("requests_sent") or 0)
    bound = float(estimate.get("batch_cost_max") or 0.0)
    if sent <= 0 or bound <= 0:
        return None
    per_request = bound / sent
    room = float(estimate["max_cost_usd"]) - bound - per_request * already_retried
    return max(0, int(room / per_request + 1e-9))


def write_retry_shards(
    sources: list[tuple[ShardRecord, set[int]]],
    adapter: Adapter,
    folder: Path,
    *,
    first_index: int,
    attempt: int,
    allowance: int | None,
    max_tokens: int | None = None,
) -> RetryRound:
    """Copy the payload lines of the chosen requests into new shard files.

    ``sources`` pairs each finished shard with the input positions to retry from it. Lines are
    copied byte for byte, so the vendor sees the same request under the same id; the request
    index records are copied too, with their new line numbers. With an enqueued-token limit
    (``max_tokens``) the token counts journaled at planning come along and cut shards as there.
    """
    shards: list[PlannedShard] = []
    open_by_group: dict[str, OpenShard] = {}
    taken = dropped = 0
    try:
        for shard, positions in sources:
            wanted: dict[int, dict[str, Any]] = {}
            with open(shard.requests_path, "rb") as index:
                for raw in index:
                    rec = orjson.loads(raw)
                    if rec["ln"] is not None and rec["i"] in positions:
                        wanted[rec["ln"]] = rec
            if not wanted:
                continue
            limits = adapter.limits(shard.group)
            with open(shard.payload_path, "rb") as payload:
                for line_no, line in enumerate(payload, start=1):
                    rec = wanted.get(line_no)
                    if rec is None:
                        continue
                    if allowance is not None and taken >= allowance:
                        dropped += 1
                        continue
                    body = line.rstrip(b"\n")
                    tokens = int(rec.get("tk", 0))
                    current = open_by_group.get(shard.group)
                    if current is None or not current.fits(len(body) + 1, 1, tokens):
                        if current is not None:
                            current.close()
                        current = open_by_group[shard.group] = OpenShard.new(
                            folder, first_index + len(shards), shard.group, limits, max_tokens)
                        shards.append(current.shard)
                    record = orjson.dumps({**rec, "ln": current.shard.request_count + 1})
                    current.add(body, record, 1, tokens)
                    taken += 1
    finally:
        for open_shard in open_by_group.values():
            open_shard.close()
    # A vendor with a per-batch minimum would reject a small retry shard outright:
    # those requests keep their first result instead.
    kept = []
    for planned in shards:
        minimum = adapter.limits(planned.group).min_requests
        if minimum is not None and planned.request_count < minimum:
            taken -= planned.request_count
            dropped += planned.request_count
            planned.payload_path.unlink()
            planned.requests_path.unlink()
        else:
            kept.append(planned)
    return RetryRound(attempt, kept, taken, dropped)


def journal_retry_round(store: SQLStore, job_id: str, adapter: Adapter, folder: Path,
                        fetch: Callable[[ShardRecord], list[Path]],
                        models: ModelResolver) -> bool:
    """Plan the next round from the last one's retryable failures and journal its shards;
    False when none is due (no retryable failure, rounds used up, cancel asked, no budget).
    The caller holds the job lease and sends the journaled shards."""
    job = store.get_job(job_id)
    shards = store.get_shards(job_id)
    attempt = max(s.attempt for s in shards)
    if job.cancel_requested or attempt > job.retries:
        return False
    collector = ResultCollector(shards, fetch, adapter.decode, models)
    sources = []
    for shard in shards:
        if shard.attempt == attempt and shard.request_count:
            positions = {pos for pos, result in collector.shard_results(shard)
                         if is_retryable(result)}
            if positions:  # its lines are copied: rebuilt first if they were deleted
                restore_inputs(shard, shards, need_payload=True)
                sources.append((shard, positions))
    if not sources:
        return False
    already = sum(s.request_count for s in shards if s.attempt > 1)
    limit = token_limit(job.options)
    planned = write_retry_shards(
        sources, adapter, folder, first_index=len(shards), attempt=attempt + 1,
        allowance=retry_allowance(job.estimate, already), max_tokens=limit,
    )
    if not planned.shards:
        return False
    detail = (f"attempt {planned.attempt}: {planned.request_count} request(s) sent again"
              + (f", {planned.dropped} left out (budget or the vendor's minimum batch)"
                 if planned.dropped else ""))
    store.add_shards(job_id, [
        ShardRecord(job_id=job_id, index=p.index, key=f"{job_id}-{p.index:04d}",
                    group=p.group, request_count=p.request_count,
                    payload_path=str(p.payload_path), requests_path=str(p.requests_path),
                    attempt=planned.attempt,
                    input_tokens=None if limit is None else p.input_tokens)
        for p in planned.shards
    ], detail)
    return True
