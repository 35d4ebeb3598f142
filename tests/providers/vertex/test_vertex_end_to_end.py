"""Vertex AI end to end: bk.submit through the official aiplatform and storage clients against
the emulators, with failed rows, a partially succeeded job, an expired job and a failed job."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit.providers.vertex.codec import vendor_id
from batchkit.testing._emulate import EmulatorHandle
from batchkit.testing.emulators.vertex.replies import generate_content_response, prompt_text

DIMS = 32


class Verdict(BaseModel):
    spam: bool
    confidence: float
    reason: str


def _cid(i: int) -> str:
    """Ids that are label-safe, too long, upper-case or full of symbols, so most are escaped."""
    return (f"mail-{i}", f"Mail/{i} äö", f"{i:04d}-" + "x" * 75)[i % 3]


def _verdict(i: int) -> dict[str, Any]:
    return {"spam": i % 2 == 0, "confidence": i / 1000, "reason": f"row {i}"}


def _row_number(text: str) -> int:
    return int(re.findall(r"\d+", text)[-1])


def _chat_responder(request: dict[str, Any], model: str) -> dict[str, Any]:
    """The reply is derived from the prompt alone, so the test knows every parsed object."""
    i = _row_number(prompt_text(request["contents"]))
    return generate_content_response(request, model, json.dumps(_verdict(i)))


def _embedding_responder(instance: dict[str, Any], dimensions: int) -> dict[str, Any]:
    """A one-hot vector at ``row % dimensions``."""
    values = [0.0] * dimensions
    values[_row_number(instance["content"]) % dimensions] = 1.0
    return {"embeddings": {"statistics": {"token_count": 3, "truncated": False},
                           "values": values}}


def _chats(n: int) -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=_cid(i), response_model=Verdict, max_tokens=200,
                           messages=[{"role": "system", "content": "Is this spam?"},
                                     {"role": "user", "content": f"email body {i}"}],
                           metadata={"row": i}) for i in range(n)]


def _embeds(n: int) -> list[bk.EmbedRequest]:
    return [bk.EmbedRequest(custom_id=f"doc {i}", text=f"chunk {i}", dimensions=DIMS,
                            input_type="search_document", metadata={"row": i})
            for i in range(n)]


def test_300_structured_chats_and_200_embeddings_with_failed_rows_and_a_partial_job(
        handle: EmulatorHandle) -> None:
    app = handle.apps["vertex"]
    app.chat_responder = _chat_responder
    app.embedding_responder = _embedding_responder
    chats, embeds = _chats(300), _embeds(200)
    failed_chat = {i for i in range(300) if i % 13 == 5}
    failed_embed = {i for i in range(200) if i % 17 == 3}
    for i in failed_chat:
        app.fault_row(vendor_id(chats[i].custom_id), 400, f"bad row {i}")
    for i in failed_embed:
        app.fault_row(vendor_id(embeds[i].custom_id), 429, "Quota exceeded")
    # The chat job of shard 1 (rows 100-199) writes only its first 80 rows, and the embedding
    # job only its first 150.
    app.fault_next_job("partially_succeeded", completed=80,
                       where=lambda body: body["displayName"].endswith("-0001"))
    app.fault_next_job("partially_succeeded", completed=150,
                       where=lambda body: "text-embedding" in body["model"])

    chat_job = bk.submit(chats, "vertex:gemini-2.5-flash", shard_size=100)
    embed_job = bk.submit(embeds, "vertex:text-embedding-005")
    chat_results = chat_job.wait().results()
    embed_results = embed_job.wait().results()

    assert app.creates == 4
    assert chat_job.state == embed_job.state == bk.JobState.COMPLETED
    assert [s.vendor_status for s in chat_job.shards] == [
        "JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED", "JOB_STATE_SUCCEEDED"]
    missing_chat = set(range(180, 200))
    assert len(chat_results) == 300
    assert [r.custom_id for r in chat_results] == [r.custom_id for r in chats]
    assert [r.metadata["row"] for r in chat_results] == list(range(300))
    for i, r in enumerate(chat_results):
        if i in failed_chat and i not in missing_chat:
            assert r.status == "errored" and r.error is not None
            assert (r.error.code, r.error.message, r.error.http_status) == (
                "invalid_argument", f"bad row {i}", 400)
        elif i in missing_chat:
            assert r.status == "errored" and r.error and r.error.code == "missing_result"
        else:
            assert r.status == "succeeded" and r.finish_reason == "stop"
            assert r.parsed == Verdict(**_verdict(i))
            assert r.usage is not None and r.usage.input_tokens > 0
    want_failed = len(failed_chat - missing_chat)
    assert chat_results.counts() == {"succeeded": 300 - want_failed - 20,
                                     "errored": want_failed + 20}

    missing_embed = set(range(150, 200))
    assert [r.custom_id for r in embed_results] == [r.custom_id for r in embeds]
    for i, r in enumerate(embed_results):
        if i in failed_embed and i not in missing_embed:
            assert r.status == "errored" and r.error is not None
            assert (r.error.code, r.error.retryable) == ("resource_exhausted", True)
        elif i in missing_embed:
            assert r.status == "errored" and r.error and r.error.code == "missing_result"
        else:
            assert r.status == "succeeded" and r.embedding is not None
            want = np.zeros(DIMS, dtype=np.float32)
            want[i % DIMS] = 1.0
            assert np.array_equal(r.embedding, want)
            assert r.usage is not None and r.usage.input_tokens == 3
    n_failed = len(failed_embed - missing_embed)
    assert embed_results.counts() == {"succeeded": 150 - n_failed, "errored": n_failed + 50}


def test_expired_job_keeps_finished_rows_and_expires_the_rest(handle: EmulatorHandle) -> None:
    app = handle.apps["vertex"]
    app.fault_next_job("expired", completed=4)
    results = bk.submit(_chats(10), "vertex:gemini-2.5-flash").wait().results()
    assert [r.status for r in results] == ["succeeded"] * 4 + ["expired"] * 6
    assert all(r.error and r.error.code == "batch_expired" for r in results[4:])


def test_job_that_never_left_the_queue_expires_every_request(handle: EmulatorHandle) -> None:
    handle.apps["vertex"].fault_next_job("expired")
    job = bk.submit(_chats(3), "vertex:gemini-2.5-flash").wait()
    assert job.state == bk.JobState.EXPIRED
    assert job.results().counts() == {"expired": 3}


def test_failed_job_raises_with_the_vendor_message_and_errors_every_request(
        handle: EmulatorHandle) -> None:
    handle.apps["vertex"].fault_next_job("failed", message="Internal error occurred: disk full")
    job = bk.submit(_chats(5), "vertex:gemini-2.5-flash")
    with pytest.raises(bk.BatchFailedError, match="disk full"):
        job.wait()
    results = job.results()
    assert results.counts() == {"errored": 5}
    assert all(r.error and r.error.code == "batch_failed" and "disk full" in r.error.message
               for r in results)


def test_dimension_groups_become_separate_jobs_with_model_parameters(
        handle: EmulatorHandle) -> None:
    app = handle.apps["vertex"]
    requests = [bk.EmbedRequest(custom_id=f"d{i}", text=f"t {i}", dimensions=(8, 16)[i % 2])
                for i in range(6)]
    results = bk.run(requests, provider="vertex:text-embedding-005")
    assert [r.embedding.shape for r in results if r.embedding is not None] == [(8,), (16,)] * 3
    params = sorted(j.body["modelParameters"]["outputDimensionality"] for j in app.jobs.values())
    assert params == [8, 16]
    assert all(j.body["instanceConfig"] == {"keyField": "batchkit_id"} for j in app.jobs.values())
