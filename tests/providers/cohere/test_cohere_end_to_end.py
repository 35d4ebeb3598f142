"""Cohere end to end: bk.submit through the real cohere SDK against the emulator."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit._exceptions import BatchFailedError, InvalidRequestError, MissingCredentialsError
from batchkit._registry import make_adapter
from batchkit.providers.cohere.codec import ID_FIELD
from batchkit.testing import emulate

EMBED = "cohere:embed-english-v3.0"


@pytest.fixture
def handle() -> Iterator[Any]:
    with emulate(providers=["cohere"]) as h:
        yield h


def _docs(n: int, **kw: Any) -> list[bk.EmbedRequest]:
    """``title`` on every row, ``url`` on every third."""
    return [
        bk.EmbedRequest(custom_id=f"chunk {i}/ü", text=f"chunk of text number {i}",
                        metadata={"title": f"Title {i}", **({"url": f"https://x/{i}"}
                                                            if i % 3 == 0 else {})}, **kw)
        for i in range(n)
    ]


def test_2000_embeddings_float_and_int8_in_order_with_metadata(handle: Any) -> None:
    app = handle.apps["cohere"]
    requests = _docs(2000)
    job = bk.submit(requests, EMBED, options={"embedding_types": ["float", "int8"]})
    results = job.wait().results()

    assert len(results) == 2000 and results.counts() == {"succeeded": 2000}
    assert [r.custom_id for r in results] == [r.custom_id for r in requests]
    assert [r.metadata for r in results] == [r.metadata for r in requests]
    floats, int8 = results.embeddings(), results.embeddings(kind="int8")
    assert floats.shape == (2000, 1024) and floats.dtype == np.float32
    assert int8.shape == (2000, 1024) and int8.dtype == np.int8
    assert np.allclose(np.linalg.norm(floats, axis=1), 1.0, atol=1e-3)
    # int8 is the float vector quantized: the signs agree wherever the value is not tiny.
    big = np.abs(floats) > 0.01
    assert np.array_equal(np.sign(floats[big]), np.sign(int8[big]))
    uploaded = [d for d in app.datasets.values() if d.dataset_type == "embed-input"]
    assert len(uploaded) == 1
    assert (uploaded[0].keep_fields, uploaded[0].optional_fields) == (
        [ID_FIELD, "title"], ["url"])
    output = [d for d in app.datasets.values() if d.dataset_type == "embed-result"]
    assert len(output[0].parts) == 2  # 1,000 records per Avro part: both were streamed
    shard = job.shards[0]
    [result_file] = shard.result_paths or []
    with open(result_file, "rb") as fh:
        assert sum(1 for _ in fh) == 2000


def test_results_follow_the_id_field_not_the_output_order(tmp_path: Any) -> None:
    """Output records are matched by ``batchkit_id``: a shuffled output decodes the same."""
    requests = _docs(30)
    records = [orjson.dumps({"text": r.text, ID_FIELD: r.custom_id, **r.metadata,
                             "embeddings": {"float": [float(i), 1.0], "int8": None}})
               for i, r in enumerate(requests)]
    random.Random(3).shuffle(records)
    path = tmp_path / "output.jsonl"
    path.write_bytes(b"\n".join(records) + b"\n")
    results = bk.decode(path, "cohere", requests)
    assert [r.custom_id for r in results] == [r.custom_id for r in requests]
    assert results.embeddings()[:, 0].tolist() == list(range(30))


def test_a_forced_keep_field_missing_from_a_row_stops_before_upload(handle: Any) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        bk.submit(_docs(10), EMBED, options={"keep_fields": ["url"]})
    assert caught.value.custom_id == "chunk 1/ü" and "'url'" in str(caught.value)
    assert handle.apps["cohere"].datasets == {}


def test_validation_failure_is_a_clear_error_with_cohere_reason(handle: Any) -> None:
    app = handle.apps["cohere"]
    app.fail_validation("row 7: text exceeds the maximum length")
    job = bk.submit(_docs(12), EMBED)
    with pytest.raises(BatchFailedError, match="row 7: text exceeds the maximum length"):
        job.wait()
    assert job.state == bk.JobState.FAILED and app.embed_jobs == {}
    results = job.results()
    assert len(results) == 12 and results.counts() == {"errored": 12}
    assert all(r.error and "maximum length" in r.error.message for r in results)


def test_failed_embed_job_accounts_for_every_request(handle: Any) -> None:
    handle.apps["cohere"].fail_job("internal error")
    job = bk.submit(_docs(5), EMBED)
    with pytest.raises(BatchFailedError, match="failed"):
        job.wait()
    results = job.results()
    assert [r.status for r in results] == ["errored"] * 5


def test_cancelled_embed_job_gives_cancelled_results(handle: Any) -> None:
    job = bk.submit(_docs(5), EMBED)
    job.cancel()
    job.wait()
    assert job.state == bk.JobState.CANCELLED
    assert {r.status for r in job.results()} == {"cancelled"}


def test_input_types_shard_apart_and_merge_back_in_order(handle: Any) -> None:
    app = handle.apps["cohere"]
    requests = [bk.EmbedRequest(custom_id=f"q{i}", text=f"text {i}",
                                input_type="search_query" if i % 2 else None)
                for i in range(10)]
    job = bk.submit(requests, EMBED, options={"embedding_types": ["binary", "ubinary"]})
    results = job.wait().results()
    assert sorted(j.input_type for j in app.embed_jobs.values()) == [
        "search_document", "search_query"]
    assert [r.custom_id for r in results] == [f"q{i}" for i in range(10)]
    assert results.embeddings(kind="binary").shape == (10, 128)
    assert results.embeddings(kind="ubinary").dtype == np.uint8
    assert all(r.embedding is None for r in results)  # float was not asked for


def test_a_lost_create_reuses_the_uploaded_dataset(handle: Any) -> None:
    """The upload succeeded, the job create answered 500: the retry finds the dataset by its
    name (the shard key) and creates the job on it, uploading nothing twice."""
    app = handle.apps["cohere"]
    app.endpoint_faults.add(500, method="POST", path_prefix="/v1/embed-jobs")
    results = bk.submit(_docs(6), EMBED).wait().results()
    assert results.counts() == {"succeeded": 6}
    [dataset] = [d for d in app.datasets.values() if d.dataset_type == "embed-input"]
    assert app.uploads_named(dataset.name) == 1 and app.jobs_created_with(dataset.name) == 1


def test_resume_after_a_refused_create_reuses_the_uploaded_dataset(handle: Any) -> None:
    app = handle.apps["cohere"]
    app.endpoint_faults.add(400, method="POST", path_prefix="/v1/embed-jobs")
    with pytest.raises(bk.ProviderError, match="HTTP 400"):
        bk.submit(_docs(6), EMBED)
    [dataset] = app.datasets.values()
    job_id = dataset.name.rpartition("-")[0]
    results = bk.resume(job_id).wait().results()
    assert results.counts() == {"succeeded": 6}
    assert app.uploads_named(dataset.name) == 1 and app.jobs_created_with(dataset.name) == 1


class Verdict(BaseModel):
    spam: bool
    reason: str


def test_structured_chat_through_batches_with_failed_records(handle: Any) -> None:
    app = handle.apps["cohere"]
    requests = [bk.ChatRequest(custom_id=f"mail {i}", response_model=Verdict, max_tokens=200,
                               temperature=0.2, metadata={"row": i},
                               messages=[{"role": "system", "content": "Is this spam?"},
                                         {"role": "user", "content": f"email body {i}"}])
                for i in range(40)]
    for i in range(0, 40, 9):
        app.fault(f"mail {i}", "internal error while generating")
    results = bk.submit(requests, "cohere:command-r-08-2024").wait().results()
    assert [r.custom_id for r in results] == [r.custom_id for r in requests]
    assert [r.metadata["row"] for r in results] == list(range(40))
    failed = {r.custom_id for r in results if r.status == "errored"}
    assert failed == {f"mail {i}" for i in range(0, 40, 9)}
    assert all(r.error and r.error.code == "request_failed" for r in results if not r.ok)
    parsed, unparsed = results.split()
    assert len(unparsed) == 5 and len(parsed) == 35 and all(isinstance(p, Verdict) for p in parsed)
    assert all(r.usage and r.usage.input_tokens > 0 for r in results if r.ok)
    [batch] = app.batches.values()
    assert batch.as_json()["num_failed_records"] == 5


def test_a_refused_key_is_a_credentials_error(handle: Any) -> None:
    handle.apps["cohere"].api_keys = {"someone-else"}
    adapter = make_adapter(EMBED)
    with pytest.raises(MissingCredentialsError, match="CO_API_KEY"):
        adapter.poll("embed-job:0000")
