"""The orchestration loop on the fake provider: completeness, order, states, cancel, failure."""

from __future__ import annotations

import random

import numpy as np
import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit._clock import Backoff
from batchkit.testing import fake_submissions

FAST = Backoff(initial=0.001, maximum=0.001)


class Label(BaseModel):
    spam: bool
    reason: str


def chat(n: int, **kw: object) -> list[bk.ChatRequest]:
    return [
        bk.ChatRequest(custom_id=f"mail-{i}", messages=[{"role": "user", "content": f"mail {i}"}],
                       metadata={"n": i}, **kw)  # type: ignore[arg-type]
        for i in range(n)
    ]


def test_ten_thousand_requests_with_injected_faults(clock: object) -> None:
    requests = chat(10_000)
    ids = [r.custom_id for r in requests]
    rng = random.Random(7)
    picked = rng.sample(ids, 400)
    errors = {cid: rng.choice(["server_error", "invalid_request"]) for cid in picked[:300]}
    missing = set(picked[300:])
    job = bk.submit(requests, "fake:m", options={
        "max_requests": 1000, "errors": errors, "missing": sorted(missing)}, clock=clock)
    assert len(job.shards) == 10
    assert all(s.request_count == 1000 for s in job.shards)
    job.wait()
    assert job.state == bk.JobState.COMPLETED
    results = job.results()
    assert len(results) == 10_000
    assert [r.custom_id for r in results] == ids
    assert [r.metadata["n"] for r in results] == list(range(10_000))
    counts = results.counts()
    assert counts == {"succeeded": 9_600, "errored": 400}
    for r in results:
        if r.custom_id in errors:
            assert r.status == "errored" and r.error and r.error.code == errors[r.custom_id]
        elif r.custom_id in missing:
            assert r.status == "errored" and r.error and r.error.code == "missing_result"
        else:
            assert r.status == "succeeded" and r.text == f"echo: mail {r.metadata['n']}"
    assert set(fake_submissions().values()) == {1}
    assert len(fake_submissions()) == 10


def test_structured_replies_are_parsed_and_split(clock: object) -> None:
    job = bk.submit(chat(20, response_model=Label), "fake:m",
                    options={"errors": {"mail-2": "server_error"}}, clock=clock)
    results = job.wait().results()
    parsed, unparsed = results.split()
    assert len(parsed) == 19 and all(isinstance(p, Label) for p in parsed)
    assert [r.custom_id for r in unparsed] == ["mail-2"]


def test_resolver_reports_unimportable_model_instead_of_guessing(clock: object) -> None:
    job = bk.submit(chat(3, response_model=Label), "fake:m", clock=clock)
    job.wait()
    other_process_view = bk.get_job(job.id, clock=clock)  # no in-memory models
    results = other_process_view.results()
    # Label is importable (module-level in this test module), so parsing still works.
    assert all(isinstance(r.parsed, Label) for r in results)


def test_mixed_chat_and_embeddings_keep_input_order(clock: object) -> None:
    requests: list[bk.ChatRequest | bk.EmbedRequest] = []
    for i in range(30):
        if i % 3:
            requests.append(bk.EmbedRequest(custom_id=f"d{i}", text=f"doc {i}"))
        else:
            requests.append(chat(30)[i])
    job = bk.submit(requests, "fake:m", options={"max_requests": 7}, clock=clock)
    groups = [s.group for s in job.shards]
    assert sorted(set(groups)) == ["chat", "embed"]
    results = job.wait().results()
    assert [r.custom_id for r in results] == [r.custom_id for r in requests]
    embeds = bk.ResultSet([r for r in results if r.custom_id.startswith("d")])
    matrix = embeds.embeddings()
    assert matrix.shape == (20, 8) and matrix.dtype == np.float32
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="'mail-0' has no 'float' embedding"):
        results.embeddings()


def test_expired_batch_marks_unrun_requests_expired(clock: object) -> None:
    job = bk.submit(chat(10), "fake:m", options={
        "states": ["running", "expired"], "expired": ["mail-7", "mail-8"],
        "missing": ["mail-9"]}, clock=clock)
    job.wait()
    assert job.state == bk.JobState.EXPIRED
    results = job.results()
    assert [r.status for r in results][7:] == ["expired", "expired", "expired"]
    assert results[9].error and results[9].error.code == "batch_expired"
    assert results.counts() == {"succeeded": 7, "expired": 3}


def test_rejected_batch_raises_naming_lines_and_still_gives_results(clock: object) -> None:
    job = bk.submit(chat(5), "fake:m", options={"reject": {"2": "bad temperature"}}, clock=clock)
    with pytest.raises(bk.BatchFailedError, match="custom_id 'mail-1': invalid_request: bad temp"):
        job.wait()
    assert job.state == bk.JobState.FAILED
    results = job.results()
    assert len(results) == 5 and results.counts() == {"errored": 5}
    assert results[1].error and results[1].error.message == "bad temperature"
    assert results[0].error and results[0].error.code == "batch_failed"


def test_cancel_before_and_after_submission(clock: object) -> None:
    job = bk.submit(chat(10), "fake:m", options={"states": ["running"] * 50}, clock=clock)
    job.refresh()
    job.cancel()
    assert job.state == bk.JobState.CANCELLING
    job.wait()
    assert job.state == bk.JobState.CANCELLED
    results = job.results()
    assert results.counts() == {"cancelled": 10}
    assert all(r.error and r.error.code == "batch_cancelled" for r in results)


def test_wait_times_out_on_the_injected_clock(clock: object) -> None:
    job = bk.submit(chat(2), "fake:m", options={"states": ["running"] * 1000}, clock=clock)
    with pytest.raises(TimeoutError, match="still running"):
        job.wait(timeout=600)
    assert 600 <= clock.now < 700  # type: ignore[attr-defined]
    assert max(clock.sleeps) <= 60 * 1.2  # type: ignore[attr-defined]


def test_results_before_the_end_is_an_error(clock: object) -> None:
    job = bk.submit(chat(2), "fake:m", options={"states": ["running"] * 10}, clock=clock)
    with pytest.raises(bk.BatchkitError, match="call wait"):
        job.results()


def test_run_is_submit_wait_results() -> None:
    results = bk.run(chat(3), "fake:m", options={"states": ["completed"]})
    assert [r.text for r in results] == ["echo: mail 0", "echo: mail 1", "echo: mail 2"]
