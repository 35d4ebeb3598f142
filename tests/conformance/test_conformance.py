"""The conformance suite: the same neutral jobs, run on every provider, with the same promises.

Every adapter must pass this module unchanged: completeness, input order, statuses, usage,
parsed objects, embeddings, cancel, and resume without a second vendor batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit._registry import make_adapter
from batchkit.providers.base import ShardInput

from .targets import TARGETS, Target


class Ticket(BaseModel):
    category: str
    urgent: bool
    tags: list[str]


@pytest.fixture(params=TARGETS, ids=[t.name for t in TARGETS])
def target(request: pytest.FixtureRequest) -> Iterator[tuple[Target, Any]]:
    t: Target = request.param
    with t.environment() as handle:
        yield t, handle


def chats(n: int, **kw: Any) -> list[bk.ChatRequest]:
    return [
        bk.ChatRequest(
            custom_id=f"ticket {i}/ü", max_tokens=50, metadata={"row": i},
            messages=[{"role": "system", "content": "Classify the ticket."},
                      {"role": "user", "content": f"ticket number {i}"}],
            **kw,
        )
        for i in range(n)
    ]


def test_structured_chat_complete_in_order_with_usage(target: tuple[Target, Any]) -> None:
    t, _ = target
    requests = chats(23, response_model=Ticket)
    job = bk.submit(requests, t.chat, shard_size=10)
    assert len(job.shards) == 3
    results = job.wait().results()
    assert [r.custom_id for r in results] == [r.custom_id for r in requests]
    assert [r.metadata["row"] for r in results] == list(range(23))
    assert results.counts() == {"succeeded": 23}
    parsed, unparsed = results.split()
    assert len(parsed) == 23 and unparsed == [] and all(isinstance(p, Ticket) for p in parsed)
    assert all(r.usage is not None and r.usage.input_tokens > 0 for r in results)
    assert results.usage.input_tokens == sum(r.usage.input_tokens for r in results if r.usage)


def test_embeddings_matrix(target: tuple[Target, Any]) -> None:
    t, _ = target
    if t.embed is None:
        pytest.skip(f"{t.name} has no embeddings")
    requests = [
        bk.EmbedRequest(custom_id=f"doc-{i}", text=f"chunk {i}", dimensions=t.embed_dimensions,
                        metadata={"title": f"T{i}"})
        for i in range(12)
    ]
    results = bk.submit(requests, t.embed).wait().results()
    matrix = results.embeddings()
    assert matrix.shape == (12, t.embed_dimensions) and matrix.dtype == np.float32
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-3)
    assert [r.metadata["title"] for r in results] == [f"T{i}" for i in range(12)]


def test_cancel_gives_every_request_a_result(target: tuple[Target, Any]) -> None:
    t, _ = target
    job = bk.submit(chats(6), t.chat, options=t.slow_options)
    job.cancel()
    job.wait()
    assert job.state == bk.JobState.CANCELLED
    results = job.results()
    assert len(results) == 6
    assert {r.status for r in results} <= {"cancelled", "succeeded"}
    assert all(r.error is not None and r.error.code == "batch_cancelled"
               for r in results if r.status == "cancelled")


def test_resume_attaches_instead_of_resubmitting(target: tuple[Target, Any]) -> None:
    """A process created shard 0 at the vendor and died before recording its id."""
    t, handle = target
    job = bk.submit(chats(15), t.chat, shard_size=5, options=t.slow_options)
    shard0 = job.shards[0]
    # Forget shard 0's id, as if the crash came right after the vendor accepted it.
    job._store._conn.execute("UPDATE shards SET remote_id = NULL WHERE idx = 0")
    assert t.created(handle, shard0.key) == 1
    resumed = bk.resume(job.id)
    assert resumed.shards[0].remote_id == shard0.remote_id
    for shard in resumed.shards:
        assert t.created(handle, shard.key) == 1
    resumed.cancel()
    resumed.wait()
    assert len(resumed.results()) == 15


def test_find_by_key_is_none_for_an_unknown_key(target: tuple[Target, Any], tmp_path: Any) -> None:
    t, _ = target
    payload = tmp_path / "p.jsonl"
    payload.write_text("")
    shard = ShardInput(job_id="bk_none", index=0, key="bk_none-0000", group="chat",
                       payload_path=payload, request_count=0)
    assert make_adapter(t.chat).find_by_key(shard) is None
