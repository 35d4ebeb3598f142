"""Mistral in real time: the ``mistralai`` SDK against the emulator's ``/v1/chat/completions``
and ``/v1/embeddings``; the pace learned from 429s (Mistral sends no limit headers here)."""

from __future__ import annotations

import batchkit as bk
from batchkit.testing import emulate

MODEL = "mistral:mistral-small-latest"
EMBED_MODEL = "mistral:mistral-embed"


def test_mistral_realtime_chat_and_embeddings_come_back_once_at_realtime_prices() -> None:
    requests: list[bk.ChatRequest | bk.EmbedRequest] = [
        bk.ChatRequest(custom_id=f"m{i}", max_tokens=30,
                       messages=[bk.Message(role="user", content=f"hello {i}")])
        for i in range(30)]
    texts = [bk.EmbedRequest(custom_id=f"e{i}", text=f"doc {i}") for i in range(5)]
    with emulate(providers=["mistral"]) as handle:
        app = handle.apps["mistral"]
        app.realtime.rpm = 1200
        # a chat model serves the chat requests, an embedding model the texts: two jobs each
        realtime = bk.ResultSet([*bk.run(requests, MODEL, mode="realtime"),
                                 *bk.run(texts, EMBED_MODEL, mode="realtime")])
        batch = bk.ResultSet([*bk.run(requests, MODEL), *bk.run(texts, EMBED_MODEL)])
        assert sorted(app.realtime.answered.values()) == [1] * 35  # none bought twice
    assert realtime.counts() == {"succeeded": 35}
    assert [(r.custom_id, r.usage, r.finish_reason) for r in realtime] == \
           [(r.custom_id, r.usage, r.finish_reason) for r in batch]
    for rt, bt in zip(realtime[30:], batch[30:], strict=True):
        assert rt.embedding is not None and (rt.embedding == bt.embedding).all()
    usage = realtime[0].usage
    assert usage is not None and realtime[0].cost_usd == bk.cost.cost_of_usage(
        "mistral", "mistral-small-latest", usage, batch=False)


def test_mistral_refused_body_is_an_errored_row() -> None:
    bad = bk.ChatRequest(custom_id="bad", messages=[bk.Message(role="user", content="x")],
                         params={"temperature": "hot"})
    good = bk.ChatRequest(custom_id="good", messages=[bk.Message(role="user", content="y")])
    with emulate(providers=["mistral"]):
        results = bk.run([good, bad], MODEL, mode="realtime")
    assert [r.status for r in results] == ["succeeded", "errored"]
    assert results[1].error is not None and results[1].error.http_status == 422
