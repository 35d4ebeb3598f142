from __future__ import annotations

import itertools

import pytest

from batchkit import InvalidTransitionError, JobState
from batchkit._state import TERMINAL_STATES, aggregate_state, can_transition, check_transition

S = JobState
ORDER = [S.PENDING, S.VALIDATING, S.QUEUED, S.RUNNING, S.FINALIZING]


def expected(a: JobState, b: JobState) -> bool:
    """The rules, restated independently of the table."""
    if a == b:
        return True
    if a in TERMINAL_STATES:
        return False
    if b in TERMINAL_STATES:
        return True
    if a == S.CANCELLING:
        return False
    if b == S.CANCELLING:
        return True
    return ORDER.index(b) > ORDER.index(a)


@pytest.mark.parametrize(("a", "b"), list(itertools.product(JobState, JobState)))
def test_every_pair_of_states(a: JobState, b: JobState) -> None:
    assert can_transition(a, b) is expected(a, b)
    if expected(a, b):
        check_transition(a, b)
    else:
        with pytest.raises(InvalidTransitionError, match=f"{a.value!r} to {b.value!r}"):
            check_transition(a, b)


def test_terminal_states_are_exactly_four() -> None:
    assert {s for s in JobState if s.is_terminal} == {
        S.COMPLETED, S.FAILED, S.EXPIRED, S.CANCELLED}


@pytest.mark.parametrize(
    ("shards", "job"),
    [
        ([], S.PENDING),
        ([S.RUNNING, S.COMPLETED], S.RUNNING),
        ([S.FINALIZING, S.VALIDATING, S.COMPLETED], S.VALIDATING),
        ([S.RUNNING, S.CANCELLING], S.CANCELLING),
        ([S.COMPLETED, S.FAILED], S.COMPLETED),
        ([S.FAILED, S.CANCELLED], S.CANCELLED),
        ([S.EXPIRED, S.FAILED], S.EXPIRED),
        ([S.FAILED, S.FAILED], S.FAILED),
    ],
)
def test_aggregate_state(shards: list[JobState], job: JobState) -> None:
    assert aggregate_state(shards) == job
