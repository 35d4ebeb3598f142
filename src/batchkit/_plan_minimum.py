"""The per-batch minimum some providers set (Bedrock: 100 records), checked on a plan.

Why apart from the planner: it is a check of the planned shards, made once the job's mode is
known (a job that may yet run in real time has no minimum), not a step of planning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._exceptions import InvalidRequestError

if TYPE_CHECKING:
    from ._plan import PlannedShard
    from .providers.base import Adapter

__all__ = ["check_minimum"]


def check_minimum(shards: list[PlannedShard], adapter: Adapter) -> None:
    """Refuse shards below the provider's per-batch minimum, naming a way to avoid them.

    Batch jobs only: a real-time job has no minimum. Shards are cut greedily while the
    requests stream past, so the last shard of a group can come out small; rather than
    re-balance files already written, the error names an even ``shard_size`` (or says to send
    more requests).
    """
    for group in dict.fromkeys(s.group for s in shards):
        limits = adapter.limits(group)
        minimum = limits.min_requests or 0
        sent = [s for s in shards if s.group == group and s.request_count]
        small = next((s for s in sent if s.request_count < minimum), None)
        if small is None:
            continue
        total = sum(s.request_count for s in sent)
        raise InvalidRequestError(
            f"shard {small.index} would send {small.request_count} {group} request(s), "
            f"below the provider's minimum of {minimum:,} per batch; "
            + _minimum_hint(group, total, minimum, limits.max_requests)
        )


def _minimum_hint(group: str, total: int, minimum: int, cap: int) -> str:
    """How to meet a per-batch minimum: more requests, or the even split into the fewest
    shards the provider's maximum allows."""
    if total < minimum:
        return f"the job sends only {total} {group} request(s): send at least {minimum:,}"
    count = -(-total // cap)
    size = -(-total // count)
    if min(size, total - size * (count - 1)) >= minimum:
        return f"pass shard_size={size} to split the {total:,} requests evenly"
    return f"send more requests, or a shard_size that leaves every shard {minimum:,} or more"
