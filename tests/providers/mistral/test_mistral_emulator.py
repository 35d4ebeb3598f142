"""The Mistral emulator on its own: what it accepts, how it refuses, its clock, its bodies.

Raw HTTP (httpx) where the exact status and error body matter; the ``mistralai`` SDK's response
models, and the spec's ``BatchJob`` schema, check that every body it answers is well formed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mistralai.client.models import (
    BatchJob,
    ChatCompletionResponse,
    CreateFileResponse,
    EmbeddingResponse,
    ListBatchJobsResponse,
)

from batchkit.testing import _spec
from batchkit.testing._emulate import EmulatorHandle, emulate

CHAT = "/v1/chat/completions"


@pytest.fixture
def emu() -> Iterator[EmulatorHandle]:
    with emulate(providers=["mistral"], auto=False) as handle:
        yield handle


@pytest.fixture
def http(emu: EmulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url("mistral"),
                      headers={"Authorization": "Bearer test"}) as client:
        yield client


def _line(cid: str, **body: Any) -> dict[str, Any]:
    body.setdefault("messages", [{"role": "user", "content": f"question {cid}"}])
    return {"custom_id": cid, "body": body}


def _create(http: httpx.Client, **payload: Any) -> dict[str, Any]:
    payload.setdefault("endpoint", CHAT)
    payload.setdefault("model", "mistral-small-latest")
    response = http.post("/v1/batch/jobs", json=payload)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


def _job(http: httpx.Client, job_id: str, **params: Any) -> dict[str, Any]:
    job: dict[str, Any] = http.get(f"/v1/batch/jobs/{job_id}", params=params).json()
    assert _spec.validate("mistral", "BatchJob", job) == []
    BatchJob.model_validate(job)
    return job


def _rows(http: httpx.Client, file_id: str) -> list[dict[str, Any]]:
    content = http.get(f"/v1/files/{file_id}/content")
    assert content.status_code == 200
    return [json.loads(x) for x in content.text.splitlines()]


def _upload(http: httpx.Client, data: bytes, purpose: str = "batch") -> dict[str, Any]:
    response = http.post("/v1/files", files={"file": ("in.jsonl", data)},
                         data={"purpose": purpose})
    assert response.status_code == 200, response.text
    uploaded: dict[str, Any] = response.json()
    CreateFileResponse.model_validate(uploaded)
    return uploaded


def test_statuses_follow_the_clock_and_every_body_parses(emu: EmulatorHandle,
                                                         http: httpx.Client) -> None:
    created = _create(http, requests=[_line(f"q{i}") for i in range(4)],
                      metadata={"purpose": "test"})
    BatchJob.model_validate(created)
    assert created["status"] == "QUEUED" and created["total_requests"] == 4
    emu.clock.advance(10)
    running = _job(http, created["id"])
    assert running["status"] == "RUNNING" and running["started_at"] == created["created_at"] + 10
    emu.clock.advance(30)  # half of the 60 s running phase
    assert _job(http, created["id"])["completed_requests"] == 2
    emu.clock.advance(30)
    done = _job(http, created["id"])
    assert (done["status"], done["succeeded_requests"], done["error_file"]) == (
        "SUCCESS", 4, None)
    assert done["completed_at"] == created["created_at"] + 70
    rows = _rows(http, done["output_file"])
    assert sorted(r["custom_id"] for r in rows) == ["q0", "q1", "q2", "q3"]
    for row in rows:
        assert row["id"].startswith(f"batch-{done['id'][:8]}-") and row["error"] is None
        reply = ChatCompletionResponse.model_validate(row["response"]["body"])
        assert reply.model == "mistral-small-latest" and reply.usage.prompt_tokens > 0
    inline = _job(http, created["id"], inline="true")
    assert sorted(r["custom_id"] for r in inline["outputs"]) == ["q0", "q1", "q2", "q3"]
    assert _job(http, created["id"])["outputs"] is None


def test_embedding_replies_have_the_requested_dimension(emu: EmulatorHandle,
                                                        http: httpx.Client) -> None:
    lines = [{"custom_id": "e0", "body": {"input": "a"}},
             {"custom_id": "e1", "body": {"input": "b", "output_dimension": 256}},
             {"custom_id": "e2", "body": {"input": "c", "output_dimension": 4096}}]
    job = _create(http, requests=lines, endpoint="/v1/embeddings", model="codestral-embed")
    emu.clock.advance(100)
    done = _job(http, job["id"])
    sizes = {}
    for row in _rows(http, done["output_file"]):
        reply = EmbeddingResponse.model_validate(row["response"]["body"])
        sizes[row["custom_id"]] = len(reply.data[0].embedding or [])
    assert sizes == {"e0": 1536, "e1": 256}
    [error] = _rows(http, done["error_file"])
    assert error["custom_id"] == "e2" and error["response"]["status_code"] == 400
    assert "at most 3072" in error["response"]["body"]["message"]


def test_each_line_body_is_checked_against_the_endpoint_schema(emu: EmulatorHandle,
                                                               http: httpx.Client) -> None:
    lines = [_line("ok"), _line("hot", temperature=2.0), _line("extra", max_completion_tokens=5),
             _line("odd", messages=[{"role": "user", "content": 5}])]
    job = _create(http, requests=lines)
    emu.clock.advance(100)
    done = _job(http, job["id"])
    assert (done["succeeded_requests"], done["failed_requests"]) == (1, 3)
    errors = {r["custom_id"]: r["response"] for r in _rows(http, done["error_file"])}
    assert {cid: e["status_code"] for cid, e in errors.items()} == {
        "hot": 422, "extra": 422, "odd": 422}
    assert errors["odd"]["body"]["message"]["detail"][0]["loc"][:3] == ["body", "messages", 0]
    hot = errors["hot"]["body"]
    assert (hot["object"], hot["type"]) == ("error", "invalid_request_error")
    assert hot["message"]["detail"][0]["loc"] == ["body", "temperature"]
    assert "max_completion_tokens" in errors["extra"]["body"]["message"]["detail"][0]["msg"]


def test_a_line_needs_a_model_from_the_job_or_its_body(emu: EmulatorHandle,
                                                       http: httpx.Client) -> None:
    job = _create(http, requests=[_line("none"), _line("own", model="ministral-8b-latest")],
                  model=None)
    emu.clock.advance(100)
    done = _job(http, job["id"])
    [error] = _rows(http, done["error_file"])
    assert error["custom_id"] == "none"
    assert error["response"]["body"]["message"]["detail"][0]["msg"] == \
        "'model' is a required property"
    [row] = _rows(http, done["output_file"])
    assert row["response"]["body"]["model"] == "ministral-8b-latest"


def test_unreadable_input_fails_the_job(emu: EmulatorHandle, http: httpx.Client) -> None:
    data = b"\n".join([json.dumps(_line("a")).encode(), b"{not json", b'{"custom_id": "b"}',
                       json.dumps(_line("a")).encode(), b"[1, 2]"]) + b"\n"
    job = _create(http, input_files=[_upload(http, data)["id"]])
    emu.clock.advance(10)
    failed = _job(http, job["id"])
    assert failed["status"] == "FAILED" and failed["completed_requests"] == 0
    assert sorted((e["message"], e["count"]) for e in failed["errors"]) == [
        ("Duplicate custom_id 'a'", 2),
        ("Each line must be a JSON object with a 'body' object", 2),
        ("Invalid JSON line in the batch input file", 1),
    ]
    assert failed["output_file"] is None and failed["error_file"] is None


@pytest.mark.parametrize(("payload", "loc"), [
    ({"timeout_hours": 0}, ["body", "timeout_hours"]),
    ({"timeout_hours": 169}, ["body", "timeout_hours"]),
    ({"metadata": {"k" * 33: "v"}}, ["body", "metadata"]),
    ({"metadata": {"k": ""}}, ["body", "metadata"]),
    ({"endpoint": "/v1/chats"}, ["body", "endpoint"]),
    ({"requests": [_line(str(i)) for i in range(10_001)]}, ["body", "requests"]),
    ({"requests": [{"custom_id": "x"}]}, ["body", "requests"]),
])
def test_create_bodies_the_spec_refuses_get_422(http: httpx.Client, payload: dict[str, Any],
                                                loc: list[Any]) -> None:
    payload = {"endpoint": CHAT, "model": "m", "requests": [_line("a")], **payload}
    response = http.post("/v1/batch/jobs", json=payload)
    assert response.status_code == 422
    body = response.json()
    assert (body["object"], body["type"]) == ("error", "invalid_request_error")
    assert body["message"]["detail"][0]["loc"] == loc


def test_create_refusals(emu: EmulatorHandle, http: httpx.Client) -> None:
    both = http.post("/v1/batch/jobs", json={"endpoint": CHAT, "requests": [_line("a")],
                                             "input_files": [_upload(http, b"{}\n")["id"]]})
    neither = http.post("/v1/batch/jobs", json={"endpoint": CHAT})
    assert both.status_code == neither.status_code == 400
    tuned = _upload(http, b"{}\n", purpose="fine-tune")["id"]
    wrong_purpose = http.post("/v1/batch/jobs", json={"endpoint": CHAT, "input_files": [tuned]})
    assert wrong_purpose.status_code == 400 and "not 'batch'" in wrong_purpose.json()["message"]
    unknown = http.post("/v1/batch/jobs", json={
        "endpoint": CHAT, "input_files": ["0b7c3a2e-2f4e-4d47-9a57-1d8e0f2c9a10"]})
    assert unknown.status_code == 404
    assert http.post("/v1/files", files={"file": ("x.jsonl", b"{}")},
                     data={"purpose": "batches"}).status_code == 422
    assert emu.apps["mistral"].creates == 0


def test_auth_and_ids(emu: EmulatorHandle, http: httpx.Client) -> None:
    anonymous = httpx.get(f"{emu.base_url('mistral')}/v1/batch/jobs")
    assert (anonymous.status_code, anonymous.json()) == (401, {"detail": "Unauthorized"})
    bad_id = http.get("/v1/batch/jobs/123")
    assert bad_id.status_code == 422
    assert bad_id.json()["message"]["detail"][0]["loc"] == ["path", "job_id"]
    assert http.get("/v1/batch/jobs/0b7c3a2e-2f4e-4d47-9a57-1d8e0f2c9a10").status_code == 404


def test_list_filters_and_pages(emu: EmulatorHandle, http: httpx.Client) -> None:
    ids = [_create(http, requests=[_line("a")], metadata={"batchkit_key": f"k{i}", "team": t})[
        "id"] for i, t in enumerate(["x", "x", "y"])]
    emu.clock.advance(5)
    late = _create(http, requests=[_line("a")], metadata={"team": "x"})["id"]

    def listing(**params: Any) -> dict[str, Any]:
        body: dict[str, Any] = http.get("/v1/batch/jobs", params=params).json()
        ListBatchJobsResponse.model_validate(body)
        assert _spec.validate("mistral", "ListBatchJobsResponse", body) == []
        return body

    def found(**params: Any) -> list[str]:
        return [job["id"] for job in listing(**params)["data"]]

    assert found() == [late, *reversed(ids)]  # newest first by default
    assert found(order_by="created") == [*ids, late]
    assert found(batchkit_key="k1") == [ids[1]]  # exploded, as the SDK sends metadata
    assert found(metadata=json.dumps({"team": "x"})) == [late, ids[1], ids[0]]
    created_at = emu.apps["mistral"].jobs[late].created_at
    from datetime import datetime, timezone
    since = datetime.fromtimestamp(created_at, tz=timezone.utc).isoformat().replace(
        "+00:00", "Z")
    assert found(created_after=since) == [late]
    page = listing(page=1, page_size=3)
    assert page["total"] == 4 and [j["id"] for j in page["data"]] == [ids[0]]
    emu.clock.advance(100)
    _job(http, ids[0])  # only polled jobs jump; listing brings the others up to the clock
    assert found(status=["SUCCESS"]) == [late, *reversed(ids)]
    assert found(status=["QUEUED", "RUNNING"]) == []


def test_cancel_keeps_what_finished(emu: EmulatorHandle, http: httpx.Client) -> None:
    job = _create(http, requests=[_line(f"q{i}") for i in range(4)])
    emu.clock.advance(10 + 30)  # running, half done
    cancelled = http.post(f"/v1/batch/jobs/{job['id']}/cancel").json()
    assert cancelled["status"] == "CANCELLATION_REQUESTED"
    assert cancelled["completed_requests"] == 2
    emu.clock.advance(5)
    done = _job(http, job["id"])
    assert done["status"] == "CANCELLED"
    assert sorted(r["custom_id"] for r in _rows(http, done["output_file"])) == ["q0", "q1"]
    again = http.post(f"/v1/batch/jobs/{job['id']}/cancel")
    assert again.status_code == 400 and "CANCELLED" in again.json()["message"]


def test_structured_replies_satisfy_the_schema(emu: EmulatorHandle, http: httpx.Client) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3},
                                               "tags": {"type": "array",
                                                        "items": {"type": "string"}}},
              "required": ["n", "tags"], "additionalProperties": False}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": True}}
    job = _create(http, requests=[_line("s", response_format=fmt, max_tokens=200)])
    emu.clock.advance(100)
    [row] = _rows(http, _job(http, job["id"])["output_file"])
    value = json.loads(row["response"]["body"]["choices"][0]["message"]["content"])
    assert value["n"] >= 3 and isinstance(value["tags"], list)
