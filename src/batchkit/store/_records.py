"""What the store keeps about jobs and shards (plain data; no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._state import JobState

__all__ = ["Event", "JobRecord", "ShardRecord"]


@dataclass
class JobRecord:
    """One job: a set of requests sent to one ``provider:model``, split into shards."""

    id: str
    provider: str
    state: JobState
    request_count: int
    folder: str
    """The job's private folder: shard payloads, request indexes and downloaded results."""
    options: dict[str, Any] = field(default_factory=dict)
    """Adapter options (never credentials)."""
    created_at: float = 0.0
    updated_at: float = 0.0
    cancel_requested: bool = False
    estimate: dict[str, Any] | None = None
    """The cost estimate made at submission (when a budget was set), for status reports."""
    actual_cost_usd: float | None = None
    """What the job cost, once its results were collected (None: not yet, or no price)."""
    retries: int = 0
    """How many follow-up rounds may resubmit the requests that failed retryably."""
    settled_at: float | None = None
    """When a worker found the job needing nothing more (see ``_worker``); None: not yet."""


@dataclass
class ShardRecord:
    """One vendor batch of a job. ``remote_id`` stays None until the vendor has accepted it."""

    job_id: str
    index: int
    key: str
    """Idempotency key, journaled before the vendor is called."""
    group: str
    request_count: int
    payload_path: str
    requests_path: str
    state: JobState = JobState.PENDING
    remote_id: str | None = None
    vendor_status: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    """Vendor validation errors (``line``, ``code``, ``message``) when the batch failed."""
    result_paths: list[str] | None = None
    """Downloaded result files; None until fetched."""
    updated_at: float = 0.0
    attempt: int = 1
    """1 for the shards planned at submission; n for the shards of retry round n - 1."""
    input_tokens: int | None = None
    """Input tokens counted at planning, for the enqueued-token limit (None: no limit set)."""
    send_started: float | None = None
    """When a create was first attempted; None means the vendor cannot have this shard, so it
    is sent without first being looked up by its key (a look-up that matches loosely, as
    Anthropic's by request count, could otherwise adopt another job's batch)."""


@dataclass(frozen=True)
class Event:
    """A recorded state change, for ``batchkit status`` and post-mortems."""

    job_id: str
    shard_index: int | None
    old_state: str | None
    new_state: str
    at: float
    detail: str = ""
