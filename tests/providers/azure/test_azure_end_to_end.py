"""The Azure adapter through the real ``openai`` SDK (``AzureOpenAI`` and the v1 ``OpenAI``
client) against the Azure emulator, and the emulator's Azure rules seen through the SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import openai
import pytest

import batchkit as bk
from batchkit._exceptions import MissingCredentialsError, ProviderError
from batchkit._registry import make_adapter
from batchkit.providers.base import ShardInput
from batchkit.testing._emulate import EmulatorHandle, emulate
from batchkit.testing._server import Request
from batchkit.testing.emulators.azure.routes import AzureEmulator

DATED = "2024-10-21"


@pytest.fixture(autouse=True)
def _no_azure_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "OPENAI_API_VERSION",
                "AZURE_OPENAI_AD_TOKEN"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def emu() -> Iterator[EmulatorHandle]:
    with emulate(providers=["azure"]) as handle:
        yield handle


def _app(handle: EmulatorHandle) -> AzureEmulator:
    app: AzureEmulator = handle.apps["azure"]
    return app


def _chats(n: int) -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"q{i}", max_tokens=30,
                           messages=[{"role": "user", "content": f"question {i}"}])
            for i in range(n)]


def _sdk(handle: EmulatorHandle) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(azure_endpoint=handle.base_url("azure"), api_key="sandbox",
                              api_version=DATED, max_retries=0)


def _line(cid: str, deployment: str, url: str = "/chat/completions") -> str:
    return json.dumps({"custom_id": cid, "method": "POST", "url": url, "body": {
        "model": deployment, "messages": [{"role": "user", "content": "hi"}]}})


def _run(client: openai.AzureOpenAI, lines: list[str], **create: Any) -> Any:
    uploaded = client.files.create(file=("in.jsonl", "\n".join(lines).encode()), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, **{
        "endpoint": "/chat/completions", "completion_window": "24h", **create})
    for _ in range(10):
        batch = client.batches.retrieve(batch.id)
        if batch.status in ("completed", "failed", "expired", "cancelled"):
            return batch
    raise AssertionError(f"batch still {batch.status}")


def test_default_route_is_the_v1_api_with_the_plain_openai_client(emu: EmulatorHandle) -> None:
    results = bk.run(_chats(4), "azure:gpt-4o-mini")
    assert results.counts() == {"succeeded": 4}
    assert _app(emu).v1_calls > 0 and _app(emu).api_versions == []


def test_a_dated_api_version_uses_azureopenai_and_the_api_version_query(
        emu: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_VERSION", DATED)
    results = bk.run(_chats(3), "azure:gpt-4o-mini")
    assert [r.custom_id for r in results] == ["q0", "q1", "q2"]
    assert results.counts() == {"succeeded": 3}
    app = _app(emu)
    assert app.v1_calls == 0 and set(app.api_versions) == {DATED}
    assert app.batches_created_with("batchkit_key", bk.list_jobs()[0].id + "-0000") == 1


def test_a_completed_batch_has_an_empty_error_file_which_is_fetched(
        emu: EmulatorHandle, tmp_path: Path) -> None:
    adapter = make_adapter("azure:gpt-4o-mini")
    payload = tmp_path / "shard.jsonl"
    payload.write_bytes(b"".join(adapter.encode(r, r.custom_id) + b"\n" for r in _chats(5)))
    shard = ShardInput(job_id="job-e", index=0, key="job-e-0000", group="chat",
                       payload_path=payload, request_count=5)
    remote = adapter.submit(shard)
    status = adapter.poll(remote)
    while not status.state.is_terminal:
        status = adapter.poll(remote)
    assert status.raw["error_file_id"] and (status.total, status.succeeded) == (5, 5)
    paths = adapter.fetch_results(remote, status, tmp_path / "out")
    sizes = {p.name.rsplit("_", 1)[1]: p.stat().st_size for p in paths}
    assert sizes["error.jsonl"] == 0 and sizes["output.jsonl"] > 0
    decoded = [adapter.decode(line) for p in paths for line in p.read_bytes().splitlines()]
    assert sorted(r.custom_id for r in decoded) == [f"q{i}" for i in range(5)]
    assert all(r.status == "succeeded" for r in decoded)
    adapter.close()


def test_mixed_deployments_in_one_file_fail_validation(emu: EmulatorHandle) -> None:
    batch = _run(_sdk(emu), [_line("a", "dep-one"), _line("b", "dep-two")])
    assert batch.status == "failed"
    assert batch.errors is not None and batch.errors.data is not None
    error = batch.errors.data[0]
    assert (error.code, error.line) == ("model_mismatch", 2)


def test_an_unknown_deployment_fails_the_job_with_model_not_found(emu: EmulatorHandle) -> None:
    _app(emu).only_deployments("prod-batch")
    job = bk.submit(_chats(2), "azure:not-deployed")
    job.wait(raise_on_failure=False)
    assert job.state == bk.JobState.FAILED
    results = job.results()
    # Validation stops at the first bad line: it names the rule, the rest share the batch's fate.
    assert [(r.status, r.error and r.error.code) for r in results] == [
        ("errored", "model_not_found"), ("errored", "batch_failed")]


def test_line_urls_must_match_the_batch_endpoint(emu: EmulatorHandle) -> None:
    batch = _run(_sdk(emu), [_line("a", "d", url="/v1/chat/completions")])
    assert batch.status == "failed" and batch.errors and batch.errors.data
    assert batch.errors.data[0].code == "url_mismatch"


def test_a_window_other_than_24h_fails_the_job(emu: EmulatorHandle) -> None:
    batch = _run(_sdk(emu), [_line("a", "d")], completion_window="48h")
    assert batch.status == "failed" and batch.errors and batch.errors.data
    assert batch.errors.data[0].param == "completion_window"


def test_output_expiry_outside_azures_range_is_refused(emu: EmulatorHandle) -> None:
    with pytest.raises(openai.BadRequestError, match="output_expires_after"):
        _run(_sdk(emu), [_line("a", "d")],
             output_expires_after={"anchor": "created_at", "seconds": 3600})


def test_the_key_goes_in_the_api_key_header_and_is_never_echoed(
        emu: EmulatorHandle, tmp_path: Path) -> None:
    import httpx

    url = f"{emu.base_url('azure')}/openai/batches?api-version={DATED}"
    assert httpx.get(url, headers={"Authorization": "Bearer sandbox"}).status_code == 401
    assert httpx.get(url, headers={"api-key": "sandbox"}).status_code == 200
    _app(emu).api_keys = {"another-key"}
    with pytest.raises(MissingCredentialsError, match="AZURE_OPENAI_API_KEY") as caught:
        bk.submit(_chats(1), "azure:gpt-4o-mini")
    assert "sandbox" not in str(caught.value)


def test_a_failed_create_is_not_retried_by_the_sdk(emu: EmulatorHandle, tmp_path: Path) -> None:
    app = _app(emu)
    adapter = make_adapter("azure:gpt-4o-mini")
    payload = tmp_path / "shard.jsonl"
    payload.write_bytes(adapter.encode(_chats(1)[0], "q0") + b"\n")
    shard = ShardInput(job_id="job-r", index=0, key="job-r-0000", group="chat",
                       payload_path=payload, request_count=1)
    app.endpoint_faults.add(500, method="POST", path_prefix="/openai/v1/batches", times=2)
    with pytest.raises(ProviderError, match="create the batch: HTTP 500") as caught:
        adapter.submit(shard)
    assert caught.value.status_code == 500 and app.creates == 0
    # One of the two armed faults is left: the create was tried exactly once.
    assert app.endpoint_faults.take(Request("POST", "/openai/v1/batches", {}, Message(), b""))
    assert not app.endpoint_faults.take(Request("POST", "/openai/v1/batches", {}, Message(), b""))
