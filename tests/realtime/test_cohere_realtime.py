"""Cohere in real time: the ``cohere`` SDK's ``ClientV2.embed`` and ``chat`` against the
emulator's ``/v2/embed`` and ``/v2/chat``; embed-job rows read back with the same vectors and
metadata as the embed job, plus the billed tokens a real-time call reports."""

from __future__ import annotations

import json

import numpy as np

import batchkit as bk
from batchkit.testing import emulate

EMBED_MODEL = "cohere:embed-english-v3.0"
CHAT_MODEL = "cohere:command-r-08-2024"


def test_cohere_realtime_embeddings_match_the_embed_job_at_realtime_prices() -> None:
    texts = [bk.EmbedRequest(custom_id=f"e{i}", text=f"doc {i}", metadata={"n": i},
                             input_type="search_query" if i % 2 else "search_document")
             for i in range(10)]
    with emulate(providers=["cohere"]) as handle:
        app = handle.apps["cohere"]
        app.realtime.rpm = 1200
        options = {"embedding_types": ["float", "int8"]}
        realtime = bk.run(texts, EMBED_MODEL, mode="realtime", options=options)
        batch = bk.run(texts, EMBED_MODEL, options=options)
        assert sorted(app.realtime.answered.values()) == [1] * 10
        sent = [json.loads(k) for k in app.realtime.answered]
    # each row went with its own input type (the shard's group), as the embed jobs did
    assert sorted(s["input_type"] for s in sent) == ["search_document"] * 5 + ["search_query"] * 5
    assert realtime.counts() == {"succeeded": 10}
    for rt, bt in zip(realtime, batch, strict=True):
        assert rt.custom_id == bt.custom_id and rt.metadata == bt.metadata
        assert rt.embedding is not None and bt.embedding is not None
        assert np.array_equal(rt.embedding, bt.embedding)
        assert np.array_equal(rt.embeddings_by_type["int8"], bt.embeddings_by_type["int8"])
        assert rt.usage is not None and rt.usage.input_tokens > 0
        assert rt.cost_usd == bk.cost.cost_of_usage("cohere", "embed-english-v3.0", rt.usage,
                                                    batch=False)


def test_cohere_realtime_chat_and_a_refused_row() -> None:
    chats = [bk.ChatRequest(custom_id=f"c{i}", max_tokens=30,
                            messages=[bk.Message(role="user", content=f"hello {i}")])
             for i in range(4)]
    bad = bk.ChatRequest(custom_id="bad", messages=[bk.Message(role="user", content="x")],
                         params={"temperature": "hot"})
    with emulate(providers=["cohere"]):
        realtime = bk.run([*chats, bad], CHAT_MODEL, mode="realtime")
        batch = bk.run(chats, CHAT_MODEL)
    assert [r.status for r in realtime] == ["succeeded"] * 4 + ["errored"]
    assert [(r.usage, r.finish_reason) for r in realtime[:4]] == \
           [(r.usage, r.finish_reason) for r in batch]
    error = realtime[4].error
    assert error is not None and "HTTP 400" in error.message and "temperature" in error.message


def test_cohere_rate_limit_waits_out_the_429s() -> None:
    texts = [bk.EmbedRequest(custom_id=f"r{i}", text=f"row {i}") for i in range(12)]
    with emulate(providers=["cohere"]) as handle:
        app = handle.apps["cohere"]
        app.realtime.rpm, app.realtime.burst_s = 240, 0.1
        results = bk.run(texts, EMBED_MODEL, mode="realtime", options={"concurrency": 8})
        assert app.realtime.rate_limited > 0
        assert sorted(app.realtime.answered.values()) == [1] * 12
    assert results.counts() == {"succeeded": 12}
