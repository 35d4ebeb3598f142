"""Mistral end to end: bk.submit through the real mistralai SDK against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit._exceptions import BatchFailedError, InvalidRequestError
from batchkit.providers.mistral import adapter as mistral_module
from batchkit.testing import emulate

MODEL = "mistral:mistral-small-latest"


class Verdict(BaseModel):
    spam: bool
    confidence: float
    reason: str


@pytest.fixture
def handle() -> Iterator[Any]:
    with emulate(providers=["mistral"]) as h:
        yield h


def _requests(n: int, **kw: Any) -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"email/{i} ä", response_model=Verdict, max_tokens=200,
                           messages=[{"role": "system", "content": "Is this spam?"},
                                     {"role": "user", "content": f"email body {i}"}],
                           metadata={"row": i}, **kw)
            for i in range(n)]


def test_every_request_is_accounted_for_across_shards_and_faults(handle: Any) -> None:
    app = handle.apps["mistral"]
    requests = _requests(60)
    planned = {}
    for i in range(0, 60, 5):
        kind = ("http_error", "missing", "invalid_json", "http_error")[(i // 5) % 4]
        app.fault(requests[i].custom_id, kind, status_code=429 if i % 2 else 400)
        planned[requests[i].custom_id] = kind
    job = bk.submit(requests, MODEL, shard_size=25)
    assert len(job.shards) == 3
    results = job.wait().results()
    assert (app.uploads, app.creates) == (0, 3)  # small shards go inline
    assert [r.custom_id for r in results] == [r.custom_id for r in requests]
    assert [r.metadata["row"] for r in results] == list(range(60))
    for r in results:
        kind = planned.get(r.custom_id)
        if kind == "http_error":
            assert r.status == "errored" and r.error is not None
            assert r.error.http_status in (400, 429)
            assert r.error.retryable is (r.error.http_status == 429)
        elif kind == "missing":
            assert r.status == "errored" and r.error is not None
            assert r.error.code == "missing_result"
        elif kind == "invalid_json":
            assert r.status == "succeeded" and r.parsed is None and r.parse_error
        else:
            assert r.status == "succeeded" and isinstance(r.parsed, Verdict)
            assert r.usage is not None and r.usage.input_tokens > 0
    assert results.counts() == {"succeeded": 51, "errored": 9}


def test_timeout_exceeded_gives_partial_results_and_expired_rows(handle: Any) -> None:
    app = handle.apps["mistral"]
    requests = _requests(6)
    for r in requests[1:3]:
        app.fault(r.custom_id, "expired")
    job = bk.submit(requests, MODEL, options={"timeout_hours": 2}).wait()
    assert job.state is bk.JobState.EXPIRED
    assert job.shards[0].vendor_status == "TIMEOUT_EXCEEDED"
    results = job.results()
    assert [r.status for r in results] == ["succeeded", "expired", "expired", "succeeded",
                                           "succeeded", "succeeded"]
    assert all(r.error is not None and r.error.code == "batch_expired"
               for r in results if r.status == "expired")
    assert all(isinstance(r.parsed, Verdict) for r in results if r.status == "succeeded")


def test_file_path_end_to_end(handle: Any) -> None:
    app = handle.apps["mistral"]
    app.fault(_requests(3)[2].custom_id, "http_error", status_code=500)
    results = bk.run(_requests(3), MODEL, options={"upload": "file"})
    assert (app.uploads, app.creates) == (1, 1)
    assert [r.status for r in results] == ["succeeded", "succeeded", "errored"]
    error = results[2].error
    assert error is not None and (error.http_status, error.retryable) == (500, True)


def test_a_rejected_job_fails_with_the_vendor_message(handle: Any) -> None:
    handle.apps["mistral"].fail_next_job("The batch input could not be validated")
    job = bk.submit(_requests(3), MODEL)
    with pytest.raises(BatchFailedError, match="could not be validated"):
        job.wait()
    results = job.results()
    assert len(results) == 3 and {r.status for r in results} == {"errored"}
    assert all(r.error is not None and "could not be validated" in r.error.message
               for r in results)


def test_embeddings_with_the_native_dimension(handle: Any) -> None:
    requests = [bk.EmbedRequest(custom_id=f"doc-{i}", text=f"chunk {i}",
                                params={"encoding_format": "base64"} if i % 2 else {})
                for i in range(4)]
    matrix = bk.run(requests, "mistral:mistral-embed").embeddings()
    assert matrix.shape == (4, 1024) and matrix.dtype == np.float32
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-3)


def test_bad_input_is_caught_before_anything_is_sent(handle: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    app = handle.apps["mistral"]
    requests = _requests(3)
    odd = bk.ChatRequest(custom_id="odd", messages=[{"role": "user", "content": "x"}],
                         params={"max_completion_tokens": 10})
    with pytest.raises(InvalidRequestError, match=r"custom_id 'odd': .*max_completion_tokens"):
        bk.submit([*requests, odd], MODEL)
    hot = bk.ChatRequest(custom_id="hot", messages=[{"role": "user", "content": "x"}],
                         temperature=1.9)
    with pytest.raises(InvalidRequestError, match=r"custom_id 'hot': .*temperature up to 1.5"):
        bk.submit([*requests, hot], MODEL)
    monkeypatch.setattr(mistral_module, "_MAX_BYTES", 2_000)
    big = bk.ChatRequest(custom_id="big", messages=[{"role": "user", "content": "x" * 3_000}])
    with pytest.raises(InvalidRequestError, match=r"custom_id 'big': .*over the provider's limit"):
        bk.submit([*requests, big], MODEL)
    assert (app.uploads, app.create_attempts) == (0, 0)


def test_results_are_priced_at_half_the_list_price(handle: Any) -> None:
    """The catalog's Mistral rule (50 %, from Mistral's batch page) prices each result."""
    from batchkit.cost import cost_of_usage
    from batchkit.cost._catalog import load_catalog

    catalog = load_catalog()
    assert catalog.rule("mistral").batch_discount == 0.5
    row = catalog.get("mistral:mistral-small-latest")
    assert row is not None and "mistral" in row.source
    results = bk.run(_requests(3), MODEL)
    for r in results:
        assert r.usage is not None and r.cost_usd is not None
        list_price = (r.usage.input_tokens * (row.input or 0)
                      + r.usage.output_tokens * (row.output or 0)) / 1e6
        assert r.cost_usd == pytest.approx(list_price / 2)
        assert r.cost_usd == pytest.approx(cost_of_usage("mistral", "mistral-small-latest",
                                                         r.usage))
    embed = catalog.get("mistral:codestral-embed")
    assert embed is not None and embed.input == 0.15 and embed.kind == "embedding"
