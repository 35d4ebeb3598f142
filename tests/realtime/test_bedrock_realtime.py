"""Bedrock in real time: boto3's ``bedrock-runtime`` ``invoke_model`` against the emulator,
the body being the batch record's own ``modelInput`` (Claude, Nova, Titan), the answer read
like the job's output record; a throttled call waits, a refused body is an errored row."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import batchkit as bk
from batchkit.testing import emulate

CLAUDE = "bedrock:anthropic.claude-3-5-haiku-20241022-v1:0"
NOVA = "bedrock:amazon.nova-lite-v1:0"
TITAN = "bedrock:amazon.titan-embed-text-v2:0"


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("BATCHKIT_BEDROCK_MIN_RECORDS", "1")  # batch runs for the comparison
    with emulate(providers=["bedrock"]) as handle:
        handle.apps["bedrock"].min_records = 1
        yield handle.apps["bedrock"]


def _chats(n: int) -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"b{i}", max_tokens=30,
                           messages=[bk.Message(role="user", content=f"hello {i}")])
            for i in range(n)]


@pytest.mark.parametrize("model", [CLAUDE, NOVA])
def test_bedrock_realtime_chat_reads_like_its_batch_at_realtime_prices(app: Any,
                                                                       model: str) -> None:
    app.realtime.rpm = 1200
    realtime = bk.run(_chats(20), model, mode="realtime")
    batch = bk.run(_chats(20), model)
    assert sorted(app.realtime.answered.values()) == [1] * 20  # none bought twice
    assert realtime.counts() == {"succeeded": 20}
    assert [(r.custom_id, r.usage, r.finish_reason) for r in realtime] == \
           [(r.custom_id, r.usage, r.finish_reason) for r in batch]
    provider, _, name = model.partition(":")
    usage = realtime[0].usage
    assert usage is not None and realtime[0].cost_usd == pytest.approx(
        bk.cost.cost_of_usage(provider, name, usage, batch=False))
    assert realtime.cost_usd > batch.cost_usd


def test_bedrock_realtime_embeddings_match_the_batch(app: Any) -> None:
    texts = [bk.EmbedRequest(custom_id=f"e{i}", text=f"doc {i}", dimensions=256)
             for i in range(5)]
    realtime = bk.run(texts, TITAN, mode="realtime")
    batch = bk.run(texts, TITAN)
    assert realtime.counts() == {"succeeded": 5}
    for rt, bt in zip(realtime, batch, strict=True):
        # the emulator seeds a vector with the record id, which InvokeModel has not
        assert rt.embedding is not None and rt.embedding.shape == (256,)
        assert abs(float((rt.embedding ** 2).sum()) - 1.0) < 1e-3 and rt.usage == bt.usage


def test_bedrock_throttling_waits_and_a_refused_body_is_an_errored_row(app: Any) -> None:
    app.realtime.rpm, app.realtime.burst_s = 240, 0.1  # 4 a second, no burst
    bad = bk.ChatRequest(custom_id="bad", messages=[bk.Message(role="user", content="x")],
                         params={"top_k": "many"})
    results = bk.run([*_chats(8), bad], CLAUDE, mode="realtime", options={"concurrency": 8})
    assert app.realtime.rate_limited > 0
    assert sorted(app.realtime.answered.values()) == [1] * 8
    assert [r.status for r in results] == ["succeeded"] * 8 + ["errored"]
    error = results[8].error
    assert error is not None and error.http_status == 400 and "top_k" in error.message


@pytest.mark.parametrize("model", [
    "amazon.titan-text-express-v1", "us.meta.llama3-3-70b-instruct-v1:0",
    "mistral.mixtral-8x7b-instruct-v0:1", "us.deepseek.r1-v1:0",
])
def test_every_prompt_family_answers_in_real_time_as_in_its_batch(app: Any, model: str) -> None:
    """Real time sends the adapter's own encoding: each family's body and reply shape hold
    without real time knowing any of them."""
    options = {"allow_unknown_model": True}  # not in the price catalog yet
    realtime = bk.run(_chats(5), f"bedrock:{model}", mode="realtime", options=options)
    batch = bk.run(_chats(5), f"bedrock:{model}", options=options)
    assert realtime.counts() == {"succeeded": 5}
    assert [(r.custom_id, r.finish_reason, r.usage) for r in realtime] == \
           [(r.custom_id, r.finish_reason, r.usage) for r in batch]
    assert all(r.text and f"hello {i}" in r.text for i, r in enumerate(realtime))


def test_cohere_embed_on_bedrock_in_real_time(app: Any) -> None:
    texts = [bk.EmbedRequest(custom_id=f"c{i}", text=f"passage {i}",
                             input_type="search_document") for i in range(4)]
    results = bk.run(texts, "bedrock:cohere.embed-english-v3", mode="realtime",
                     options={"allow_unknown_model": True})
    assert results.counts() == {"succeeded": 4}
    assert results.embeddings().shape == (4, 1024)


def test_the_per_batch_minimum_binds_batch_jobs_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bedrock batch jobs take at least 100 records; three requests sent now need no batch."""
    monkeypatch.delenv("BATCHKIT_BEDROCK_MIN_RECORDS", raising=False)
    with emulate(providers=["bedrock"]) as handle:
        now = bk.run(_chats(3), CLAUDE, mode="realtime")
        assert now.counts() == {"succeeded": 3}
        recorded = len(bk.list_jobs())
        assert sorted(handle.apps["bedrock"].realtime.answered.values()) == [1, 1, 1]
        with pytest.raises(bk.InvalidRequestError, match="below the provider's minimum of 100"):
            bk.submit(_chats(3), CLAUDE, mode="batch")
        with pytest.raises(bk.InvalidRequestError, match="below the provider's minimum of 100"):
            bk.submit(_chats(3), CLAUDE, mode="auto", options={"realtime_below": 2})
        assert len(bk.list_jobs()) == recorded  # the refused jobs left nothing behind
        assert handle.apps["bedrock"].creates == 0
