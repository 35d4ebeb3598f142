"""The Vertex AI JobService emulator through the official ``aiplatform_v1`` REST client:
request validation with the SDK's types, the state timeline, output rows, list filters, cancel."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from google.api_core import exceptions
from google.cloud import aiplatform_v1
from google.protobuf import json_format

from batchkit.testing._emulate import EmulatorHandle
from batchkit.testing.emulators.gcs.state import SANDBOX_BUCKET
from batchkit.testing.emulators.vertex.routes import project_number

PARENT = "projects/batchkit-sandbox/locations/us-central1"
State = aiplatform_v1.JobState


def _chat_line(i: int, **extra: Any) -> dict[str, Any]:
    return {"request": {"contents": [{"role": "user", "parts": [{"text": f"q {i}"}]}],
                        "labels": {"batchkit_id": f"r{i}"}, **extra}}


def _upload(gcs: Any, name: str, lines: list[Any]) -> str:
    data = "".join(json.dumps(x) + "\n" for x in lines)
    gcs.bucket(SANDBOX_BUCKET).blob(name).upload_from_string(data)
    return f"gs://{SANDBOX_BUCKET}/{name}"


def _job(uri: str, model: str = "gemini-2.5-flash", **extra: Any) -> dict[str, Any]:
    return {"display_name": "t", "model": f"publishers/google/models/{model}",
            "input_config": {"instances_format": "jsonl", "gcs_source": {"uris": [uri]}},
            "output_config": {"predictions_format": "jsonl", "gcs_destination": {
                "output_uri_prefix": f"gs://{SANDBOX_BUCKET}/out"}}, **extra}


def _rows(gcs: Any, job: aiplatform_v1.BatchPredictionJob) -> list[dict[str, Any]]:
    bucket, _, prefix = job.output_info.gcs_output_directory.removeprefix("gs://").partition("/")
    blobs = list(gcs.list_blobs(bucket, prefix=prefix + "/"))
    assert [b.name.rsplit("/", 1)[-1] for b in blobs] == ["predictions.jsonl"]
    return [json.loads(x) for x in blobs[0].download_as_bytes().splitlines()]


def test_the_rest_transport_takes_the_path_prefix_and_names_carry_the_project_number(
        handle: EmulatorHandle, jobs: aiplatform_v1.JobServiceClient, gcs: Any) -> None:
    assert jobs._transport._host == handle.base_url("vertex")
    uri = _upload(gcs, "in/a.jsonl", [_chat_line(0)])
    job = jobs.create_batch_prediction_job(parent=PARENT, batch_prediction_job=_job(uri))
    assert job.name.startswith(f"projects/{project_number('batchkit-sandbox')}/locations/"
                               "us-central1/batchPredictionJobs/")
    assert job.state == State.JOB_STATE_QUEUED and job.create_time is not None
    # On the wire the state is a number, as the transport's enum-encoding=int asks.
    url = f"{handle.base_url('vertex')}/v1/{job.name}?%24alt=json%3Benum-encoding%3Dint"
    with urllib.request.urlopen(url) as response:
        assert json.loads(response.read())["state"] == State.JOB_STATE_PENDING.value


def test_timeline_and_output_rows_parse_with_the_sdk_types(
        manual: EmulatorHandle, manual_jobs: aiplatform_v1.JobServiceClient,
        manual_gcs: Any) -> None:
    lines = [_chat_line(i) for i in range(4)]
    lines.append(_chat_line(4, bogus=1))  # unknown field: a failed row, not a failed job
    lines.append({"request": {"contents": [{"role": "bot", "parts": [{"text": "x"}]}],
                              "labels": {"batchkit_id": "r5"}}})
    uri = _upload(manual_gcs, "in/b.jsonl", lines)
    job = manual_jobs.create_batch_prediction_job(parent=PARENT, batch_prediction_job=_job(uri))
    seen = []
    for step in (10, 10, 30, 30):  # queued 10 s, pending 10 s, running 60 s
        seen.append(manual_jobs.get_batch_prediction_job(name=job.name).state)
        manual.clock.advance(step)
    assert seen == [State.JOB_STATE_QUEUED, State.JOB_STATE_PENDING, State.JOB_STATE_RUNNING,
                    State.JOB_STATE_RUNNING]
    done = manual_jobs.get_batch_prediction_job(name=job.name)
    assert done.state == State.JOB_STATE_SUCCEEDED
    stats = done.completion_stats
    assert (stats.successful_count, stats.failed_count, stats.incomplete_count) == (4, 2, 0)
    rows = {r["request"]["labels"]["batchkit_id"]: r for r in _rows(manual_gcs, done)}
    assert sorted(rows) == [f"r{i}" for i in range(6)]
    for i in range(4):
        assert rows[f"r{i}"]["status"] == ""
        json_format.ParseDict(rows[f"r{i}"]["response"],
                              aiplatform_v1.GenerateContentResponse.pb()())
    assert rows["r4"]["status"].startswith("Bad Request: ") and "bogus" in rows["r4"]["status"]
    assert "valid role: user, model" in rows["r5"]["status"] and rows["r5"]["response"] == {}


def test_a_body_that_is_not_a_batch_prediction_job_is_refused(handle: EmulatorHandle) -> None:
    """The SDK cannot send unknown fields, so this one goes raw: the app parses the body with
    the SDK's ``BatchPredictionJob`` proto and answers as Google's JSON front end does."""
    request = urllib.request.Request(
        f"{handle.base_url('vertex')}/v1/{PARENT}/batchPredictionJobs",
        data=json.dumps({"displayName": "t", "bogusField": 1}).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as raw:
        urllib.request.urlopen(request)
    body = json.loads(raw.value.read())
    assert raw.value.code == 400 and body["error"]["status"] == "INVALID_ARGUMENT"
    assert "Invalid JSON payload" in body["error"]["message"] and "bogusField" in \
        body["error"]["message"]


@pytest.mark.parametrize(("change", "message"), [
    ({"display_name": ""}, "batch_prediction_job.display_name; Message: Required field"),
    ({"labels": {"Key": "v"}}, "Invalid label"),
    ({"labels": {"k": "Upper"}}, "Invalid label"),
    ({"model": "publishers/google/models/gemini-embedding-001"}, "does not support batch"),
    ({"model": "publishers/google/models/nope-1"}, "not found"),
    ({"model": "publishers/google/models/text-embedding-005",
      "model_parameters": {"outputDimensionality": 0}}, "outputDimensionality"),
])
def test_bad_creates_are_refused_like_vertex(
        handle: EmulatorHandle, jobs: aiplatform_v1.JobServiceClient, change: dict[str, Any],
        message: str) -> None:
    body = {**_job(f"gs://{SANDBOX_BUCKET}/in/x.jsonl"), **change}
    with pytest.raises(exceptions.GoogleAPICallError, match=message) as info:
        jobs.create_batch_prediction_job(parent=PARENT, batch_prediction_job=body)
    assert info.value.code in (400, 404)
    assert handle.apps["vertex"].creates == 0


def test_a_missing_input_or_too_many_rows_fail_the_job(
        handle: EmulatorHandle, jobs: aiplatform_v1.JobServiceClient, gcs: Any) -> None:
    missing = jobs.create_batch_prediction_job(
        parent=PARENT, batch_prediction_job=_job(f"gs://{SANDBOX_BUCKET}/in/none.jsonl"))
    handle.apps["vertex"].limits.max_requests = 2
    uri = _upload(gcs, "in/c.jsonl", [_chat_line(i) for i in range(3)])
    big = jobs.create_batch_prediction_job(parent=PARENT, batch_prediction_job=_job(uri))
    for created, message in ((missing, "Failed to read the input file"), (big, "limit is 2")):
        job = created
        while job.state not in (State.JOB_STATE_FAILED, State.JOB_STATE_SUCCEEDED):
            job = jobs.get_batch_prediction_job(name=created.name)
        assert job.state == State.JOB_STATE_FAILED and message in job.error.message
        assert not job.output_info.gcs_output_directory


def test_list_filters_on_labels_display_name_and_state(
        handle: EmulatorHandle, jobs: aiplatform_v1.JobServiceClient, gcs: Any) -> None:
    uri = _upload(gcs, "in/d.jsonl", [_chat_line(0)])
    for i in range(5):
        jobs.create_batch_prediction_job(parent=PARENT, batch_prediction_job=_job(
            uri, labels={"batchkit_key": f"k{i % 2}"}, display_name=f"job-{i}"))
    handle.clock.auto = False  # a listing is a poll in auto mode: hold still to test filters

    def names(flt: str, **kw: Any) -> list[str]:
        pager = jobs.list_batch_prediction_jobs(request={"parent": PARENT, "filter": flt, **kw})
        return [j.display_name for j in pager]

    assert names('labels.batchkit_key="k1"') == ["job-3", "job-1"]
    assert names("labels.batchkit_key=k0", page_size=1) == ["job-4", "job-2", "job-0"]
    assert len(names("labels.batchkit_key:*")) == 5
    assert names('display_name="job-2" AND labels.batchkit_key="k0"') == ["job-2"]
    assert names('state="JOB_STATE_QUEUED"') == [f"job-{i}" for i in (4, 3, 2, 1, 0)]
    assert names('labels.other="x"') == []
    with pytest.raises(exceptions.BadRequest, match="Unsupported filter"):
        names("create_time>5")


def test_cancel_mid_run_exports_the_finished_rows_then_refuses_a_second_cancel(
        manual: EmulatorHandle, manual_jobs: aiplatform_v1.JobServiceClient,
        manual_gcs: Any) -> None:
    uri = _upload(manual_gcs, "in/e.jsonl", [_chat_line(i) for i in range(10)])
    job = manual_jobs.create_batch_prediction_job(parent=PARENT, batch_prediction_job=_job(uri))
    manual.clock.advance(20 + 30)  # queued 10 s, pending 10 s, then half of the 60 s run
    manual_jobs.cancel_batch_prediction_job(name=job.name)
    assert manual_jobs.get_batch_prediction_job(name=job.name).state == \
        State.JOB_STATE_CANCELLING
    manual.clock.advance(10)
    done = manual_jobs.get_batch_prediction_job(name=job.name)
    assert done.state == State.JOB_STATE_CANCELLED
    assert len(_rows(manual_gcs, done)) == 5 == done.completion_stats.successful_count
    assert done.completion_stats.incomplete_count == 5
    with pytest.raises(exceptions.BadRequest, match="cannot be cancelled") as info:
        manual_jobs.cancel_batch_prediction_job(name=job.name)
    assert info.value.response.json()["error"]["status"] == "FAILED_PRECONDITION"


def test_embedding_rows_echo_the_key_field_or_the_instance(
        handle: EmulatorHandle, jobs: aiplatform_v1.JobServiceClient, gcs: Any) -> None:
    uri = _upload(gcs, "in/f.jsonl", [{"content": "a", "batchkit_id": "e1"},
                                      {"content": "b", "task_type": "BAD", "batchkit_id": "e2"}])
    keyed = jobs.create_batch_prediction_job(parent=PARENT, batch_prediction_job=_job(
        uri, model="text-embedding-005", instance_config={"key_field": "batchkit_id"},
        model_parameters={"outputDimensionality": 8}))
    plain_uri = _upload(gcs, "in/g.jsonl", [{"content": "c"}])
    plain = jobs.create_batch_prediction_job(parent=PARENT, batch_prediction_job=_job(
        plain_uri, model="text-embedding-005"))
    results = {}
    for created in (keyed, plain):
        job = created
        while job.state != State.JOB_STATE_SUCCEEDED:
            job = jobs.get_batch_prediction_job(name=created.name)
        results[created.name] = _rows(gcs, job)
    by_key = {r["key"]: r for r in results[keyed.name]}
    assert len(by_key["e1"]["predictions"][0]["embeddings"]["values"]) == 8
    assert "task_type" in by_key["e2"]["status"] and "predictions" not in by_key["e2"]
    [row] = results[plain.name]
    assert row["instance"] == {"content": "c"} and row["status"] == ""
    assert len(row["predictions"][0]["embeddings"]["values"]) == 768


def test_unknown_job_is_not_found(jobs: aiplatform_v1.JobServiceClient) -> None:
    with pytest.raises(exceptions.NotFound):
        jobs.get_batch_prediction_job(name=f"{PARENT}/batchPredictionJobs/123")
