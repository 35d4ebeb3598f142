"""Job and shard states, and the one table of allowed transitions. Pure: no I/O.

Every vendor has its own status vocabulary; each adapter maps it into :class:`JobState`, and the
store refuses any change the table below does not allow, so a stale poll can never move a
finished job backwards.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from ._exceptions import InvalidTransitionError

__all__ = ["TERMINAL_STATES", "JobState", "aggregate_state", "can_transition", "check_transition"]


class JobState(str, enum.Enum):
    """Where a job (or one of its shards) stands."""

    PENDING = "pending"
    """Journaled locally, not yet accepted by the vendor."""
    VALIDATING = "validating"
    """The vendor is checking the input."""
    QUEUED = "queued"
    """Accepted, waiting for capacity."""
    RUNNING = "running"
    """Requests are being processed."""
    FINALIZING = "finalizing"
    """Processing is over; the vendor is preparing result files."""
    COMPLETED = "completed"
    """Results are ready (individual requests may still have failed)."""
    FAILED = "failed"
    """The vendor rejected the batch as a whole; no request ran."""
    EXPIRED = "expired"
    """The completion window passed; finished requests have results, the rest expired."""
    CANCELLING = "cancelling"
    """A cancel was requested and the vendor is winding down."""
    CANCELLED = "cancelled"
    """Cancelled; requests that finished before the cancel have results."""

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {JobState.COMPLETED, JobState.FAILED, JobState.EXPIRED, JobState.CANCELLED}
)

_S = JobState
_ACTIVE = (_S.VALIDATING, _S.QUEUED, _S.RUNNING, _S.FINALIZING)

# Vendors skip steps (a poll may first see a batch already running or even done), so forward
# jumps are allowed; moving backwards never is. Any state may become FAILED: vendors report
# validation failure late. Cancelling may still end completed or expired if work finished first.
_TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    _S.PENDING: frozenset({*_ACTIVE, _S.CANCELLING, *TERMINAL_STATES}),
    _S.VALIDATING: frozenset({*_ACTIVE[1:], _S.CANCELLING, *TERMINAL_STATES}),
    _S.QUEUED: frozenset({*_ACTIVE[2:], _S.CANCELLING, *TERMINAL_STATES}),
    _S.RUNNING: frozenset({*_ACTIVE[3:], _S.CANCELLING, *TERMINAL_STATES}),
    _S.FINALIZING: frozenset({_S.CANCELLING, *TERMINAL_STATES}),
    _S.CANCELLING: frozenset(TERMINAL_STATES),
    _S.COMPLETED: frozenset(),
    _S.FAILED: frozenset(),
    _S.EXPIRED: frozenset(),
    _S.CANCELLED: frozenset(),
}


def can_transition(current: JobState, new: JobState) -> bool:
    """True if ``current -> new`` is allowed. Staying in the same state is always allowed."""
    return current == new or new in _TRANSITIONS[current]


def check_transition(current: JobState, new: JobState) -> None:
    """Raise :class:`InvalidTransitionError` unless ``current -> new`` is allowed."""
    if not can_transition(current, new):
        raise InvalidTransitionError(
            f"cannot move from {current.value!r} to {new.value!r}"
            + (" (terminal states are final)" if current.is_terminal else "")
        )


_PROGRESS_ORDER = (_S.PENDING, _S.VALIDATING, _S.QUEUED, _S.RUNNING, _S.FINALIZING)


def aggregate_state(states: Iterable[JobState]) -> JobState:
    """The state of a job from the states of its shards.

    While any shard is cancelling the job is cancelling; otherwise while any shard is still
    working the job is at its least advanced shard. Once all are terminal: completed if any shard
    completed (failed rows then show up as errored results), else cancelled, expired or failed
    in that order of precedence.
    """
    states = list(states)
    if not states:
        return _S.PENDING
    if _S.CANCELLING in states:
        return _S.CANCELLING
    working = [s for s in states if not s.is_terminal]
    if working:
        return min(working, key=_PROGRESS_ORDER.index)
    for state in (_S.COMPLETED, _S.CANCELLED, _S.EXPIRED):
        if state in states:
            return state
    return _S.FAILED
