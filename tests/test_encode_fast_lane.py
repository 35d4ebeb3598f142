"""The planner's fast lane (``_plan_fast``) writes the files and raises the errors of planning
every request by itself, on every vendor, and is really taken where it can be.

Each job is planned twice, ``plan_shards(..., shapes=True)`` (the lane, as ``bk.encode`` and
``bk.submit`` plan) and ``shapes=False`` (every request checked and encoded one by one), and
every file written, or the refusal, must be the same. The jobs mix shapes in runs and one by
one, cross the lane's 256-request windows and hold the values a splice must not take (ids a
vendor rewrites or that are not ASCII, blank texts, escapes), so both ways meet all of them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit._exceptions import BatchkitError
from batchkit._plan import plan_shards
from batchkit._registry import available_providers, make_adapter
from batchkit.providers.base import Adapter, Limits

from .test_encode_identity import COLUMNS


class Verdict(BaseModel):
    spam: bool
    reason: str


SYSTEM = {"role": "system", "content": "Spam or ham? 100% sure, %s %b"}
ODD_TEXT = 'a "quote", a \\ backslash\tand\nnewline, é ü 😀 \u2028 \x01 ","'


def _text(i: int) -> str:
    return ODD_TEXT if i % 97 == 0 else f"email {i}: your invoice #{i} is attached"


def _chat(i: int, shape: str, cid: str | None = None) -> bk.ChatRequest:
    user = {"role": "user", "content": _text(i)}
    shapes: dict[str, dict[str, Any]] = {
        "structured": {"messages": [SYSTEM, user], "max_tokens": 100, "response_model": Verdict},
        "user_only": {"messages": [user]},
        "stops": {"messages": [user], "max_tokens": 30, "stop": ["END"]},
        "turns": {"messages": [SYSTEM, user, {"role": "assistant", "content": "Spam."},
                               {"role": "user", "content": f"Sure? ({i})"}], "max_tokens": 20},
        "metadata": {"messages": [user], "metadata": {"row": i}},
    }
    return bk.ChatRequest(custom_id=cid or f"r-{i}", **shapes[shape])


def chat_job() -> list[bk.ChatRequest]:
    """A run of 300 (over a window), a run with odd ids, then shapes one by one."""
    job = [_chat(i, "structured") for i in range(300)]
    job += [_chat(i, "stops", cid) for i, cid in enumerate(
        [f"needs/escaping id {i}" if i % 3 else f"é-{i}" if i % 5 else "x" * 80 + str(i)
         for i in range(300, 580)], start=300)]
    # a copy made without validation in a run: max_tokens 30.0 (a float) is not 30
    job[450] = job[450].model_copy(update={"custom_id": "copied", "max_tokens": 30.0})
    shapes = ["user_only", "stops", "turns", "metadata", "structured"]
    return job + [_chat(i, shapes[i % len(shapes)]) for i in range(580, 700)]


def planned(requests: Iterable[Any], adapter: Adapter, shapes: bool,
            **options: Any) -> dict[str, Any] | str:
    """Every file the planner writes and its plan's figures, or the refusal."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            plan = plan_shards(requests, adapter, Path(tmp), shapes=shapes,
                               enforce_minimum=False, **options)
        except BatchkitError as exc:
            return f"{type(exc).__name__}: {exc}"
        files: dict[str, Any] = {p.name: p.read_bytes() for p in sorted(Path(tmp).iterdir())}
        return files | {"count": plan.request_count, "duplicates": plan.duplicates,
                        "shards": [(s.index, s.group, s.request_count, s.byte_count,
                                    s.embedding_inputs) for s in plan.shards]}


def both_ways(requests: Callable[[], Iterable[Any]], adapter: Adapter,
              **options: Any) -> dict[str, Any] | str:
    """The lane's files, asserted equal to the whole way's."""
    fast = planned(requests(), adapter, True, **options)
    assert fast == planned(requests(), adapter, False, **options)
    return fast


VENDORS = {**COLUMNS, "fake": ("fake:m", "fake:e", {})}
"""Every registered vendor (the test vendor too), with the endpoints and models that change
how a line is spelt."""


def test_every_registered_vendor_is_covered() -> None:
    assert {name for name, _, _ in available_providers()} <= {
        column.split("-")[0] for column in VENDORS}


@pytest.mark.parametrize("column", list(VENDORS))
def test_every_vendor_writes_the_same_files_with_and_without_the_lane(column: str) -> None:
    chat, embed, options = VENDORS[column]
    job = chat_job()
    adapter, calls = _counting(chat, options)
    written = planned(job, adapter, True)
    assert calls[0] < len(job) / 2, "the lane took the runs (a few probes per shape)"
    assert written == planned(job, adapter, False)
    if not column.endswith("responses"):  # the others refuse a stop sequence
        assert isinstance(written, dict) and written["count"] == len(job)
    if embed is not None:
        texts = [bk.EmbedRequest(custom_id=f"e{i}", text=_text(i % 400)) for i in range(700)]
        for dedupe in (True, False):  # with dedupe, embeddings take the whole way for copies
            adapter, calls = _counting(embed, options)
            written = planned(texts, adapter, True, dedupe=dedupe)
            assert (calls[0] < len(texts) / 4) == (not dedupe)
            assert written == planned(texts, adapter, False, dedupe=dedupe)


def _counting(provider: str, options: dict[str, Any] | None = None) -> tuple[Adapter, list[int]]:
    """The adapter of ``provider``, counting the lines its encoder writes."""
    adapter, calls = make_adapter(provider, dict(options or {})), [0]
    encode = adapter.encode

    def counted(request: Any, vendor_id: str) -> bytes:
        calls[0] += 1
        return encode(request, vendor_id)

    adapter.encode = counted  # type: ignore[method-assign]
    return adapter, calls


@pytest.mark.parametrize("provider", ["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5",
                                      "bedrock:anthropic.claude-3-5-haiku-20241022-v1:0"])
def test_the_lane_encodes_once_per_shape_not_once_per_request(provider: str) -> None:
    adapter, calls = _counting(provider)
    requests = [_chat(i, "structured") for i in range(1000)]
    requests += [_chat(i, "user_only", f"needs/escaping {i}") for i in range(1000, 2000)]
    written = planned(requests, adapter, True)
    assert isinstance(written, dict) and written["count"] == 2000
    assert calls[0] < 100, "each shape's probes (two dozen), not each request"
    planned(requests, adapter, False)
    assert calls[0] > 2000


def _whole_and_fast_error(requests: list[Any], provider: str, **options: Any) -> str:
    adapter = make_adapter(provider)
    fast = planned(requests, adapter, True, **options)
    assert isinstance(fast, str), "the job must be refused"
    assert fast == planned(requests, adapter, False, **options)
    return fast


def test_a_bad_request_in_a_run_is_refused_at_its_position_as_one_by_one() -> None:
    job = [_chat(i, "structured") for i in range(600)]
    blank = job[300].model_copy(update={"messages": [job[300].messages[0], bk.Message(
        role="user", content="   ")]})  # blank text: Anthropic refuses it, OpenAI takes it
    job[300] = blank
    assert "request 601" in _whole_and_fast_error(
        [*job, "not a request"], "openai:gpt-4o-mini")
    assert "r-300" in _whole_and_fast_error(job, "anthropic:claude-haiku-4-5")


def test_a_duplicate_id_in_a_run_names_both_positions() -> None:
    job = [_chat(i, "structured") for i in range(600)]
    job[450] = _chat(450, "structured", "r-7")
    error = _whole_and_fast_error(job, "openai:gpt-4o-mini")
    assert "duplicate custom_id" in error and "r-7" in error and "request 8" in error
    inside = [_chat(i, "structured", "same" if i in (260, 261) else None) for i in range(600)]
    assert "request 261" in _whole_and_fast_error(inside, "openai:gpt-4o-mini")


class _Underscores(type(make_adapter("openai:gpt-4o-mini"))):  # type: ignore[misc]
    """OpenAI's lines under ids with ``/`` made ``_``: two ids can map to one vendor id."""

    def vendor_id(self, custom_id: str) -> str:
        return custom_id.replace("/", "_")


def test_an_id_rewritten_onto_another_requests_id_is_refused_as_one_by_one() -> None:
    adapter = _Underscores("gpt-4o-mini")
    for taken_at in (5, 299, 400):  # an earlier id, one in the same window, a later one
        job = [_chat(i, "user_only", f"a/{i}") for i in range(300)]
        job += [_chat(i, "user_only") for i in range(300, 600)]
        job[taken_at] = _chat(taken_at, "user_only", "a_7" if taken_at < 300 else "a_8")
        error = both_ways(lambda j=job: j, adapter)  # type: ignore[misc]
        assert "vendor id" in str(error)
    fine = both_ways(lambda: [_chat(i, "user_only", f"a/{i}") for i in range(600)], adapter)
    assert isinstance(fine, dict) and b'"a_599"' in fine["shard-0000.payload.jsonl"]


def test_an_iterable_that_fails_midway_fails_after_the_requests_before_it() -> None:
    def rows(bad_at: int) -> Iterator[bk.ChatRequest]:
        for i in range(600):
            if i == 500:
                raise ValueError("the source broke")
            yield _chat(i, "user_only", "dup" if i in (0, bad_at) else None)

    adapter = make_adapter("openai:gpt-4o-mini")
    for shapes in (True, False):  # a bad request before the break is the error, else the break
        assert "duplicate" in str(planned(rows(400), adapter, shapes))
        with pytest.raises(ValueError, match="broke"):
            planned(rows(550), adapter, shapes)


class _SmallShards(type(make_adapter("openai:gpt-4o-mini"))):  # type: ignore[misc]
    """OpenAI's lines in shards of at most 9,000 bytes and 60 requests, keyed case-blind."""

    case_insensitive_ids = True

    def limits(self, group: str) -> Limits:
        return Limits(max_requests=60, max_bytes=9_000, max_line_bytes=2_000)


def test_shards_are_cut_by_count_and_bytes_where_one_by_one_cuts_them() -> None:
    adapter = _SmallShards("gpt-4o-mini")
    job = [_chat(i, "user_only") for i in range(700)]
    job[333] = _chat(333, "user_only", "x" * 20)
    job[500] = job[500].model_copy(update={"messages": [bk.Message(role="user",
                                                                   content="long " * 500)]})
    error = both_ways(lambda: job, adapter)
    assert isinstance(error, str) and "over the provider's limit" in error and "r-500" in error
    del job[500]
    written = both_ways(lambda: job, adapter, shard_size=45)
    assert isinstance(written, dict) and len(written["shards"]) > 15
    written = both_ways(lambda: job, adapter)
    assert isinstance(written, dict)
    assert {count for _, _, count, _, _ in written["shards"]} != {60}, "bytes cut some"
    job[600] = _chat(600, "user_only", "R-7")
    assert "letter case" in str(both_ways(lambda: job, adapter))


def test_observe_sees_every_request_sent_in_order() -> None:
    job = chat_job()
    seen: dict[bool, list[str]] = {True: [], False: []}
    for shapes in (True, False):
        planned(job, make_adapter("openai:gpt-4o-mini"), shapes,
                observe=lambda r, s=shapes: seen[s].append(r.custom_id))
    assert seen[True] == seen[False] == [r.custom_id for r in job]
