"""OpenAI in real time: the real ``openai`` SDK against the emulator's synchronous endpoints.

Same results as the batch path for the same requests (text, parsed model, usage), cost at
real-time prices, the account's rate limit learned from the headers and kept, a bad request
answered as an errored row, and the async API over several providers in one event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit.testing import emulate


class Verdict(BaseModel):
    spam: bool
    reason: str


@pytest.fixture
def openai_app() -> Iterator[Any]:
    with emulate(providers=["openai"]) as handle:
        yield handle.apps["openai"]


def _requests(n: int = 20) -> list[bk.ChatRequest]:
    return [
        bk.ChatRequest(custom_id=f"mail-{i}", max_tokens=50, temperature=0,
                       response_model=Verdict if i % 2 else None,
                       messages=[bk.Message(role="user", content=f"Is mail {i} spam?")])
        for i in range(n)
    ]


def _texts() -> list[bk.EmbedRequest]:
    """For the embedding model: a chat model cannot serve them."""
    return [bk.EmbedRequest(custom_id=f"doc-{i}", text=f"document {i}") for i in range(5)]


def _view(results: bk.ResultSet) -> list[tuple[Any, ...]]:
    return [(r.custom_id, r.status, r.text, r.parsed, r.usage, r.finish_reason,
             None if r.embedding is None else r.embedding.tolist()) for r in results]


def test_realtime_equals_batch_and_is_priced_at_realtime_rates(openai_app: Any) -> None:
    requests = _requests()
    batch = bk.run(requests, "openai:gpt-4o-mini")
    realtime = bk.run(requests, "openai:gpt-4o-mini", mode="realtime")
    assert _view(realtime) == _view(batch)
    texts = _texts()
    assert _view(bk.run(texts, "openai:text-embedding-3-small", mode="realtime")) == _view(
        bk.run(texts, "openai:text-embedding-3-small"))
    assert sum(openai_app.realtime.answered.values()) == len(requests) + len(texts)
    assert realtime[1].parsed is not None
    for rt, bt in zip(realtime, batch, strict=True):
        assert rt.usage is not None
        assert rt.cost_usd == pytest.approx(bk.cost.cost_of_usage(
            "openai", "gpt-4o-mini", rt.usage, batch=False))
        assert bt.cost_usd == pytest.approx(bk.cost.cost_of_usage(
            "openai", "gpt-4o-mini", bt.usage, batch=True))
    assert realtime.cost_usd > batch.cost_usd  # no batch discount in real time


def test_bad_request_is_an_errored_row_not_a_failed_job(openai_app: Any) -> None:
    def refuse(url: str, body: dict[str, Any], custom_id: str) -> dict[str, Any]:
        from batchkit.testing.emulators.openai.replies import ReplyError, default_responder

        if "mail 1 " in str(body):
            raise ReplyError(400, "Invalid prompt: flagged.", code="invalid_prompt")
        return default_responder(url, body, custom_id)

    openai_app.responder = refuse
    results = bk.run(_requests(3)[:3], "openai:gpt-4o-mini", mode="realtime")
    assert [r.status for r in results] == ["succeeded", "errored", "succeeded"]
    assert results[1].error is not None and results[1].error.code == "invalid_prompt"


def test_rate_limit_headers_are_learned_and_kept(openai_app: Any) -> None:
    openai_app.realtime.rpm = 1200  # 20 a second, a bucket of one second
    openai_app.realtime.latency_s = 0.01
    requests = [bk.ChatRequest(custom_id=f"q{i}", max_tokens=10,
                               messages=[bk.Message(role="user", content=f"q {i}")])
                for i in range(80)]
    job = bk.submit(requests, "openai:gpt-4o-mini-2024-07-18", mode="realtime")
    job.wait()
    assert job.results().counts() == {"succeeded": 80}
    assert sum(openai_app.realtime.answered.values()) == 80
    assert openai_app.realtime.rate_limited <= 4  # learned from the first answers' headers
    assert job.rate_stats.rate_limited == openai_app.realtime.rate_limited


def test_async_jobs_on_three_providers_from_one_loop_match_the_sync_api() -> None:
    with emulate(providers=["openai", "anthropic"]):
        specs = [("openai:gpt-4o-mini", "realtime"), ("openai:gpt-4o-mini", "batch"),
                 ("anthropic:claude-3-5-haiku-latest", "batch"), ("fake:m", "realtime"),
                 ("fake:m", "batch")]
        jobs = [(provider, mode, [bk.ChatRequest(
            custom_id=f"j{j}-{i}", max_tokens=30,
            messages=[bk.Message(role="user", content=f"job {j} question {i}")])
            for i in range(6)]) for j, (provider, mode) in enumerate(specs * 2)]

        async def all_at_once() -> list[bk.ResultSet]:
            return await asyncio.gather(*(bk.arun(reqs, provider, mode=mode)
                                          for provider, mode, reqs in jobs))

        concurrent = asyncio.run(all_at_once())
        sync = [bk.run(reqs, provider, mode=mode) for provider, mode, reqs in jobs]
    assert len(concurrent) == 10
    for got, want in zip(concurrent, sync, strict=True):
        assert [(r.custom_id, r.status, r.text, r.usage) for r in got] == \
               [(r.custom_id, r.status, r.text, r.usage) for r in want]


def test_stream_yields_results_in_input_order(openai_app: Any) -> None:
    async def main() -> list[str]:
        job = await bk.asubmit(_requests(8), "openai:gpt-4o-mini", mode="realtime")
        return [r.custom_id async for r in job.stream()]

    assert asyncio.run(main()) == [f"mail-{i}" for i in range(8)]


def test_batcher_500_callers_become_few_openai_batches(openai_app: Any) -> None:
    openai_app.phases.validating = openai_app.phases.in_progress = 0.0
    openai_app.phases.finalizing = 0.0

    async def callers() -> list[bk.Result]:
        async with bk.Batcher("openai:gpt-4o-mini", max_size=200, max_wait_s=0.3) as batcher:
            return await asyncio.gather(*(batcher.complete(bk.ChatRequest(
                custom_id=f"agent-{i}", max_tokens=20,
                messages=[bk.Message(role="user", content=f"step {i}")])) for i in range(500)))

    results = asyncio.run(callers())
    assert [r.custom_id for r in results] == [f"agent-{i}" for i in range(500)]
    assert all(r.status == "succeeded" for r in results)
    texts = {r.text for r in results}
    assert len(texts) == 500  # every caller got the reply to its own prompt
    assert 1 <= openai_app.creates <= 3  # ceil(500 / 200)
    assert sum(openai_app.realtime.answered.values()) == 0  # all by batch


@pytest.mark.parametrize("provider", ["groq:llama-3.1-8b-instant",
                                      "together:meta-llama/Llama-3.3-70B-Instruct-Turbo"])
def test_openai_shaped_vendor_in_real_time_equals_its_batch(provider: str) -> None:
    requests = [bk.ChatRequest(custom_id=f"g{i}", max_tokens=20,
                               messages=[bk.Message(role="user", content=f"hello {i}")])
                for i in range(6)]
    vendor = provider.partition(":")[0]
    with emulate(providers=[vendor]) as handle:
        realtime = bk.run(requests, provider, mode="realtime")
        batch = bk.run(requests, provider)
        assert sum(handle.apps[vendor].realtime.answered.values()) == 6
    assert _view(realtime) == _view(batch)
    assert realtime.counts() == {"succeeded": 6}


@pytest.mark.parametrize("options", [{}, {"api_version": "2025-04-01-preview"}])
def test_azure_in_real_time_equals_its_batch(options: dict[str, Any]) -> None:
    """Both of Azure's API shapes: the v1 path and the deployment path with api-version."""
    requests = [bk.ChatRequest(custom_id=f"z{i}", max_tokens=20,
                               messages=[bk.Message(role="user", content=f"hello {i}")])
                for i in range(5)]
    with emulate(providers=["azure"]) as handle:
        realtime = bk.run(requests, "azure:gpt-4o-mini-batch", mode="realtime", options=options)
        batch = bk.run(requests, "azure:gpt-4o-mini-batch", options=options)
        assert sum(handle.apps["azure"].realtime.answered.values()) == 5
    assert realtime.counts() == {"succeeded": 5}
    assert _view(realtime) == _view(batch)


def test_injected_faults_on_the_sync_endpoint_are_ridden_out(openai_app: Any) -> None:
    """Server errors, a dropped connection and a 429 without headers, armed at the emulator:
    every row still comes back once, none bought twice."""
    faults = openai_app.endpoint_faults
    faults.add(500, method="POST", path_suffix="/chat/completions", times=2)
    faults.add(None, method="POST", path_suffix="/chat/completions", drop=True)
    faults.add(429, method="POST", path_suffix="/chat/completions", retry_after=0.2)
    results = bk.run(_requests(10)[:10], "openai:gpt-4o-mini", mode="realtime")
    assert results.counts() == {"succeeded": 10}
    assert sorted(openai_app.realtime.answered.values()) == [1] * 10
