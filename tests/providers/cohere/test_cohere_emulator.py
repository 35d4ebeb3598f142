"""The Cohere emulator, driven by the real ``cohere`` SDK: datasets, embed jobs, batches, parts."""

from __future__ import annotations

import importlib.util
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cohere
import httpx
import pytest
import requests
from cohere.batches import Batch
from cohere.datasets import DatasetsCreateResponse, DatasetsGetResponse
from cohere.utils import dataset_generator

from batchkit.testing import emulate


@pytest.fixture
def handle() -> Iterator[Any]:
    with emulate(providers=["cohere"], auto=False) as h:
        yield h


def _client(handle: Any) -> cohere.ClientV2:
    return cohere.ClientV2(api_key="test-key", base_url=handle.base_url("cohere"),
                           log_warning_experimental_features=False)


def _jsonl(*rows: dict[str, Any]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _upload(co: cohere.ClientV2, data: bytes, filename: str = "in.jsonl", **kw: Any) -> str:
    kw.setdefault("type", "embed-input")
    return co.datasets.create(name="docs", data=(filename, io.BytesIO(data)), **kw).id


def _finish(handle: Any, co: cohere.ClientV2, dataset_id: str) -> Any:
    handle.clock.advance(60)
    return co.datasets.get(dataset_id).dataset


ROWS = [{"text": "first", "title": "A", "url": "u1", "views": 3, "dropped": "x"},
        {"text": "second", "title": "B", "views": 4}]


def test_upload_validates_in_steps_and_parts_read_with_the_sdk(handle: Any) -> None:
    co = _client(handle)
    dataset_id = _upload(co, _jsonl(*ROWS), keep_fields=["title", "views"],
                         optional_fields=["url"])
    statuses = [co.datasets.get(dataset_id).dataset.validation_status]
    for step in (5, 10):
        handle.clock.advance(step)
        statuses.append(co.datasets.get(dataset_id).dataset.validation_status)
    assert statuses == ["queued", "processing", "validated"]
    raw = co.datasets.with_raw_response.get(dataset_id).response.json()
    dataset = DatasetsGetResponse.model_validate(raw).dataset
    assert dataset.dataset_type == "embed-input" and dataset.preserve_fields == [
        "title", "views", "url"]
    records = list(dataset_generator(dataset))
    assert records == [{"text": "first", "title": "A", "views": 3, "url": "u1"},
                       {"text": "second", "title": "B", "views": 4, "url": None}]
    assert (co.datasets.get_usage().organization_usage or 0) > 0
    co.datasets.delete(dataset_id)
    with pytest.raises(cohere.NotFoundError):
        co.datasets.get(dataset_id)


def test_csv_upload_keeps_columns_and_optional_blanks(handle: Any) -> None:
    co = _client(handle)
    data = b"text;title;url\nhello, world;A;u1\nbye;B;\n"
    dataset_id = _upload(co, data, "in.csv", keep_fields=["title"], optional_fields=["url"],
                         csv_delimiter=";")
    dataset = _finish(handle, co, dataset_id)
    assert dataset.validation_status == "validated"
    assert [r["url"] for r in dataset_generator(dataset)] == ["u1", None]


@pytest.mark.parametrize(("data", "filename", "error"), [
    (_jsonl({"title": "no text"}), "in.jsonl", "row 1: field 'text' is required"),
    (_jsonl({"text": "ok", "title": "A"}, {"text": "  ", "title": "B"}), "in.jsonl",
     "row 2: field 'text'"),
    (_jsonl({"text": "ok", "title": "A"}, {"text": "no title"}), "in.jsonl",
     "row 2: missing field 'title'"),
    (b'{"text": "ok", "title": "A"}\n{not json\n', "in.jsonl", "line 2: invalid JSON"),
    (b"text\nhello\n", "in.txt", "unsupported file type"),
])
def test_invalid_uploads_fail_validation_with_the_reason(
    handle: Any, data: bytes, filename: str, error: str
) -> None:
    co = _client(handle)
    dataset_id = _upload(co, data, filename, keep_fields=["title"])
    dataset = _finish(handle, co, dataset_id)
    assert dataset.validation_status == "failed" and error in (dataset.validation_error or "")
    with pytest.raises(Exception, match="Dataset creation failed") as caught:
        co.wait(DatasetsCreateResponse(id=dataset_id))  # the SDK's own wait sees it too
    assert error in str(caught.value)


def test_skip_malformed_input_drops_rows_with_warnings(handle: Any) -> None:
    co = _client(handle)
    dataset_id = _upload(co, _jsonl({"text": "ok"}, {"text": ""}), skip_malformed_input=True)
    dataset = _finish(handle, co, dataset_id)
    assert dataset.validation_status == "validated" and len(dataset.validation_warnings) == 1
    assert [r["text"] for r in dataset_generator(dataset)] == ["ok"]


def test_bad_uploads_are_answered_400(handle: Any) -> None:
    co = _client(handle)
    with pytest.raises(cohere.BadRequestError) as caught:
        _upload(co, _jsonl({"text": "x"}), type="sentiment-input")
    assert "type" in caught.value.body["message"]
    with pytest.raises(cohere.BadRequestError, match="under 50"):
        co.datasets.create(name="n" * 60, type="embed-input", data=("a.jsonl", b'{"text":"x"}'))
    response = httpx.post(f"{handle.base_url('cohere')}/v1/datasets?name=x&type=embed-input",
                          headers={"Authorization": "Bearer k"}, files={"other": b"x"})
    assert response.status_code == 400 and "'data'" in response.json()["message"]
    assert httpx.get(f"{handle.base_url('cohere')}/v1/datasets").status_code == 401


def test_embed_job_lifecycle_and_output_records(handle: Any, tmp_path: Any) -> None:
    co = _client(handle)
    dataset_id = _upload(co, _jsonl(*ROWS), keep_fields=["title"], optional_fields=["url"])
    with pytest.raises(cohere.BadRequestError, match="validation status"):
        co.embed_jobs.create(model="embed-english-v3.0", dataset_id=dataset_id,
                             input_type="search_document")
    _finish(handle, co, dataset_id)
    with pytest.raises(cohere.BadRequestError, match="truncate"):
        co.embed_jobs.create(model="embed-english-v3.0", dataset_id=dataset_id,
                             input_type="search_document", truncate="MIDDLE")  # type: ignore[arg-type]
    with pytest.raises(cohere.NotFoundError, match="not found"):
        co.embed_jobs.create(model="embed-nothing", dataset_id=dataset_id,
                             input_type="search_document")
    job_id = co.embed_jobs.create(model="embed-english-light-v3.0", dataset_id=dataset_id,
                                  input_type="search_document", name="job-1",
                                  embedding_types=["float", "int8", "ubinary"]).job_id
    raw = co.embed_jobs.with_raw_response.get(job_id).response.json()
    assert cohere.EmbedJob.model_validate(raw).status == "processing"
    assert [j.job_id for j in co.embed_jobs.list().embed_jobs or []] == [job_id]
    handle.clock.advance(60)
    job = co.embed_jobs.get(job_id)
    assert job.status == "complete" and job.output_dataset_id
    output = co.datasets.get(job.output_dataset_id).dataset
    assert output.dataset_type == "embed-result" and output.validation_status == "validated"
    path = tmp_path / "out.jsonl"
    co.utils.save_dataset(output, str(path), format="jsonl")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["text"], r["title"], r["url"]) for r in records] == [
        ("first", "A", "u1"), ("second", "B", None)]
    vectors = records[0]["embeddings"]
    assert len(vectors["float"]) == 384 and len(vectors["int8"]) == 384
    assert len(vectors["ubinary"]) == 48 and vectors["uint8"] is None
    assert all(-128 <= v <= 127 for v in vectors["int8"])


def test_cancelled_embed_job_has_no_output(handle: Any) -> None:
    co = _client(handle)
    dataset_id = _upload(co, _jsonl({"text": "x"}))
    _finish(handle, co, dataset_id)
    job_id = co.embed_jobs.create(model="embed-english-v3.0", dataset_id=dataset_id,
                                  input_type="clustering").job_id
    co.embed_jobs.cancel(job_id)
    assert co.embed_jobs.get(job_id).status == "cancelling"
    handle.clock.advance(10)
    job = co.embed_jobs.get(job_id)
    assert job.status == "cancelled" and job.output_dataset_id is None


def _chat_rows() -> bytes:
    return _jsonl(
        {"custom_id": "a", "body": {"messages": [{"role": "user", "content": "hello"}],
                                    "max_tokens": 20}},
        {"custom_id": "b", "body": {"messages": [{"role": "user", "content": "hi"}],
                                    "temperature": 5}},
        {"custom_id": "c", "body": {"messages": [{"role": "user", "content": "json please"}],
                                    "response_format": {"type": "json_object", "json_schema": {
                                        "type": "object", "required": ["n"],
                                        "properties": {"n": {"type": "integer"}}}}}},
        {"custom_id": "d", "body": {"messages": [{"role": "user", "content": "x"}]}},
    )


def test_batch_lifecycle_records_and_faults(handle: Any) -> None:
    co = _client(handle)
    handle.apps["cohere"].fault("d", "internal error")
    dataset_id = _upload(co, _chat_rows(), type="batch-chat-v2-input")
    _finish(handle, co, dataset_id)
    created = co.batches.with_raw_response.create(
        request=Batch(name="chat-1", input_dataset_id=dataset_id, model="command-r-08-2024"))
    batch = Batch.model_validate(created.response.json()["batch"])
    assert batch.status == "BATCH_STATUS_QUEUED" and batch.num_records == 4
    steps = []
    for _ in range(2):
        handle.clock.advance(60)
        steps.append(co.batches.retrieve(str(batch.id)).batch)
    assert [s.status for s in steps] == ["BATCH_STATUS_IN_PROGRESS", "BATCH_STATUS_COMPLETED"]
    done = steps[-1]
    assert (done.num_successful_records, done.num_failed_records) == (2, 2)
    assert done.output_dataset_id and int(done.input_tokens or 0) > 0
    records = {r["custom_id"]: r for r in dataset_generator(
        co.datasets.get(done.output_dataset_id).dataset)}
    assert records["b"]["body"] is None and "temperature" in records["b"]["error"]
    assert records["d"] == {"custom_id": "d", "body": None, "error": "internal error"}
    reply = cohere.V2ChatResponse.model_validate(records["c"]["body"])
    assert isinstance(json.loads(reply.message.content[0].text)["n"], int)
    assert records["a"]["error"] == "" and records["a"]["body"]["usage"]["billed_units"]


def test_batch_list_pages_and_cancel(handle: Any) -> None:
    co = _client(handle)
    dataset_id = _upload(co, _chat_rows(), type="batch-chat-v2-input")
    _finish(handle, co, dataset_id)
    ids = [co.batches.create(request=Batch(name=f"b{i}", input_dataset_id=dataset_id,
                                           model="command-r-08-2024")).batch.id
           for i in range(3)]
    first = co.batches.list(page_size=2)
    second = co.batches.list(page_size=2, page_token=first.next_page_token)
    listed = [b.id for b in (first.batches or []) + (second.batches or [])]
    assert sorted(listed) == sorted(ids) and second.next_page_token is None
    co.batches.cancel(str(ids[0]))
    assert co.batches.retrieve(str(ids[0])).batch.status == "BATCH_STATUS_CANCELING"
    handle.clock.advance(10)
    cancelled = co.batches.retrieve(str(ids[0])).batch
    assert cancelled.status == "BATCH_STATUS_CANCELED" and not cancelled.output_dataset_id


def test_parts_need_their_signature_not_the_api_key(handle: Any) -> None:
    co = _client(handle)
    dataset = _finish(handle, co, _upload(co, _jsonl({"text": "x"})))
    url = (dataset.dataset_parts or [])[0].url or ""
    assert requests.get(url, timeout=10).status_code == 200
    tampered = url[:-4] + "0000"
    assert requests.get(tampered, timeout=10).status_code == 403


def test_shipped_cohere_extract_equals_a_fresh_extraction() -> None:
    """``testing/specs/cohere.json`` is exactly what ``scripts/extract_specs.py`` makes of the
    vendor's YAML, inline request schemas (``/v2/chat`` body, dataset query) included."""
    repo = Path(__file__).resolve().parents[3]
    specs = repo / "tests" / "specs"
    loader = importlib.util.spec_from_file_location("extract_specs",
                                                    repo / "scripts" / "extract_specs.py")
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    shipped = (repo / "src" / "batchkit" / "testing" / "specs" / "cohere.json").read_text()
    assert module.dump(module.extract_vendor("cohere", specs)) == shipped
    document = json.loads(shipped)
    assert {"V2ChatRequest", "CreateDatasetQuery", "CreateEmbedJobRequest", "Batch"} <= set(
        document["$defs"])
