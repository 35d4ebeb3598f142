"""``Limits.min_requests``: the vendor-neutral planner hook Bedrock's record minimum needs.

Tested with the fake provider (plus a minimum), so the rule is the planner's, not Bedrock's.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import batchkit as bk
from batchkit._exceptions import InvalidRequestError
from batchkit._plan import plan_shards
from batchkit.providers.base import Limits
from batchkit.testing import FakeAdapter


class MinimumAdapter(FakeAdapter):
    def limits(self, group: str) -> Limits:
        return replace(super().limits(group), min_requests=3)


def chats(n: int, **kw: Any) -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"r{i}", messages=[{"role": "user", "content": f"q{i}"}],
                           **kw) for i in range(n)]


def counts(requests: list[Any], tmp_path: Path, options: dict[str, Any] | None = None,
           **kw: Any) -> list[int]:
    plan = plan_shards(requests, MinimumAdapter("m", options), tmp_path / "plan", **kw)
    return [s.request_count for s in plan.shards]


def test_shards_at_or_above_the_minimum_pass(tmp_path: Path) -> None:
    assert counts(chats(7), tmp_path, {"max_requests": 4}) == [4, 3]
    mixed = chats(3) + [bk.EmbedRequest(custom_id=f"e{i}", text=f"t{i}") for i in range(3)]
    assert sorted(counts(mixed, tmp_path)) == [3, 3]


def test_a_small_last_shard_is_refused_with_an_even_split(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match=r"^shard 2 would send 1 chat request\(s\), "
                       r"below the provider's minimum of 3 per batch; pass shard_size=4 to "
                       r"split the 11 requests evenly$"):
        counts(chats(11), tmp_path, {"max_requests": 5})
    assert counts(chats(11), tmp_path / "again", {"max_requests": 5}, shard_size=4) == [4, 4, 3]


def test_a_caller_shard_size_that_leaves_a_remainder_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="pass shard_size=7 to split the 7"):
        counts(chats(7), tmp_path, shard_size=3)


def test_too_few_requests_in_all(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match=r"the job sends only 2 chat request\(s\): "
                       "send at least 3"):
        counts(chats(2), tmp_path)


def test_no_even_split_fits(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="send more requests, or a shard_size"):
        counts(chats(5), tmp_path, {"max_requests": 4})


def test_only_requests_actually_sent_count(tmp_path: Path) -> None:
    """Identical requests at temperature 0 are sent once, so four copies are one request."""
    copies = [bk.ChatRequest(custom_id=f"c{i}", temperature=0,
                             messages=[{"role": "user", "content": "same"}]) for i in range(4)]
    with pytest.raises(InvalidRequestError, match="sends only 1 chat request"):
        counts(copies, tmp_path)
    assert counts(copies, tmp_path / "sent", dedupe=False) == [4]


def test_no_minimum_no_check(tmp_path: Path) -> None:
    plan = plan_shards(chats(1), FakeAdapter("m"), tmp_path / "plan")
    assert [s.request_count for s in plan.shards] == [1]
