"""Vertex AI in real time: ``aiplatform_v1.PredictionServiceClient`` against the emulator's
``:generateContent`` and ``:predict``; a refused request is an errored row, a 429 waits."""

from __future__ import annotations

import batchkit as bk
from batchkit.testing import emulate

MODEL = "vertex:gemini-2.5-flash"
EMBED_MODEL = "vertex:text-embedding-005"


def test_vertex_realtime_reads_like_its_batch_at_realtime_prices() -> None:
    chats = [bk.ChatRequest(custom_id=f"v{i}", max_tokens=30,
                            messages=[bk.Message(role="user", content=f"hello {i}")])
             for i in range(30)]
    texts = [bk.EmbedRequest(custom_id=f"e{i}", text=f"doc {i}", dimensions=64)
             for i in range(5)]
    with emulate(providers=["vertex"]) as handle:
        app = handle.apps["vertex"]
        app.realtime.rpm = 600  # 10 a second: the 30 chats meet the limit
        realtime = bk.ResultSet([*bk.run(chats, MODEL, mode="realtime"),
                                 *bk.run(texts, EMBED_MODEL, mode="realtime")])
        batch = bk.ResultSet([*bk.run(chats, MODEL), *bk.run(texts, EMBED_MODEL)])
        assert sorted(app.realtime.answered.values()) == [1] * 35  # none bought twice
        assert app.creates == 2  # the batch runs only
    assert realtime.counts() == {"succeeded": 35}
    assert [(r.custom_id, r.usage, r.finish_reason) for r in realtime] == \
           [(r.custom_id, r.usage, r.finish_reason) for r in batch]
    for rt, bt in zip(realtime[30:], batch[30:], strict=True):
        assert rt.embedding is not None and rt.embedding.shape == (64,)
        assert (rt.embedding == bt.embedding).all()
    usage = realtime[0].usage
    assert usage is not None and realtime[0].cost_usd == bk.cost.cost_of_usage(
        "vertex", "gemini-2.5-flash", usage, batch=False)
    assert realtime[:30].cost_usd > batch[:30].cost_usd


def test_vertex_refused_request_is_an_errored_row() -> None:
    good = bk.ChatRequest(custom_id="good", messages=[bk.Message(role="user", content="y")])
    bad = bk.ChatRequest(custom_id="bad", messages=[bk.Message(role="user", content="x")],
                         params={"generationConfig": {"responseSchema": {"type": "OBJECT"}}})
    with emulate(providers=["vertex"]):
        results = bk.run([good, bad], MODEL, mode="realtime")
    assert [r.status for r in results] == ["succeeded", "errored"]
    error = results[1].error
    assert error is not None and "response_mime_type" in error.message


def test_vertex_rate_limit_waits_out_the_429s() -> None:
    chats = [bk.ChatRequest(custom_id=f"r{i}", max_tokens=10,
                            messages=[bk.Message(role="user", content=f"hi {i}")])
             for i in range(12)]
    with emulate(providers=["vertex"]) as handle:
        app = handle.apps["vertex"]
        app.realtime.rpm, app.realtime.burst_s = 240, 0.1  # 4 a second, no burst
        results = bk.run(chats, MODEL, mode="realtime", options={"concurrency": 8})
        assert app.realtime.rate_limited > 0
        assert sorted(app.realtime.answered.values()) == [1] * 12
    assert results.counts() == {"succeeded": 12}
