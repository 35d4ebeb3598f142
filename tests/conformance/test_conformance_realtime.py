"""The conformance suite in real-time mode: the same neutral jobs, sent to every vendor's
synchronous endpoint (through its SDK, against its emulator), must come back as the batch
results do — complete, in input order, parsed, with tool calls and usage — priced at the
vendor's real-time rates.

Every target of :mod:`.targets` with a real-time path runs here; a vendor added to the registry
with a real-time path is therefore held to the batch suite's promises in both modes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit._registry import make_adapter

from .targets import TARGETS, Target
from .test_conformance import Ticket, chats

VENDORS = [t for t in TARGETS if t.name != "fake"]
"""The vendors; the ``fake`` test double has no prices or tools (tests/realtime covers it)."""
REALTIME_TARGETS = [t for t in VENDORS if make_adapter(t.chat).supports_realtime]


class Invoice(BaseModel):
    vendor: str
    total: float


@pytest.fixture(params=REALTIME_TARGETS, ids=[t.name for t in REALTIME_TARGETS])
def target(request: pytest.FixtureRequest) -> Iterator[tuple[Target, Any]]:
    t: Target = request.param
    with t.environment() as handle:
        yield t, handle


def _realtime_price(provider: str, result: bk.Result) -> float | None:
    name, _, model = provider.partition(":")
    assert result.usage is not None
    return bk.cost.cost_of_usage(name, model, result.usage, batch=False)


def test_every_vendor_has_a_realtime_path() -> None:
    """Every vendor in the suite answers in real time (so none silently drops out of it)."""
    assert [t.name for t in REALTIME_TARGETS] == [t.name for t in VENDORS]


def test_structured_chat_reads_as_the_batch_does(target: tuple[Target, Any]) -> None:
    t, _ = target
    requests = chats(12, response_model=Ticket)
    realtime = bk.run(requests, t.chat, mode="realtime")
    batch = bk.run(requests, t.chat, shard_size=5)
    assert [r.custom_id for r in realtime] == [r.custom_id for r in requests]
    assert [r.metadata["row"] for r in realtime] == list(range(12))
    assert realtime.counts() == batch.counts() == {"succeeded": 12}
    parsed, unparsed = realtime.split()
    assert len(parsed) == 12 and unparsed == [] and all(isinstance(p, Ticket) for p in parsed)
    assert [r.finish_reason for r in realtime] == [r.finish_reason for r in batch]
    for rt, bt in zip(realtime, batch, strict=True):
        # the input is the same request: counted the same in both modes
        assert rt.usage is not None and bt.usage is not None
        assert rt.usage.input_tokens == bt.usage.input_tokens > 0
        assert rt.cost_usd == pytest.approx(_realtime_price(t.chat, rt))
    assert realtime.usage.input_tokens == batch.usage.input_tokens


def test_tool_calls_read_as_the_batch_does(target: tuple[Target, Any]) -> None:
    t, _ = target
    tool = bk.Tool.from_model(Invoice)
    requests = [bk.ChatRequest(custom_id=f"inv-{i}", tools=[tool], tool_choice="required",
                               max_tokens=200, messages=[
                                   {"role": "user", "content": f"Invoice {i}: ACME, 12 EUR"}])
                for i in range(4)]
    realtime = bk.run(requests, t.chat, mode="realtime")
    batch = bk.run(requests, t.chat)
    assert realtime.counts() == batch.counts() == {"succeeded": 4}
    for rt, bt in zip(realtime, batch, strict=True):
        assert rt.finish_reason == bt.finish_reason == "tool_calls"
        assert [c.name for c in rt.tool_calls] == [c.name for c in bt.tool_calls] == ["Invoice"]
        Invoice.model_validate(rt.tool_calls[0].arguments)


def test_embeddings_read_as_the_batch_does(target: tuple[Target, Any]) -> None:
    t, _ = target
    if t.embed is None:
        pytest.skip(f"{t.name} has no embeddings")
    requests = [
        bk.EmbedRequest(custom_id=f"doc-{i}", text=f"chunk {i}", dimensions=t.embed_dimensions,
                        metadata={"title": f"T{i}"})
        for i in range(6)
    ]
    realtime = bk.run(requests, t.embed, mode="realtime")
    batch = bk.run(requests, t.embed)
    matrix = realtime.embeddings()
    assert matrix.shape == batch.embeddings().shape == (6, t.embed_dimensions)
    assert matrix.dtype == np.float32
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-3)
    assert [r.metadata["title"] for r in realtime] == [f"T{i}" for i in range(6)]
    for rt in realtime:
        if rt.usage is not None:  # priced at real-time rates where the vendor reports usage
            assert rt.cost_usd == pytest.approx(_realtime_price(t.embed, rt))
