"""Gemini in real time: the google-genai SDK against the emulator's ``:generateContent`` and
``:batchEmbedContents``; a rate limit with no headers is learned from the 429s alone."""

from __future__ import annotations

import batchkit as bk
from batchkit.testing import emulate

MODEL = "gemini:gemini-2.5-flash"
EMBED_MODEL = "gemini:gemini-embedding-001"


def test_gemini_realtime_chat_and_embeddings_come_back_once_at_realtime_prices() -> None:
    requests: list[bk.ChatRequest | bk.EmbedRequest] = [
        bk.ChatRequest(custom_id=f"g{i}", max_tokens=30,
                       messages=[bk.Message(role="user", content=f"hello {i}")])
        for i in range(30)]
    texts = [bk.EmbedRequest(custom_id=f"e{i}", text=f"doc {i}") for i in range(5)]
    with emulate(providers=["gemini"]) as handle:
        app = handle.apps["gemini"]
        app.realtime.rpm = 1200
        # a chat model serves the chat requests, an embedding model the texts: two jobs each
        realtime = bk.ResultSet([*bk.run(requests, MODEL, mode="realtime"),
                                 *bk.run(texts, EMBED_MODEL, mode="realtime")])
        batch = bk.ResultSet([*bk.run(requests, MODEL), *bk.run(texts, EMBED_MODEL)])
        assert sorted(app.realtime.answered.values()) == [1] * 35  # none bought twice
        assert app.realtime.rate_limited < app.realtime.calls / 4
    assert realtime.counts() == {"succeeded": 35}
    assert [r.custom_id for r in realtime] == [r.custom_id for r in batch]
    # embeddings are a function of the text alone: the same vectors as the batch
    for rt, bt in zip(realtime[30:], batch[30:], strict=True):
        assert rt.embedding is not None and (rt.embedding == bt.embedding).all()
    chat_rt = sum(r.cost_usd or 0 for r in realtime[:30])
    assert chat_rt > 0
    usage = realtime[0].usage
    assert usage is not None and realtime[0].cost_usd == bk.cost.cost_of_usage(
        "gemini", "gemini-2.5-flash", usage, batch=False)
