"""A batch job per Bedrock model family through boto3 against the Bedrock and S3 emulators:
each model answers in its own reply shape, a body the model rejects comes back as its error
row, and every request is accounted for under its own id."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

import batchkit as bk

N = 100
"""Bedrock's minimum records per job."""
UNPRICED = {"allow_unknown_model": True}
"""These models have no row in batchkit's price catalog yet (results are unpriced)."""


def chats(**kw: Any) -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"q_{i}-a", metadata={"row": i}, messages=[
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": f"question number {i}"}], **kw) for i in range(N)]


@pytest.mark.parametrize(("model", "bad", "word"), [
    ("amazon.titan-text-express-v1", {"textGenerationConfig": {"topK": 3}}, "[topK]"),
    ("us.meta.llama3-3-70b-instruct-v1:0", {"max_gen_len": 5000}, "max_gen_len"),
    ("mistral.mixtral-8x7b-instruct-v0:1", {"top_k": 0}, "top_k"),
    ("us.deepseek.r1-v1:0", {"max_tokens": 40000}, "max_tokens"),
])
def test_prompt_family_job(handle: Any, model: str, bad: dict[str, Any], word: str) -> None:
    requests = chats(max_tokens=200)
    requests[4] = requests[4].model_copy(update={"params": {"bedrock": bad}})
    results = bk.run(requests, f"bedrock:{model}", options=UNPRICED)
    assert [r.custom_id for r in results] == [r.custom_id for r in requests]
    assert [r.metadata["row"] for r in results] == list(range(N))
    assert results.counts() == {"succeeded": N - 1, "errored": 1}
    failed = results[4]
    assert failed.error is not None and failed.error.code == "validation_error"
    assert word in failed.error.message
    for i, result in enumerate(results):
        if i == 4:
            continue
        assert result.text is not None and f"question number {i}" in result.text
        assert result.finish_reason == "stop" and result.vendor_finish_reason is not None
    if "deepseek" in model:
        assert all(r.reasoning for r in results if r.ok)
    if "llama" in model or "titan" in model:
        assert all(r.usage and r.usage.input_tokens and r.usage.output_tokens
                   for r in results if r.ok)


class Verdict(BaseModel):
    spam: bool
    reason: str


def test_mistral_large_2_structured_job(handle: Any) -> None:
    results = bk.run(chats(response_model=Verdict, temperature=0),
                     "bedrock:mistral.mistral-large-2407-v1:0", options=UNPRICED)
    assert results.counts() == {"succeeded": N}
    assert all(isinstance(r.parsed, Verdict) and r.finish_reason == "stop" for r in results)
    assert {r.vendor_finish_reason for r in results} == {"tool_calls"}


def test_a_short_max_tokens_ends_as_length(handle: Any) -> None:
    results = bk.run(chats(max_tokens=2), "bedrock:meta.llama3-8b-instruct-v1:0",
                     options=UNPRICED)
    assert {(r.finish_reason, r.vendor_finish_reason) for r in results} == {
        ("length", "length")}


@pytest.mark.parametrize(("model", "size"), [("cohere.embed-english-v3", 1024),
                                             ("cohere.embed-v4:0", 512)])
def test_cohere_embed_job(handle: Any, model: str, size: int) -> None:
    dimensions = 512 if "v4" in model else None
    requests = [bk.EmbedRequest(custom_id=f"d_{i}", text=f"passage {i}", dimensions=dimensions,
                                input_type="search_document") for i in range(N)]
    requests[1] = requests[1].model_copy(update={"params": {"bedrock": {"truncate": "MIDDLE"}}})
    results = bk.run(requests, f"bedrock:{model}", options=UNPRICED)
    assert results.counts() == {"succeeded": N - 1, "errored": 1}
    assert results[1].error is not None and "truncate" in results[1].error.message
    vectors = np.stack([r.embedding for r in results if r.ok])
    assert vectors.shape == (N - 1, size)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_titan_embeddings_v2_by_type_and_unnormalized(handle: Any) -> None:
    requests = [bk.EmbedRequest(custom_id=f"t-{i}", text=f"chunk {i}", dimensions=256, params={
        "bedrock": {"embeddingTypes": ["float", "binary"], "normalize": False}})
        for i in range(N)]
    results = bk.run(requests, "bedrock:amazon.titan-embed-text-v2:0")
    assert results.counts() == {"succeeded": N}
    first = results[0]
    assert first.embeddings_by_type is not None
    assert first.embeddings_by_type["binary"].shape == (256,)
    assert not np.isclose(np.linalg.norm(first.embedding), 1.0)
