"""The Vertex AI adapter's I/O half against the emulators: settings from options and the
environment, streamed transfers, re-attach by label, cancel, and errors mapped at the boundary."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import google.auth
import pytest
from google.auth.credentials import AnonymousCredentials
from google.auth.exceptions import DefaultCredentialsError
from google.cloud.storage import blob as storage_blob

import batchkit as bk
from batchkit.providers.base import RemoteStatus, ShardInput
from batchkit.providers.vertex import adapter as vertex_module
from batchkit.providers.vertex.adapter import VertexAdapter
from batchkit.providers.vertex.codec import KEY_LABEL
from batchkit.testing._emulate import EmulatorHandle
from batchkit.testing._server import json_response
from batchkit.testing.emulators.vertex.routes import project_number

KIB = 1024


def _shard(adapter: VertexAdapter, folder: Path, n: int = 3, key: str = "bk_job-0000",
           text: str = "hello") -> ShardInput:
    path = folder / f"{key}.jsonl"
    requests = [bk.ChatRequest(custom_id=f"r{i}", messages=[
        {"role": "user", "content": f"{text} {i}"}]) for i in range(n)]
    with path.open("wb") as fh:
        for r in requests:
            adapter.check(r)
            fh.write(adapter.encode(r, adapter.vendor_id(r.custom_id)) + b"\n")
    return ShardInput(job_id="bk_job", index=0, key=key, group="chat", payload_path=path,
                      request_count=n)


def _finish(adapter: VertexAdapter, name: str) -> RemoteStatus:
    for _ in range(20):
        status = adapter.poll(name)
        if status.state.is_terminal:
            return status
    raise AssertionError("the job never finished")


def test_options_choose_project_location_and_bucket_prefix(
        handle: EmulatorHandle, tmp_path: Path) -> None:
    handle.apps["gcs"].store.buckets.add("my-bucket")
    adapter = VertexAdapter("gemini-2.5-flash", {
        "project": "proj-a", "location": "europe-west4", "bucket": "gs://my-bucket/runs/x"})
    name = adapter.submit(_shard(adapter, tmp_path))
    assert name.startswith(f"projects/{project_number('proj-a')}/locations/europe-west4/")
    stored = [n for (b, n) in handle.apps["gcs"].store.objects if b == "my-bucket"]
    assert stored == ["runs/x/bk_job/shard-0000/input.jsonl"]
    [job] = handle.apps["vertex"].jobs.values()
    assert job.body["labels"] == {KEY_LABEL: "bk_job-0000", "batchkit_job": "bk_job"}
    assert job.body["displayName"] == "batchkit-bk_job-0000"
    assert job.body["model"] == "publishers/google/models/gemini-2.5-flash"
    assert job.body["outputConfig"]["gcsDestination"]["outputUriPrefix"] == \
        "gs://my-bucket/runs/x/bk_job/shard-0000/output"


def test_the_environment_fills_in_what_options_leave_out(
        handle: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    handle.apps["gcs"].store.buckets.add("env-bucket")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-proj")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "asia-northeast1")
    monkeypatch.setenv("BATCHKIT_GCS_BUCKET", "env-bucket")
    adapter = VertexAdapter("gemini-2.5-flash")
    name = adapter.submit(_shard(adapter, tmp_path))
    assert name.startswith(f"projects/{project_number('env-proj')}/locations/asia-northeast1/")
    assert [b for (b, _) in handle.apps["gcs"].store.objects] == ["env-bucket"]


def test_payload_and_results_are_streamed_in_chunks(
        handle: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage_blob, "_MAX_MULTIPART_SIZE", 256 * KIB)
    monkeypatch.setattr(vertex_module, "_CHUNK", 256 * KIB)
    monkeypatch.setattr(vertex_module, "_DOWNLOAD_CHUNK", 256 * KIB)
    gcs = handle.apps["gcs"]
    adapter = VertexAdapter("gemini-2.5-flash")
    shard = _shard(adapter, tmp_path, n=400, text="lorem ipsum " * 150)
    size = shard.payload_path.stat().st_size
    assert size > 2 * 256 * KIB
    name = adapter.submit(shard)
    assert gcs.upload_requests == 1 + math.ceil(size / (256 * KIB))
    status = _finish(adapter, name)
    assert status.state == bk.JobState.COMPLETED and status.succeeded == 400
    paths = adapter.fetch_results(name, status, tmp_path / "out")
    assert [p.name for p in paths] == ["000-predictions.jsonl"]
    out_size = paths[0].stat().st_size
    assert gcs.downloads == math.ceil(out_size / (256 * KIB)) > 1
    results = [adapter.decode(line) for line in paths[0].open("rb")]
    assert sorted(r.custom_id for r in results) == sorted(f"r{i}" for i in range(400))
    assert not list((tmp_path / "out").glob("*.part"))


def test_find_by_key_uses_the_label_filter(handle: EmulatorHandle, tmp_path: Path) -> None:
    adapter = VertexAdapter("gemini-2.5-flash")
    shard = _shard(adapter, tmp_path)
    name = adapter.submit(shard)
    assert adapter.find_by_key(shard) == name
    other = ShardInput(job_id="bk_job", index=1, key="bk_job-0001", group="chat",
                       payload_path=shard.payload_path, request_count=3)
    assert adapter.find_by_key(other) is None
    taken = ShardInput(**{**vars(shard), "taken": frozenset({name})})
    assert adapter.find_by_key(taken) is None


def test_cancel_after_the_job_ended_is_not_an_error(
        handle: EmulatorHandle, tmp_path: Path) -> None:
    adapter = VertexAdapter("gemini-2.5-flash")
    name = adapter.submit(_shard(adapter, tmp_path))
    assert _finish(adapter, name).vendor_status == "JOB_STATE_SUCCEEDED"
    adapter.cancel(name)  # FAILED_PRECONDITION from Vertex; the poll already says how it ended
    with pytest.raises(bk.ProviderError, match="HTTP 404 \\[NOT_FOUND\\]"):
        adapter.cancel(name.rsplit("/", 1)[0] + "/42")


def test_a_job_that_never_ran_has_no_result_files(handle: EmulatorHandle, tmp_path: Path) -> None:
    handle.apps["vertex"].fault_next_job("expired")
    adapter = VertexAdapter("gemini-2.5-flash")
    name = adapter.submit(_shard(adapter, tmp_path))
    status = _finish(adapter, name)
    assert status.state == bk.JobState.EXPIRED
    assert adapter.fetch_results(name, status, tmp_path / "out") == []


def test_vendor_errors_become_provider_errors_without_the_sdk_traceback(
        handle: EmulatorHandle, tmp_path: Path) -> None:
    adapter = VertexAdapter("gemini-2.5-flash")
    with pytest.raises(bk.ProviderError) as info:
        adapter.poll("projects/1/locations/us-central1/batchPredictionJobs/7")
    assert info.value.status_code == 404 and not info.value.transient
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert "could not read the batch prediction job: HTTP 404 [NOT_FOUND]" in str(info.value)


def test_a_failed_create_is_not_retried_by_the_sdk(
        handle: EmulatorHandle, tmp_path: Path) -> None:
    app = handle.apps["vertex"]
    app.endpoint_faults.add(503, method="POST", path_prefix="/v1/", times=1)
    adapter = VertexAdapter("gemini-2.5-flash")
    shard = _shard(adapter, tmp_path)
    with pytest.raises(bk.ProviderError) as info:
        adapter.submit(shard)
    assert info.value.status_code == 503 and info.value.transient
    assert app.creates == 0  # one attempt, and it failed
    assert adapter.find_by_key(shard) is None
    adapter.submit(shard)
    assert app.creates == 1


def test_token_shaped_text_is_masked_in_errors(
        handle: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = handle.apps["vertex"]
    monkeypatch.setattr(app, "fault_response", lambda status, retry_after: json_response(
        {"error": {"code": 403, "message": "token ya29.a0AfH6SMBsecret-value rejected",
                   "status": "PERMISSION_DENIED"}}, 403))
    app.endpoint_faults.add(403, path_prefix="/v1/")
    with pytest.raises(bk.ProviderError) as info:
        VertexAdapter("gemini-2.5-flash").poll(
            "projects/1/locations/us-central1/batchPredictionJobs/7")
    assert "secret-value" not in str(info.value) and "ya29.***" in str(info.value)


def test_an_unreachable_endpoint_is_a_transient_provider_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCHKIT_SANDBOX", "http://127.0.0.1:9")
    with pytest.raises(bk.ProviderError) as info:
        VertexAdapter("gemini-2.5-flash", {"timeout": 1}).poll(
            "projects/1/locations/us-central1/batchPredictionJobs/7")
    assert info.value.transient and "ConnectionError" in str(info.value)
    assert "retried until the deadline" in str(info.value)


def test_reads_ride_out_server_errors(
        handle: EmulatorHandle, tmp_path: Path) -> None:
    app = handle.apps["vertex"]
    adapter = VertexAdapter("gemini-2.5-flash")
    name = adapter.submit(_shard(adapter, tmp_path))
    app.endpoint_faults.add(503, method="GET", path_prefix="/v1/", times=2)
    assert adapter.poll(name).vendor_status == "JOB_STATE_PENDING"  # one step per poll
    assert app.endpoint_faults.hits == 2


# -- outside sandbox mode: settings only (nothing is sent) -------------------------------------


def _fake_adc(monkeypatch: pytest.MonkeyPatch, project: str | None = "adc-proj") -> None:
    monkeypatch.setattr(google.auth, "default",
                        lambda scopes=None: (AnonymousCredentials(), project))


def test_without_credentials_the_error_says_how_to_get_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def no_adc(scopes: Any = None) -> Any:
        raise DefaultCredentialsError("File not found")

    monkeypatch.setattr(google.auth, "default", no_adc)
    with pytest.raises(bk.MissingCredentialsError, match="application-default login"):
        VertexAdapter("gemini-2.5-flash").poll("projects/p/locations/l/batchPredictionJobs/1")


def test_without_a_bucket_or_project_the_error_names_the_setting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_adc(monkeypatch)
    with pytest.raises(bk.ConfigError, match="BATCHKIT_GCS_BUCKET"):
        VertexAdapter("gemini-2.5-flash").poll("projects/p/locations/l/batchPredictionJobs/1")
    _fake_adc(monkeypatch, project=None)
    with pytest.raises(bk.ConfigError, match="GOOGLE_CLOUD_PROJECT"):
        VertexAdapter("gemini-2.5-flash", {"bucket": "b"}).poll("x")


@pytest.mark.parametrize(("location", "host"), [
    ("europe-west4", "https://europe-west4-aiplatform.googleapis.com"),
    ("global", "https://aiplatform.googleapis.com"),
])
def test_the_real_endpoint_is_regional(monkeypatch: pytest.MonkeyPatch, location: str,
                                       host: str) -> None:
    _fake_adc(monkeypatch)
    adapter = VertexAdapter("gemini-2.5-flash", {"bucket": "b", "location": location})
    jobs, storage = adapter._clients()
    assert jobs._transport._host == host
    assert adapter._resolve().parent == f"projects/adc-proj/locations/{location}"
    assert storage.project == "adc-proj"
    adapter.close()
