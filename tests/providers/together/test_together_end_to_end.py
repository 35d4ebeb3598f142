"""The Together adapter through the real ``together`` SDK against the Together emulator, and the
emulator's Together rules seen through the SDK."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import together

import batchkit as bk
from batchkit._exceptions import MissingCredentialsError, ProviderError
from batchkit._state import JobState
from batchkit.providers.base import ShardInput
from batchkit.providers.together.adapter import TogetherAdapter
from batchkit.providers.together.codec import upload_name
from batchkit.testing._emulate import EmulatorHandle, emulate
from batchkit.testing.emulators.together.routes import TogetherEmulator

MODEL = "openai/gpt-oss-20b"


@pytest.fixture(autouse=True)
def _no_together_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TOGETHER_API_KEY", "TOGETHER_BASE_URL", "TOGETHER_PROJECT_ID"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def emu() -> Iterator[EmulatorHandle]:
    with emulate(providers=["together"]) as handle:
        yield handle


@pytest.fixture
def manual() -> Iterator[EmulatorHandle]:
    with emulate(providers=["together"], auto=False) as handle:
        yield handle


def _app(handle: EmulatorHandle) -> TogetherEmulator:
    app: TogetherEmulator = handle.apps["together"]
    return app


def _chats(n: int, **kw: Any) -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"t{i}", max_tokens=40,
                           messages=[{"role": "user", "content": f"question {i}"}], **kw)
            for i in range(n)]


def _shard(adapter: TogetherAdapter, folder: Path, key: str, n: int = 3) -> ShardInput:
    payload = folder / f"{key}.payload.jsonl"
    payload.write_bytes(b"".join(adapter.encode(r, adapter.vendor_id(r.custom_id)) + b"\n"
                                 for r in _chats(n)))
    return ShardInput(job_id=key.rpartition("-")[0], index=0, key=key, group="chat",
                      payload_path=payload, request_count=n, journaled_at=time.time())


def _client(handle: EmulatorHandle) -> together.Together:
    return together.Together(base_url=handle.base_url("together"), api_key="sandbox",
                             max_retries=0)


def test_a_job_uploads_batch_api_files_named_after_the_shard_key(emu: EmulatorHandle) -> None:
    job = bk.submit(_chats(5), f"together:{MODEL}", shard_size=3)
    results = job.wait().results()
    assert [r.custom_id for r in results] == [f"t{i}" for i in range(5)]
    assert results.counts() == {"succeeded": 5}
    app = _app(emu)
    assert app.purposes == {"batch-api": 2}
    for shard in job.shards:
        assert shard.vendor_status == "COMPLETED"
        assert app.batches_created_from(upload_name(shard.key)) == 1


def test_progress_rises_while_counts_stay_unknown(manual: EmulatorHandle, tmp_path: Path) -> None:
    adapter = TogetherAdapter(MODEL)
    remote = adapter.submit(_shard(adapter, tmp_path, "job-p-0000", n=4))
    first = adapter.poll(remote)
    assert (first.state, first.raw["progress"]) == (JobState.VALIDATING, 0.0)
    manual.clock.advance(10 + 30)  # validation, then half of the run
    middle = adapter.poll(remote)
    assert middle.state == JobState.RUNNING and middle.raw["progress"] == 50.0
    assert (middle.total, middle.succeeded, middle.failed) == (None, None, None)
    manual.clock.advance(60)
    done = adapter.poll(remote)
    assert (done.state, done.raw["progress"]) == (JobState.COMPLETED, 100.0)
    assert done.raw["created_at"].endswith("Z") and done.raw["model_id"] == MODEL
    adapter.close()


def test_failed_requests_are_batch_client_error_rows_in_a_completed_batch(
        emu: EmulatorHandle) -> None:
    _app(emu).fault("t1", "http_error", status_code=400)
    requests = _chats(4)
    requests[2] = requests[2].model_copy(update={"params": {"temperature": 9}})
    job = bk.submit(requests, f"together:{MODEL}")
    results = job.wait().results()
    assert job.shards[0].vendor_status == "COMPLETED"
    assert len(results) == 4
    assert [r.status for r in results] == ["succeeded", "errored", "errored", "succeeded"]
    assert {r.error.code for r in results if r.error} == {"batch_client_error"}
    assert "temperature" in (results[2].error.message if results[2].error else "")


def test_a_failed_job_reports_its_error_string(emu: EmulatorHandle) -> None:
    _app(emu).fail_next_validation("invalid_request", "Invalid model ID: no such model")
    job = bk.submit(_chats(2), f"together:{MODEL}")
    with pytest.raises(bk.BatchFailedError, match="Invalid model ID"):
        job.wait()
    results = job.results()
    assert [r.error.code for r in results if r.error] == ["batch_failed", "batch_failed"]


def test_cancel_sees_canceling_then_cancelled(manual: EmulatorHandle, tmp_path: Path) -> None:
    adapter = TogetherAdapter(MODEL)
    remote = adapter.submit(_shard(adapter, tmp_path, "job-c-0000", n=4))
    manual.clock.advance(10 + 30)
    adapter.poll(remote)  # two of four requests have run
    adapter.cancel(remote)
    cancelling = adapter.poll(remote)
    assert (cancelling.vendor_status, cancelling.state) == ("CANCELING", JobState.CANCELLING)
    manual.clock.advance(10)
    cancelled = adapter.poll(remote)
    assert cancelled.state == JobState.CANCELLED
    paths = adapter.fetch_results(remote, cancelled, tmp_path / "out")
    rows = [json.loads(line) for p in paths for line in p.read_text().splitlines()]
    assert sorted(row["custom_id"] for row in rows) == ["t0", "t1"]  # never-run ones: no row
    with pytest.raises(ProviderError, match=r"HTTP 409.*terminal state: CANCELLED"):
        adapter.cancel(remote)
    adapter.close()


def test_find_by_key_reads_the_input_files_name(emu: EmulatorHandle, tmp_path: Path) -> None:
    adapter = TogetherAdapter(MODEL)
    first = _shard(adapter, tmp_path, "job-k-0000")
    second = _shard(adapter, tmp_path, "job-k-0001", n=2)
    ids = {adapter.submit(first), adapter.submit(second)}
    assert adapter.find_by_key(first) in ids and adapter.find_by_key(second) in ids
    assert adapter.find_by_key(first) != adapter.find_by_key(second)
    assert adapter.find_by_key(_shard(adapter, tmp_path, "job-k-0009")) is None
    taken = ShardInput(**{**vars(first), "taken": frozenset(ids)})
    assert adapter.find_by_key(taken) is None
    adapter.close()


def test_an_unknown_job_is_a_provider_error(emu: EmulatorHandle) -> None:
    adapter = TogetherAdapter(MODEL)
    with pytest.raises(ProviderError, match=r"HTTP 404.*Job not found"):
        adapter.poll("00000000-0000-4000-8000-000000000000")
    _app(emu).api_keys = {"other"}
    with pytest.raises(MissingCredentialsError, match="TOGETHER_API_KEY"):
        TogetherAdapter(MODEL).poll("x")
    adapter.close()


# -- the emulator's Together rules, through the SDK --------------------------------------------


def _upload(client: together.Together, folder: Path, lines: list[Any]) -> str:
    path = folder / "input.jsonl"
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return client.files.upload(path, purpose="batch-api", check=False).id


def _finish(client: together.Together, job_id: str) -> Any:
    for _ in range(10):
        job = client.batches.retrieve(job_id)
        if job.status in ("COMPLETED", "FAILED", "EXPIRED", "CANCELLED"):
            return job
    raise AssertionError("the job never finished")


def _line(cid: str) -> dict[str, Any]:
    return {"custom_id": cid,
            "body": {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}}


def test_openai_envelopes_and_long_ids_fail_the_job(emu: EmulatorHandle, tmp_path: Path) -> None:
    client = _client(emu)
    openai_shaped = {**_line("a"), "method": "POST", "url": "/v1/chat/completions"}
    for lines, expected in (([openai_shaped], "unknown field `method`"),
                            ([_line("x" * 65)], "longer than 64"),
                            (["{not json"], "Line 1")):
        created = client.batches.create(endpoint="/v1/chat/completions",
                                        input_file_id=_upload(client, tmp_path, lines))
        assert created.job is not None and created.job.status == "VALIDATING"
        job = _finish(client, created.job.id or "")
        assert job.status == "FAILED" and expected in (job.error or "")
        assert job.output_file_id is None and job.error_file_id is None


def test_create_takes_no_metadata_and_a_missing_file_fails_later(emu: EmulatorHandle) -> None:
    client = _client(emu)
    with pytest.raises(together.BadRequestError, match="metadata"):
        client.batches.create(endpoint="/v1/chat/completions", input_file_id="file-x",
                              extra_body={"metadata": {"k": "v"}})
    created = client.batches.create(endpoint="/v1/chat/completions", input_file_id="file-gone")
    assert created.job is not None
    job = _finish(client, created.job.id or "")
    assert job.status == "FAILED" and "Failed to download input file" in (job.error or "")


def test_the_same_bytes_uploaded_twice_are_one_file(emu: EmulatorHandle, tmp_path: Path) -> None:
    client = _client(emu)
    first = _upload(client, tmp_path, [_line("a")])
    assert _upload(client, tmp_path, [_line("a")]) == first
    assert _app(emu).uploads == 1
