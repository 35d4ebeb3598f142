"""Anthropic in real time: the real ``anthropic`` SDK against the emulator's ``/v1/messages``,
its ``anthropic-ratelimit-*`` headers learned, a refused request answered as an errored row."""

from __future__ import annotations

from typing import Any

import pytest

import batchkit as bk
from batchkit.testing import emulate

MODEL = "anthropic:claude-3-5-haiku-latest"


def _chat(n: int) -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"a{i}", max_tokens=30,
                           messages=[bk.Message(role="user", content=f"hello {i}")])
            for i in range(n)]


def test_anthropic_realtime_reads_like_its_batch_at_realtime_prices() -> None:
    with emulate(providers=["anthropic"]) as handle:
        app = handle.apps["anthropic"]
        app.realtime.rpm = 1200  # 20 a second
        realtime = bk.run(_chat(60), MODEL, mode="realtime")
        batch = bk.run(_chat(60), MODEL)
        assert sum(app.realtime.answered.values()) == 60
        assert app.realtime.rate_limited <= 3  # the headers were learned and kept
    assert realtime.counts() == {"succeeded": 60}
    # the synchronous endpoint has no custom_id to seed the emulator's text with; the rest
    # of each result (status, usage, finish reason) is the batch result's
    assert [(r.custom_id, r.usage, r.finish_reason) for r in realtime] == \
           [(r.custom_id, r.usage, r.finish_reason) for r in batch]
    for rt, bt in zip(realtime, batch, strict=True):
        assert rt.usage is not None and bt.usage is not None
        assert rt.cost_usd == pytest.approx(bk.cost.cost_of_usage(
            "anthropic", "claude-3-5-haiku-latest", rt.usage, batch=False))
    assert realtime.cost_usd > batch.cost_usd


def test_refused_request_is_an_errored_row() -> None:
    with emulate(providers=["anthropic"]) as handle:
        app = handle.apps["anthropic"]
        app.realtime.problem = lambda params: (
            "messages: flagged" if "hello 1" in str(params) else None)
        results = bk.run(_chat(3), MODEL, mode="realtime")
    assert [r.status for r in results] == ["succeeded", "errored", "succeeded"]
    error: Any = results[1].error
    assert error.code == "invalid_request_error" and "flagged" in error.message
