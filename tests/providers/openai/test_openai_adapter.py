"""The OpenAI adapter: its pure half offline, its I/O half against the emulator via the real SDK."""

from __future__ import annotations

import json
import pathlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

from batchkit._exceptions import (
    ConfigError,
    MissingCredentialsError,
    MissingDependencyError,
    ProviderError,
)
from batchkit._requests import ChatRequest, EmbedRequest, Request
from batchkit._results import Result
from batchkit._state import JobState
from batchkit.providers.base import RemoteStatus, ShardInput
from batchkit.providers.openai import adapter as openai_adapter
from batchkit.providers.openai.adapter import OpenAIAdapter
from batchkit.testing._emulate import EmulatorHandle, emulate


class Verdict(BaseModel):
    spam: bool
    reason: str


def _chats(n: int, **kw: Any) -> list[Request]:
    return [ChatRequest(custom_id=f"mail-{i}", messages=[{"role": "user", "content": f"m{i}"}],
                        **kw) for i in range(n)]


def _shard(adapter: OpenAIAdapter, requests: list[Request], folder: Path,
           key: str = "key-1") -> ShardInput:
    path = folder / f"{key}.jsonl"
    with path.open("wb") as fh:
        for r in requests:
            adapter.check(r)
            fh.write(adapter.encode(r, adapter.vendor_id(r.custom_id)) + b"\n")
    return ShardInput(job_id="job-1", index=0, key=key, group=adapter.group(requests[0]),
                      payload_path=path, request_count=len(requests))


def _wait(adapter: OpenAIAdapter, remote_id: str) -> RemoteStatus:
    for _ in range(20):
        status = adapter.poll(remote_id)
        if status.state.is_terminal:
            return status
    raise AssertionError("the batch never finished")


def _results(adapter: OpenAIAdapter, remote_id: str, status: RemoteStatus,
             dest: Path) -> dict[str, Result]:
    decoded = {}
    for path in adapter.fetch_results(remote_id, status, dest):
        for line in path.read_bytes().splitlines():
            result = adapter.decode(line)
            decoded[result.custom_id] = result
    return decoded


# -- pure half -------------------------------------------------------------------------------


def test_limits_and_groups() -> None:
    adapter = OpenAIAdapter("gpt-4o-mini")
    chat, embed = adapter.limits("chat"), adapter.limits("embed")
    assert (chat.max_requests, chat.max_bytes, chat.max_embedding_inputs) == (
        50_000, 200_000_000, None)
    assert embed.max_embedding_inputs == 50_000
    assert adapter.group(_chats(1)[0]) == "chat"
    assert adapter.group(EmbedRequest(custom_id="e", text="t")) == "embed"


def test_unknown_endpoint_option() -> None:
    with pytest.raises(ConfigError, match="'chat' or 'responses'"):
        OpenAIAdapter("gpt-4o-mini", {"endpoint": "completions"})


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(MissingCredentialsError, match="OPENAI_API_KEY"):
        OpenAIAdapter("gpt-4o-mini").poll("batch_1")


def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # makes `import openai` fail
    adapter = OpenAIAdapter("gpt-4o-mini")
    assert adapter.encode(_chats(1)[0], "x")  # the pure half needs no SDK
    with pytest.raises(MissingDependencyError, match=r'pip install "batchkit\[openai\]"'):
        adapter.poll("batch_1")


# -- I/O half against the emulator -----------------------------------------------------------


@pytest.fixture
def emu() -> Iterator[EmulatorHandle]:
    with emulate(providers=["openai"]) as handle:
        yield handle


def test_chat_batch_end_to_end(emu: EmulatorHandle, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = OpenAIAdapter("gpt-4o-mini")
    app = emu.apps["openai"]
    app.fault("mail-1", "http_error", status_code=429)
    shard = _shard(adapter, _chats(4, response_model=Verdict, max_tokens=100), tmp_path)

    def no_whole_reads(self: pathlib.Path) -> bytes:
        raise AssertionError(f"{self} was read whole into memory")

    monkeypatch.setattr(pathlib.Path, "read_bytes", no_whole_reads)
    remote_id = adapter.submit(shard)
    monkeypatch.undo()
    assert (app.uploads, app.creates) == (1, 1)
    assert app.batches_created_with("batchkit_key", "key-1") == 1
    assert app.batches_created_with("batchkit_job", "job-1") == 1

    first = adapter.poll(remote_id)
    assert first.state in (JobState.VALIDATING, JobState.RUNNING)
    status = _wait(adapter, remote_id)
    assert status.state is JobState.COMPLETED and status.vendor_status == "completed"
    assert (status.total, status.succeeded, status.failed) == (4, 3, 1)

    paths = adapter.fetch_results(remote_id, status, tmp_path / "out")
    assert [p.name for p in paths] == [f"{remote_id}_output.jsonl", f"{remote_id}_error.jsonl"]
    assert not list((tmp_path / "out").glob("*.part"))
    results = _results(adapter, remote_id, status, tmp_path / "out")
    assert sorted(results) == ["mail-0", "mail-1", "mail-2", "mail-3"]
    for cid in ("mail-0", "mail-2", "mail-3"):
        r = results[cid]
        assert r.status == "succeeded" and r.text is not None
        Verdict.model_validate_json(r.text)  # the emulator honoured the strict schema
        assert r.usage is not None and r.usage.input_tokens > 0
    failed = results["mail-1"]
    assert failed.status == "errored" and failed.error is not None
    assert (failed.error.http_status, failed.error.retryable) == (429, True)
    adapter.close()


def test_responses_endpoint_end_to_end(emu: EmulatorHandle, tmp_path: Path) -> None:
    adapter = OpenAIAdapter("gpt-4o-mini", {"endpoint": "responses"})
    requests = _chats(2, response_model=Verdict)
    remote_id = adapter.submit(_shard(adapter, requests, tmp_path))
    assert emu.apps["openai"].batches[remote_id].endpoint == "/v1/responses"
    status = _wait(adapter, remote_id)
    results = _results(adapter, remote_id, status, tmp_path / "out")
    assert {cid: r.status for cid, r in results.items()} == {"mail-0": "succeeded",
                                                             "mail-1": "succeeded"}
    for r in results.values():
        assert r.text is not None
        Verdict.model_validate_json(r.text)


def test_embeddings_end_to_end(emu: EmulatorHandle, tmp_path: Path) -> None:
    adapter = OpenAIAdapter("text-embedding-3-small")
    requests: list[Request] = [
        EmbedRequest(custom_id="d0", text="first", dimensions=64),
        EmbedRequest(custom_id="d1", text="second", dimensions=64,
                     params={"encoding_format": "base64"}),
    ]
    remote_id = adapter.submit(_shard(adapter, requests, tmp_path))
    assert emu.apps["openai"].batches[remote_id].endpoint == "/v1/embeddings"
    results = _results(adapter, remote_id, _wait(adapter, remote_id), tmp_path / "out")
    for cid in ("d0", "d1"):
        vector = results[cid].embedding
        assert vector is not None and vector.dtype == np.float32 and vector.shape == (64,)
        assert np.isclose(float(np.linalg.norm(vector)), 1.0, atol=1e-3)


def test_expired_batch_gives_expired_rows(emu: EmulatorHandle, tmp_path: Path) -> None:
    adapter = OpenAIAdapter("gpt-4o-mini")
    emu.apps["openai"].fault("mail-2", "expired")
    remote_id = adapter.submit(_shard(adapter, _chats(3), tmp_path))
    status = _wait(adapter, remote_id)
    assert status.state is JobState.EXPIRED
    results = _results(adapter, remote_id, status, tmp_path / "out")
    assert results["mail-2"].status == "expired"
    assert results["mail-2"].error is not None
    assert results["mail-2"].error.code == "batch_expired"


def test_cancel(emu: EmulatorHandle, tmp_path: Path) -> None:
    adapter = OpenAIAdapter("gpt-4o-mini")
    remote_id = adapter.submit(_shard(adapter, _chats(2), tmp_path))
    adapter.cancel(remote_id)
    status = _wait(adapter, remote_id)
    assert status.state is JobState.CANCELLED
    results = _results(adapter, remote_id, status, tmp_path / "out")
    assert {r.status for r in results.values()} <= {"cancelled", "succeeded"}
    assert any(r.status == "cancelled" for r in results.values())
    with pytest.raises(ProviderError) as info:  # cancelling a finished batch is refused
        adapter.cancel(remote_id)
    assert info.value.status_code == 400


def test_failed_validation_maps_line_errors(emu: EmulatorHandle, tmp_path: Path) -> None:
    adapter = OpenAIAdapter("gpt-4o-mini")
    emu.apps["openai"].fail_next_validation("duplicate_custom_id", "dup id")
    remote_id = adapter.submit(_shard(adapter, _chats(1), tmp_path))
    status = _wait(adapter, remote_id)
    assert status.state is JobState.FAILED
    assert [(e.code, e.message) for e in status.errors] == [("duplicate_custom_id", "dup id")]
    assert adapter.fetch_results(remote_id, status, tmp_path / "out") == []


def test_find_by_key_pages_past_newer_batches(emu: EmulatorHandle, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openai_adapter, "_LIST_PAGE", 2)  # 100 in production
    adapter = OpenAIAdapter("gpt-4o-mini")
    target = _shard(adapter, _chats(1), tmp_path, key="target")
    remote_id = adapter.submit(target)
    other = _shard(adapter, _chats(1), tmp_path, key="other")
    for _ in range(5):  # push the target onto the third page
        adapter.submit(other)
    assert adapter.find_by_key(target) == remote_id
    missing = _shard(adapter, _chats(1), tmp_path, key="never-submitted")
    assert adapter.find_by_key(missing) is None


def test_find_by_key_stops_at_the_age_cut(emu: EmulatorHandle, tmp_path: Path) -> None:
    adapter = OpenAIAdapter("gpt-4o-mini", {"find_max_age_days": -1})  # everything is "old"
    shard = _shard(adapter, _chats(1), tmp_path, key="late")
    adapter.submit(_shard(adapter, _chats(1), tmp_path, key="newer"))
    adapter.submit(shard)
    adapter.submit(_shard(adapter, _chats(1), tmp_path, key="newest"))
    assert adapter.find_by_key(shard) is None  # gave up at the first (newest) batch
    assert OpenAIAdapter("gpt-4o-mini").find_by_key(shard) is not None


def test_create_is_never_retried(emu: EmulatorHandle, tmp_path: Path) -> None:
    adapter = OpenAIAdapter("gpt-4o-mini")
    app = emu.apps["openai"]
    app.endpoint_faults.add(500, method="POST", path_prefix="/v1/batches", times=1)
    with pytest.raises(ProviderError, match="create the batch: HTTP 500") as info:
        adapter.submit(_shard(adapter, _chats(1), tmp_path))
    assert info.value.status_code == 500
    assert app.creates == 0  # a retry would have created one: the fault fires once


def test_reads_are_retried_by_the_sdk(emu: EmulatorHandle, tmp_path: Path) -> None:
    adapter = OpenAIAdapter("gpt-4o-mini")
    remote_id = adapter.submit(_shard(adapter, _chats(1), tmp_path))
    emu.apps["openai"].endpoint_faults.add(429, method="GET", path_prefix="/v1/batches",
                                           retry_after=0)
    assert adapter.poll(remote_id).vendor_status in ("validating", "in_progress")


def test_rejected_key_never_appears_in_errors(emu: EmulatorHandle, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-proj-SECRETsecret0123456789"
    monkeypatch.delenv("BATCHKIT_SANDBOX")
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    emu.apps["openai"].api_keys = {"sk-the-right-one"}
    adapter = OpenAIAdapter("gpt-4o-mini", {"base_url": emu.base_url("openai") + "/v1"})
    with pytest.raises(MissingCredentialsError, match="HTTP 401") as info:
        adapter.poll("batch_1")
    text = f"{info.value!s} {info.value!r} {adapter!r} {info.value.__cause__!r}"
    assert "SECRET" not in text and "3456789" not in text and "6789" not in text
    emu.apps["openai"].api_keys = {secret}
    with pytest.raises(ProviderError, match=r"read the batch: HTTP 404: No batch found with id "
                       r"'batch_does_not_exist'\.$") as missing:
        adapter.poll("batch_does_not_exist")
    assert "SECRET" not in str(missing.value)


def test_missing_ids_in_status_raw_are_fetched(emu: EmulatorHandle, tmp_path: Path) -> None:
    adapter = OpenAIAdapter("gpt-4o-mini")
    remote_id = adapter.submit(_shard(adapter, _chats(2), tmp_path))
    done = _wait(adapter, remote_id)
    bare = RemoteStatus(state=done.state, vendor_status=done.vendor_status)  # e.g. from a store
    paths = adapter.fetch_results(remote_id, bare, tmp_path / "out")
    lines = [json.loads(x) for p in paths for x in p.read_text().splitlines()]
    assert sorted(x["custom_id"] for x in lines) == ["mail-0", "mail-1"]
