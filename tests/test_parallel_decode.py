"""A multi-shard job's results decoded in forked processes, one shard each, equal the results
decoded in turn: same order, statuses, vectors, parsed replies, costs and unmatched lines."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit import _collect, _parallel
from batchkit._clock import Backoff

FAST = Backoff(initial=0.001, maximum=0.001)


class Label(BaseModel):
    label: str


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every job's results decode in 2 processes whatever their size; records the forks."""
    monkeypatch.setenv("BATCHKIT_DECODE_PROCESSES", "2")
    calls: list[int] = []
    real = _collect.shards_in_processes

    def spy(*args: Any) -> AbstractContextManager[list[Any]]:
        calls.append(args[-1])
        return real(*args)

    monkeypatch.setattr(_collect, "shards_in_processes", spy)
    return calls


def embed_job(n: int = 60) -> bk.Job:
    reqs = [bk.EmbedRequest(custom_id=f"d{i}", text=f"doc {i}", metadata={"n": i})
            for i in range(n)]
    options = {"max_requests": 15, "errors": {"d3": "invalid_input", "d40": "server_error"},
               "missing": ["d17"]}
    return bk.submit(reqs, "fake:m", options=options).wait(backoff=FAST)


def in_turn(job: bk.Job, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> bk.ResultSet:
    with monkeypatch.context() as m:
        m.setenv("BATCHKIT_DECODE_PROCESSES", "1")
        return job.results(**kwargs)


def summary(results: bk.ResultSet) -> list[tuple[Any, ...]]:
    return [(r.custom_id, r.status, r.metadata, r.error and r.error.code, r.cost_usd, r.text,
             r.parsed) for r in results]


def test_embeddings_decoded_in_processes_equal_those_decoded_in_turn(
        forks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    job = embed_job()
    assert len(job.shards) == 4
    parallel = job.results()
    assert forks == [2]
    serial = in_turn(job, monkeypatch)
    assert forks == [2]  # the serial run did not fork
    assert summary(parallel) == summary(serial)
    assert [r.custom_id for r in parallel] == [f"d{i}" for i in range(60)]
    ok = [r for r in parallel if r.ok]
    assert np.array_equal(bk.ResultSet(ok).embeddings(),
                          bk.ResultSet([r for r in serial if r.ok]).embeddings())
    assert parallel.counts() == {"succeeded": 57, "errored": 3}


def test_lazy_walks_and_chat_with_a_response_model_too(
        forks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    reqs = bk.ChatRequest.batch([f"text {i}" for i in range(45)], response_model=Label)
    job = bk.submit(reqs, "fake:m", options={"max_requests": 10}).wait(backoff=FAST)
    lazy = job.results(lazy=True)
    assert summary(lazy) == summary(in_turn(job, monkeypatch))
    assert len(forks) == 1 and all(isinstance(r.parsed, Label) for r in lazy)


def test_a_job_whose_copies_share_results_across_shards_decodes_in_turn(
        forks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    reqs = [bk.EmbedRequest(custom_id=f"d{i}", text=f"doc {i % 20}") for i in range(60)]
    job = bk.submit(reqs, "fake:m", options={"max_requests": 15}).wait(backoff=FAST)
    results = job.results()
    assert forks == []  # copies point at other shards' results: not decodable apart
    assert [r.shared_from for r in results][20:23] == ["d0", "d1", "d2"]
    assert summary(results) == summary(in_turn(job, monkeypatch))


def test_one_process_unless_more_are_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATCHKIT_DECODE_PROCESSES", raising=False)
    assert _parallel.decode_processes(4) == 1
    monkeypatch.setenv("BATCHKIT_DECODE_PROCESSES", "8")
    assert _parallel.decode_processes(3) == 3  # never more processes than shards
    monkeypatch.setenv("BATCHKIT_DECODE_PROCESSES", "two")
    with pytest.raises(bk.ConfigError, match="BATCHKIT_DECODE_PROCESSES"):
        _parallel.decode_processes(4)
