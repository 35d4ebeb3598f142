"""Gemini end to end: bk.submit through the real google-genai SDK against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit.testing import emulate


class Verdict(BaseModel):
    spam: bool
    confidence: float
    reason: str


@pytest.fixture
def handle() -> Iterator[Any]:
    with emulate(providers=["gemini"]) as h:
        yield h


def _chats(n: int, **kw: Any) -> list[bk.ChatRequest]:
    return [
        bk.ChatRequest(custom_id=f"mail/{i} ü", response_model=Verdict, max_tokens=200,
                       messages=[{"role": "system", "content": "Is this spam?"},
                                 {"role": "user", "content": f"email body {i}"}],
                       metadata={"row": i}, **kw)
        for i in range(n)
    ]


@pytest.mark.parametrize("path", ["inline", "file"])
def test_300_structured_chats_with_failed_rows_and_an_expired_batch(
    handle: Any, path: str
) -> None:
    app = handle.apps["gemini"]
    requests = _chats(300)
    failed = {requests[i].custom_id for i in range(5, 300, 17)}
    for cid in failed:
        app.fault(cid, "RESOURCE_EXHAUSTED", "Quota exceeded for this batch row.")
    app.arm()                      # shard 0: runs to the end
    app.arm(expire_after=60)       # shard 1: expires after 60 of its 100 rows
    options = {"inline_max_bytes": 0} if path == "file" else {}
    # arm() applies to batches in the order they are created: create one at a time.
    job = bk.submit(requests, "gemini:gemini-2.5-flash", shard_size=100, options=options,
                    concurrency=1)
    results = job.wait().results()

    assert app.creates == 3
    assert app.inline_creates == (3 if path == "inline" else 0)
    assert len(app.files) == (0 if path == "inline" else 6)  # 3 inputs + 3 results files
    assert len(results) == 300
    assert [r.custom_id for r in results] == [r.custom_id for r in requests]
    assert [r.metadata["row"] for r in results] == list(range(300))
    expired_rows = set(range(160, 200))
    want: dict[str, int] = {"succeeded": 0, "errored": 0, "expired": 0}
    for i, r in enumerate(results):
        if i in expired_rows:
            assert r.status == "expired" and r.error is not None
            assert r.error.code == "batch_expired" and r.parsed is None
        elif r.custom_id in failed:
            assert r.status == "errored" and r.error is not None and r.parsed is None
            assert (r.error.code, r.error.retryable, r.error.http_status) == (
                "resource_exhausted", True, 429)
            assert r.error.message == "Quota exceeded for this batch row."
        else:
            assert r.status == "succeeded" and isinstance(r.parsed, Verdict), r
            assert r.usage is not None and r.usage.input_tokens > 0
            assert r.usage.reasoning_tokens > 0  # 2.5 models think
            assert r.finish_reason == "stop"
        want[r.status] += 1
    failed_ran = sum(1 for i, r in enumerate(requests)
                     if r.custom_id in failed and i not in expired_rows)
    assert want == {"succeeded": 300 - 40 - failed_ran, "errored": failed_ran, "expired": 40}
    assert results.counts() == {k: v for k, v in want.items() if v}
    assert results.unmatched == []
    ran = [r for r in results if r.ok]
    assert all(r.cost_usd is not None and r.cost_usd > 0 for r in ran)
    assert results.cost_usd == pytest.approx(sum(r.cost_usd or 0 for r in ran))
    states = [s.state for s in job.shards]
    assert states == [bk.JobState.COMPLETED, bk.JobState.EXPIRED, bk.JobState.COMPLETED]


def test_200_embeddings_with_failed_rows(handle: Any) -> None:
    app = handle.apps["gemini"]
    requests = [bk.EmbedRequest(custom_id=f"doc-{i}", text=f"chunk {i}", dimensions=32,
                                input_type="search_document", metadata={"title": f"T{i}"})
                for i in range(200)]
    failed = {f"doc-{i}" for i in range(3, 200, 25)}
    for cid in failed:
        app.fault(cid, "INTERNAL")
    app.arm(expire_after=150)
    results = bk.submit(requests, "gemini:gemini-embedding-001").wait().results()

    assert app.creates == 1 and app.inline_creates == 0  # embeddings always use a file
    assert [r.custom_id for r in results] == [r.custom_id for r in requests]
    assert [r.metadata["title"] for r in results] == [f"T{i}" for i in range(200)]
    counts = {"succeeded": 0, "errored": 0, "expired": 0}
    for i, r in enumerate(results):
        counts[r.status] += 1
        if i >= 150:
            assert r.status == "expired"
        elif r.custom_id in failed:
            assert r.status == "errored" and r.error is not None
            assert r.error.code == "internal" and r.error.retryable
        else:
            assert r.embedding is not None and r.embedding.shape == (32,)
            assert abs(float(np.linalg.norm(r.embedding)) - 1.0) < 1e-3
    ran_failed = sum(1 for c in failed if int(c.split("-")[1]) < 150)
    assert counts == {"succeeded": 150 - ran_failed, "errored": ran_failed, "expired": 50}
    ok = [r for r in results if r.ok]
    matrix = bk.ResultSet(ok).embeddings()
    assert matrix.shape == (len(ok), 32) and matrix.dtype == np.float32
    # task type and dimensions reached the vendor
    batch = next(iter(app.batches.values()))
    assert batch.rows[0].request["taskType"] == "RETRIEVAL_DOCUMENT"


@pytest.mark.parametrize(("fault", "missing", "surplus"), [
    ({"drop_inline": 3}, 3, 0),
    ({"extra_inline": 2}, 0, 2),
])
def test_inline_count_mismatch_accounts_for_every_request(
    handle: Any, fault: dict[str, int], missing: int, surplus: int
) -> None:
    app = handle.apps["gemini"]
    requests = _chats(12)
    app.arm(**fault)
    results = bk.submit(requests, "gemini:gemini-2.5-flash").wait().results()
    assert app.inline_creates == 1
    assert [r.custom_id for r in results] == [r.custom_id for r in requests]
    lost = [r for r in results if r.error is not None and r.error.code == "missing_result"]
    assert [r.custom_id for r in lost] == [r.custom_id for r in requests[12 - missing:]]
    assert results.counts() == {"succeeded": 12 - missing, **({"errored": missing}
                                                              if missing else {})}
    assert len(results.unmatched) == surplus
    assert all(u["key"].startswith("surplus-") for u in results.unmatched)


def test_inline_responses_without_keys_are_never_guessed(handle: Any) -> None:
    """Responses that lost their ``metadata.key`` are kept as unmatched lines; their requests
    get ``missing_result`` rather than a neighbour's answer."""
    handle.apps["gemini"].arm(strip_metadata=True)
    results = bk.submit(_chats(5), "gemini:gemini-2.5-flash").wait().results()
    assert len(results) == 5
    assert all(r.error is not None and r.error.code == "missing_result" for r in results)
    assert sorted(u["line"] for u in results.unmatched) == [1, 2, 3, 4, 5]
    assert all("'key'" in u["error"] for u in results.unmatched)


def test_failed_batch_gives_every_request_an_error(handle: Any) -> None:
    app = handle.apps["gemini"]
    app.arm(fail="The input file could not be processed.")
    job = bk.submit(_chats(4), "gemini:gemini-2.5-flash", options={"inline_max_bytes": 0})
    with pytest.raises(bk.BatchFailedError, match="reported the batch as failed"):
        job.wait()
    results = job.results()
    assert len(results) == 4
    assert all(r.status == "errored" and r.error and r.error.code == "batch_failed"
               for r in results)


def test_images_reach_the_vendor_intact_on_both_paths(handle: Any) -> None:
    app = handle.apps["gemini"]
    image = {"type": "image", "data": "iVBORw0KGgo=", "media_type": "image/png"}
    request = bk.ChatRequest(custom_id="img", messages=[
        {"role": "user", "content": [{"type": "text", "text": "what is it?"}, image]}])
    for options in ({}, {"inline_max_bytes": 0}):
        results = bk.submit([request], "gemini:gemini-2.5-flash", options=options).wait() \
            .results()
        assert results.counts() == {"succeeded": 1}
    inline, from_file = (b.rows[0].request for b in app.batches.values())
    for sent in (inline, from_file):
        blob = sent["contents"][0]["parts"][1]["inlineData"]
        assert blob["data"] == "iVBORw0KGgo="  # decoded once, not base64-wrapped again
        # google-genai 2.34 writes ``mime_type`` inside inline parts; proto JSON takes both
        assert blob.get("mimeType", blob.get("mime_type")) == "image/png"
    assert app.inline_creates == 1


def test_fields_the_sdk_cannot_inline_take_the_file_path(handle: Any) -> None:
    """``enableAffectiveDialog`` is a GenerationConfig field that the SDK's inline
    GenerateContentConfig lacks: the shard goes through a file, sent verbatim."""
    app = handle.apps["gemini"]
    request = _chats(1, params={"generationConfig": {"enableAffectiveDialog": False}})
    results = bk.submit(request, "gemini:gemini-2.5-flash").wait().results()
    assert results.counts() == {"succeeded": 1}
    assert (app.creates, app.inline_creates) == (1, 0)
    batch = next(iter(app.batches.values()))
    assert batch.rows[0].request["generationConfig"]["enableAffectiveDialog"] is False


def test_invalid_rows_come_back_as_invalid_argument(handle: Any) -> None:
    """Rows the API rejects (a bad enum value, a misspelt field, both sent through params) are
    errored results with the vendor's message; their neighbour succeeds."""
    good, bad_enum, typo = _chats(3)
    bad_enum = bad_enum.model_copy(update={"params": {"safetySettings": [
        {"category": "NOPE", "threshold": "BLOCK_NONE"}]}})
    typo = typo.model_copy(update={"params": {"generationConfig": {"temprature": 0.5}}})
    results = bk.submit([good, bad_enum, typo], "gemini:gemini-2.5-flash",
                        options={"inline_max_bytes": 0}).wait().results()
    assert [r.status for r in results] == ["succeeded", "errored", "errored"]
    for r, where in zip(results[1:], ("safety_settings", "generation_config"), strict=True):
        assert r.error is not None and r.error.code == "invalid_argument"
        assert not r.error.retryable and where in r.error.message
