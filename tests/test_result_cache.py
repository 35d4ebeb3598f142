"""The opt-in result cache: a re-run buys nothing it already has."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
from pydantic import BaseModel

import batchkit as bk
from batchkit._cache import ResultCache
from batchkit.testing import fake_submissions


class Answer(BaseModel):
    value: str


def _ask(i: int, **kw: object) -> bk.ChatRequest:
    return bk.ChatRequest(custom_id=f"q{i}", response_model=Answer, temperature=0,
                          messages=[{"role": "user", "content": f"question {i}"}],
                          metadata={"i": i}, **kw)  # type: ignore[arg-type]


def _sent(job: bk.Job) -> int:
    return sum(s.request_count for s in job.shards)


def test_rerun_with_cache_sends_nothing(clock: object, _isolated_home: Path) -> None:
    requests = [_ask(i) for i in range(50)]
    first = bk.submit(requests, "fake:m", cache=True, options={"max_requests": 20}, clock=clock)
    assert _sent(first) == 50
    first_results = first.wait().results()
    submitted = sum(fake_submissions().values())

    again = bk.submit(requests, "fake:m", cache=True, options={"max_requests": 20}, clock=clock)
    assert _sent(again) == 0
    assert again.state == bk.JobState.COMPLETED
    assert sum(fake_submissions().values()) == submitted  # nothing new at the vendor
    results = again.wait().results()
    assert [r.custom_id for r in results] == [f"q{i}" for i in range(50)]
    assert all(r.from_cache and isinstance(r.parsed, Answer) for r in results)
    assert [r.text for r in results] == [r.text for r in first_results]
    assert [r.metadata for r in results] == [{"i": i} for i in range(50)]
    assert results.cost_usd in (None, 0.0)
    mode = stat.S_IMODE((_isolated_home / "cache.db").stat().st_mode)
    assert mode == 0o600


def test_partial_hits_failures_not_cached_and_new_ids(clock: object) -> None:
    first = bk.submit([_ask(i) for i in range(10)], "fake:m", cache=True,
                      options={"errors": {"q3": "server_error"}}, clock=clock)
    first.wait().results()
    # Same requests under new ids, plus five new ones: q3 failed last time, so it is re-sent.
    renamed = [_ask(i).model_copy(update={"custom_id": f"again-{i}"}) for i in range(15)]
    second = bk.submit(renamed, "fake:m", cache=True, clock=clock)
    assert _sent(second) == 6
    results = second.wait().results()
    assert results.counts() == {"succeeded": 15}
    assert [r.from_cache for r in results] == [i not in (3, *range(10, 15)) for i in range(15)]


def test_cache_off_by_default_and_keyed_by_model(clock: object) -> None:
    requests = [_ask(i) for i in range(5)]
    bk.submit(requests, "fake:m", cache=True, clock=clock).wait().results()
    assert _sent(bk.submit(requests, "fake:m", clock=clock)) == 5  # cache not asked for
    assert _sent(bk.submit(requests, "fake:other-model", cache=True, clock=clock)) == 5
    assert _sent(bk.submit(requests, "fake:m", cache=True, clock=clock)) == 0


def test_typed_vectors_come_back_with_their_dtype(tmp_path: Path) -> None:
    """int8 and bit-packed uint8 vectors (Cohere's embedding types) keep their numpy type."""
    cache = ResultCache(tmp_path / "cache.db")
    typed = {"int8": np.array([-128, 0, 127], np.int8), "ubinary": np.array([255, 1], np.uint8),
             "float": np.array([0.5, -0.25], np.float32)}
    cache.put("k", bk.Result("a", "succeeded", embeddings_by_type=typed))
    cache.flush()
    back = cache.get("k")
    assert back is not None and back.embeddings_by_type is not None
    for kind, vector in typed.items():
        assert back.embeddings_by_type[kind].dtype == vector.dtype
        assert np.array_equal(back.embeddings_by_type[kind], vector)
