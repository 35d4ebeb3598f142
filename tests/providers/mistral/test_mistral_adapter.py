"""The Mistral adapter's I/O half, through the real ``mistralai`` SDK against the emulator."""

from __future__ import annotations

import pathlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit._exceptions import (
    ConfigError,
    MissingCredentialsError,
    MissingDependencyError,
    ProviderError,
)
from batchkit._requests import Request
from batchkit._results import Result
from batchkit._state import JobState
from batchkit.providers.base import RemoteStatus, ShardInput
from batchkit.providers.mistral import adapter as mistral_module
from batchkit.providers.mistral.adapter import MistralAdapter
from batchkit.testing._emulate import EmulatorHandle, emulate
from batchkit.testing.emulators.mistral import routes as mistral_routes

UNKNOWN_JOB = "0b7c3a2e-2f4e-4d47-9a57-1d8e0f2c9a10"


class Verdict(BaseModel):
    spam: bool
    reason: str


def _chats(n: int, **kw: Any) -> list[Request]:
    return [bk.ChatRequest(custom_id=f"mail-{i}", messages=[{"role": "user", "content": f"m{i}"}],
                           **kw) for i in range(n)]


def _shard(adapter: MistralAdapter, requests: list[Request], folder: Path, key: str = "key-1",
           extra_lines: tuple[bytes, ...] = ()) -> ShardInput:
    path = folder / f"{key}.jsonl"
    with path.open("wb") as fh:
        for r in requests:
            adapter.check(r)
            fh.write(adapter.encode(r, r.custom_id) + b"\n")
        for line in extra_lines:
            fh.write(line + b"\n")
    return ShardInput(job_id="job-1", index=0, key=key, group=adapter.group(requests[0]),
                      payload_path=path, request_count=len(requests) + len(extra_lines),
                      journaled_at=time.time())


def _wait(adapter: MistralAdapter, remote_id: str) -> RemoteStatus:
    for _ in range(20):
        status = adapter.poll(remote_id)
        if status.state.is_terminal:
            return status
    raise AssertionError("the job never finished")


def _results(adapter: MistralAdapter, paths: list[Path]) -> dict[str, Result]:
    decoded = {}
    for path in paths:
        for line in path.read_bytes().splitlines():
            result = adapter.decode(line)
            decoded[result.custom_id] = result
    return decoded


@pytest.fixture
def emu() -> Iterator[EmulatorHandle]:
    with emulate(providers=["mistral"]) as handle:
        yield handle


# -- configuration ---------------------------------------------------------------------------


def test_limits_and_groups() -> None:
    adapter = MistralAdapter("mistral-small-latest")
    chat, embed = adapter.limits("chat"), adapter.limits("embed")
    assert (chat.max_requests, chat.max_bytes, chat.max_embedding_inputs) == (
        100_000, 512_000_000, None)
    assert embed.max_embedding_inputs == 100_000
    assert adapter.group(bk.EmbedRequest(custom_id="e", text="t")) == "embed"
    inline = MistralAdapter("mistral-small-latest", {"upload": "inline"}).limits("embed")
    assert (inline.max_requests, inline.max_bytes, inline.max_embedding_inputs) == (
        10_000, 10_000_000, 10_000)


@pytest.mark.parametrize("options", [{"upload": "s3"}, {"timeout_hours": 0},
                                     {"timeout_hours": 169}, {"timeout_hours": "24"}])
def test_bad_options(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="mistral option"):
        MistralAdapter("mistral-small-latest", options)


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(MissingCredentialsError, match="MISTRAL_API_KEY"):
        MistralAdapter("mistral-small-latest").poll(UNKNOWN_JOB)


def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "mistralai.client", None)  # `import` now fails
    adapter = MistralAdapter("mistral-small-latest")
    assert adapter.encode(_chats(1)[0], "x")  # the pure half needs no SDK
    with pytest.raises(MissingDependencyError, match=r'pip install "batchkit\[mistral\]"'):
        adapter.poll(UNKNOWN_JOB)
    with pytest.raises(MissingDependencyError):
        adapter.submit(_shard(adapter, _chats(1), tmp_path))


# -- submit: inline or file ------------------------------------------------------------------


def test_small_shard_goes_inline_with_key_and_model(emu: EmulatorHandle, tmp_path: Path) -> None:
    app = emu.apps["mistral"]
    adapter = MistralAdapter("mistral-small-latest", {"timeout_hours": 48})
    remote_id = adapter.submit(_shard(adapter, _chats(3, response_model=Verdict), tmp_path))
    job = app.jobs[remote_id]
    assert (app.uploads, app.creates) == (0, 1)
    assert job.input_files == [] and len(job.lines) == 3
    assert (job.model, job.endpoint, job.timeout_hours) == (
        "mistral-small-latest", "/v1/chat/completions", 48)
    assert job.metadata == {"batchkit_job": "job-1", "batchkit_key": "key-1"}
    first = adapter.poll(remote_id)
    assert first.state is JobState.RUNNING and first.vendor_status == "RUNNING"
    status = _wait(adapter, remote_id)
    assert (status.state, status.total, status.succeeded, status.failed) == (
        JobState.COMPLETED, 3, 3, 0)
    results = _results(adapter, adapter.fetch_results(remote_id, status, tmp_path / "out"))
    assert sorted(results) == ["mail-0", "mail-1", "mail-2"]
    for r in results.values():
        assert r.status == "succeeded" and r.text is not None
        Verdict.model_validate_json(r.text)
    adapter.close()


def test_file_path_streams_the_payload(emu: EmulatorHandle, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    app = emu.apps["mistral"]
    adapter = MistralAdapter("mistral-small-latest", {"upload": "file"})
    shard = _shard(adapter, _chats(4), tmp_path)

    def no_whole_reads(self: pathlib.Path) -> bytes:
        raise AssertionError(f"{self} was read whole into memory")

    monkeypatch.setattr(pathlib.Path, "read_bytes", no_whole_reads)
    remote_id = adapter.submit(shard)
    monkeypatch.undo()
    job = app.jobs[remote_id]
    assert (app.uploads, app.creates) == (1, 1)
    uploaded = app.files[job.input_files[0]]
    assert uploaded.purpose == "batch" and uploaded.data == shard.payload_path.read_bytes()
    status = _wait(adapter, remote_id)
    paths = adapter.fetch_results(remote_id, status, tmp_path / "out")
    assert [p.name for p in paths] == [f"{remote_id}_output.jsonl"]
    assert not list((tmp_path / "out").glob("*.part"))
    assert {r.status for r in _results(adapter, paths).values()} == {"succeeded"}


def test_auto_uploads_a_file_past_the_inline_bound(emu: EmulatorHandle, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mistral_module, "_INLINE_MAX_BYTES", 100)
    adapter = MistralAdapter("mistral-small-latest")
    remote_id = adapter.submit(_shard(adapter, _chats(3), tmp_path))
    assert emu.apps["mistral"].uploads == 1
    assert len(emu.apps["mistral"].jobs[remote_id].input_files) == 1


# -- results ---------------------------------------------------------------------------------


def test_error_file_rows_become_errored_results(emu: EmulatorHandle, tmp_path: Path) -> None:
    app = emu.apps["mistral"]
    app.fault("mail-1", "http_error", status_code=429)
    app.fault("mail-2", "http_error", status_code=500)
    adapter = MistralAdapter("mistral-small-latest")
    # A line check() would refuse, written by hand: Mistral runs it and fails it with a 422.
    bad = orjson.dumps({"custom_id": "bad", "body": {
        "messages": [{"role": "user", "content": "x"}], "temperature": 3}})
    remote_id = adapter.submit(_shard(adapter, _chats(4), tmp_path, extra_lines=[bad]))
    status = _wait(adapter, remote_id)
    assert (status.state, status.total, status.succeeded, status.failed) == (
        JobState.COMPLETED, 5, 2, 3)
    paths = adapter.fetch_results(remote_id, status, tmp_path / "out")
    assert [p.name for p in paths] == [f"{remote_id}_output.jsonl", f"{remote_id}_error.jsonl"]
    results = _results(adapter, paths)
    assert {cid: r.status for cid, r in results.items()} == {
        "mail-0": "succeeded", "mail-3": "succeeded", "mail-1": "errored", "mail-2": "errored",
        "bad": "errored"}
    limited, broken, invalid = results["mail-1"].error, results["mail-2"].error, results[
        "bad"].error
    assert limited is not None and (limited.http_status, limited.retryable) == (429, True)
    assert broken is not None and (broken.http_status, broken.retryable) == (500, True)
    assert invalid is not None and (invalid.http_status, invalid.retryable) == (422, False)
    assert invalid.message.startswith("body.temperature:")


def test_timeout_exceeded_keeps_partial_results(emu: EmulatorHandle, tmp_path: Path) -> None:
    emu.apps["mistral"].fault("mail-1", "expired")
    adapter = MistralAdapter("mistral-small-latest", {"timeout_hours": 1})
    remote_id = adapter.submit(_shard(adapter, _chats(3), tmp_path))
    status = _wait(adapter, remote_id)
    assert (status.state, status.vendor_status) == (JobState.EXPIRED, "TIMEOUT_EXCEEDED")
    job = emu.apps["mistral"].jobs[remote_id]
    assert job.stamps["completed_at"] == job.created_at + 3600
    assert (status.total, status.succeeded, status.failed) == (3, 2, 0)
    results = _results(adapter, adapter.fetch_results(remote_id, status, tmp_path / "out"))
    assert sorted(results) == ["mail-0", "mail-2"]  # the stalled request has no row
    assert {r.status for r in results.values()} == {"succeeded"}


def test_results_only_inline_are_written_out(emu: EmulatorHandle, tmp_path: Path) -> None:
    app = emu.apps["mistral"]
    app.results_inline_only = True
    app.fault("mail-0", "http_error", status_code=400)
    adapter = MistralAdapter("mistral-small-latest")
    remote_id = adapter.submit(_shard(adapter, _chats(3), tmp_path))
    status = _wait(adapter, remote_id)
    assert status.raw["output_file"] is None and status.raw["error_file"] is None
    paths = adapter.fetch_results(remote_id, status, tmp_path / "out")
    assert [p.name for p in paths] == [f"{remote_id}_inline.jsonl"]
    results = _results(adapter, paths)
    assert {cid: r.status for cid, r in results.items()} == {
        "mail-0": "errored", "mail-1": "succeeded", "mail-2": "succeeded"}


def test_failed_job_reports_the_vendor_errors(emu: EmulatorHandle, tmp_path: Path) -> None:
    emu.apps["mistral"].fail_next_job("Batch input could not be read")
    adapter = MistralAdapter("mistral-small-latest")
    remote_id = adapter.submit(_shard(adapter, _chats(2), tmp_path))
    status = _wait(adapter, remote_id)
    assert status.state is JobState.FAILED
    assert [(e.code, e.message) for e in status.errors] == [
        ("batch_failed", "Batch input could not be read")]
    assert adapter.fetch_results(remote_id, status, tmp_path / "out") == []


def test_cancel(emu: EmulatorHandle, tmp_path: Path) -> None:
    adapter = MistralAdapter("mistral-small-latest")
    remote_id = adapter.submit(_shard(adapter, _chats(2), tmp_path))
    adapter.cancel(remote_id)
    assert emu.apps["mistral"].jobs[remote_id].status == "CANCELLATION_REQUESTED"
    status = _wait(adapter, remote_id)
    assert (status.state, status.vendor_status) == (JobState.CANCELLED, "CANCELLED")
    with pytest.raises(ProviderError) as info:  # a finished job cannot be cancelled
        adapter.cancel(remote_id)
    assert info.value.status_code == 400 and "can no longer be cancelled" in str(info.value)


# -- idempotency -----------------------------------------------------------------------------


def test_find_by_key(emu: EmulatorHandle, tmp_path: Path) -> None:
    adapter = MistralAdapter("mistral-small-latest")
    mine = _shard(adapter, _chats(2), tmp_path, key="job-1-0000")
    first = adapter.submit(mine)
    adapter.submit(_shard(adapter, _chats(2), tmp_path, key="job-1-0001"))
    assert adapter.find_by_key(mine) == first
    assert adapter.find_by_key(ShardInput(**{**vars(mine), "taken": frozenset({first})})) is None
    later = ShardInput(**{**vars(mine), "journaled_at": time.time() + 3600})
    assert adapter.find_by_key(later) is None  # created_after excludes older jobs


def test_find_by_key_checks_the_key_itself(emu: EmulatorHandle, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """If the server ignored the metadata filter, the newest job would not be taken for ours."""
    monkeypatch.setattr(mistral_routes, "LIST_PARAMETERS",
                        mistral_routes.LIST_PARAMETERS | {"batchkit_key"})
    adapter = MistralAdapter("mistral-small-latest")
    mine = _shard(adapter, _chats(1), tmp_path, key="job-1-0000")
    first = adapter.submit(mine)
    for i in range(1, 4):
        adapter.submit(_shard(adapter, _chats(1), tmp_path, key=f"job-1-000{i}"))
    assert adapter.find_by_key(mine) == first


def test_find_by_key_pages(emu: EmulatorHandle, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mistral_module, "_LIST_PAGE", 2)
    monkeypatch.setattr(mistral_routes, "LIST_PARAMETERS",
                        mistral_routes.LIST_PARAMETERS | {"batchkit_key"})
    adapter = MistralAdapter("mistral-small-latest")
    mine = _shard(adapter, _chats(1), tmp_path, key="oldest")
    first = adapter.submit(mine)
    for i in range(4):
        adapter.submit(_shard(adapter, _chats(1), tmp_path, key=f"newer-{i}"))
    assert adapter.find_by_key(mine) == first


# -- errors at the boundary ------------------------------------------------------------------


def test_create_is_never_retried(emu: EmulatorHandle, tmp_path: Path) -> None:
    app = emu.apps["mistral"]
    app.endpoint_faults.add(500, method="POST", path_prefix="/v1/batch/jobs")
    adapter = MistralAdapter("mistral-small-latest")
    with pytest.raises(ProviderError) as info:
        adapter.submit(_shard(adapter, _chats(1), tmp_path))
    assert info.value.status_code == 500 and "Internal server error" in str(info.value)
    assert app.creates == 0  # a retry would have met no fault and created the job


def test_reads_are_retried(emu: EmulatorHandle, tmp_path: Path) -> None:
    adapter = MistralAdapter("mistral-small-latest")
    remote_id = adapter.submit(_shard(adapter, _chats(1), tmp_path))
    emu.apps["mistral"].endpoint_faults.add(503, method="GET", path_prefix="/v1/batch/jobs",
                                            retry_after=0)
    assert adapter.poll(remote_id).state is JobState.RUNNING


def test_vendor_errors_are_mapped(emu: EmulatorHandle) -> None:
    adapter = MistralAdapter("mistral-small-latest")
    with pytest.raises(ProviderError) as missing:
        adapter.poll(UNKNOWN_JOB)
    assert missing.value.status_code == 404 and "not found" in str(missing.value)
    with pytest.raises(ProviderError, match=r"HTTP 422: path.job_id: Input should be a valid "
                                            r"UUID"):
        adapter.poll("not-a-uuid")
    emu.apps["mistral"].api_keys = {"another-key"}
    with pytest.raises(MissingCredentialsError, match="HTTP 401"):
        MistralAdapter("mistral-small-latest").poll(UNKNOWN_JOB)


def test_connection_errors_never_show_the_key(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "mistral-secret-key-0123456789"
    monkeypatch.setenv("MISTRAL_API_KEY", secret)
    adapter = MistralAdapter("mistral-small-latest", {"base_url": "http://127.0.0.1:9"})
    with pytest.raises(ProviderError) as info:
        adapter.submit(_shard(adapter, _chats(1), tmp_path))
    assert "could not create the batch job" in str(info.value)
    assert info.value.transient  # the orchestrator may look the job up and try again
    assert secret not in str(info.value) and secret not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
