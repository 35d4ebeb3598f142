"""Identical requests are paid for once and every copy still gets its own result."""

from __future__ import annotations

import random

from pydantic import BaseModel

import batchkit as bk
from batchkit.testing import fake_submissions


class Topic(BaseModel):
    topic: str


def _sent_lines(job: bk.Job) -> int:
    return sum(s.request_count for s in job.shards)


def test_thirty_percent_duplicates_send_seventy_percent(clock: object) -> None:
    rng = random.Random(3)
    texts = [f"document {i}" for i in range(700)]
    texts += [rng.choice(texts) for _ in range(300)]
    rng.shuffle(texts)
    requests = [bk.EmbedRequest(custom_id=f"d{i}", text=t, metadata={"i": i})
                for i, t in enumerate(texts)]
    job = bk.submit(requests, "fake:m", options={"max_requests": 150}, clock=clock)
    assert _sent_lines(job) == 700
    results = job.wait().results()
    assert len(results) == 1000 and results.counts() == {"succeeded": 1000}
    assert [r.custom_id for r in results] == [r.custom_id for r in requests]
    assert [r.metadata["i"] for r in results] == list(range(1000))
    by_text: dict[str, list[float]] = {}
    for req, res in zip(requests, results, strict=True):
        assert res.embedding is not None
        vec = res.embedding.tolist()
        assert by_text.setdefault(req.text, vec) == vec  # copies share the vector
    assert sum(fake_submissions().values()) == len(job.shards)


def test_copies_share_errors_and_parse_into_their_own_objects(clock: object) -> None:
    def ask(cid: str) -> bk.ChatRequest:
        return bk.ChatRequest(custom_id=cid, temperature=0, response_model=Topic,
                              messages=[{"role": "user", "content": "same question"}])

    job = bk.submit([ask("a"), ask("b"), ask("c")], "fake:m", clock=clock)
    assert _sent_lines(job) == 1
    results = job.wait().results()
    assert [r.custom_id for r in results] == ["a", "b", "c"]
    assert all(isinstance(r.parsed, Topic) for r in results)
    assert results[0].parsed is not results[1].parsed
    failing = bk.submit([ask("x"), ask("y")], "fake:m", options={"errors": {"x": "server_error"}},
                        clock=clock).wait().results()
    assert [r.error.code if r.error else None for r in failing] == ["server_error"] * 2


def test_sampled_chat_and_opt_out_are_not_deduplicated(clock: object) -> None:
    sampled = [bk.ChatRequest(custom_id=f"s{i}", messages=[{"role": "user", "content": "idea"}])
               for i in range(4)]
    assert _sent_lines(bk.submit(sampled, "fake:m", clock=clock)) == 4
    same = [bk.EmbedRequest(custom_id=f"e{i}", text="same") for i in range(4)]
    assert _sent_lines(bk.submit(same, "fake:m", dedupe=False, clock=clock)) == 4
    assert _sent_lines(bk.submit(same, "fake:m", clock=clock)) == 1
