"""The Groq adapter: its pure half offline, its I/O half through the real ``groq`` SDK against
the Groq emulator (completion window, cursor pagination, no retried creates)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import groq
import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit._exceptions import ConfigError, InvalidRequestError, ProviderError
from batchkit._registry import make_adapter
from batchkit.providers.base import ShardInput
from batchkit.providers.groq.adapter import GroqAdapter
from batchkit.testing._emulate import EmulatorHandle, emulate
from batchkit.testing._server import Request
from batchkit.testing.emulators.groq.routes import GroqEmulator


class Label(BaseModel):
    spam: bool


@pytest.fixture(autouse=True)
def _no_groq_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GROQ_API_KEY", "GROQ_BASE_URL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def emu() -> Iterator[EmulatorHandle]:
    with emulate(providers=["groq"]) as handle:
        yield handle


def _app(handle: EmulatorHandle) -> GroqEmulator:
    app: GroqEmulator = handle.apps["groq"]
    return app


def _chats(n: int, **kw: object) -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"g{i}", messages=[{"role": "user", "content": f"q {i}"}],
                           **kw) for i in range(n)]


def _shard(adapter: GroqAdapter, folder: Path, key: str, n: int = 2) -> ShardInput:
    payload = folder / f"{key}.jsonl"
    payload.write_bytes(b"".join(adapter.encode(r, r.custom_id) + b"\n" for r in _chats(n)))
    return ShardInput(job_id=key.rpartition("-")[0], index=0, key=key, group="chat",
                      payload_path=payload, request_count=n, journaled_at=time.time())


# -- pure half -------------------------------------------------------------------------------


@pytest.mark.parametrize("window", ["24h", "36h", "72h", "7d", "168h", "1d"])
def test_completion_windows_from_24h_to_7d_are_accepted(window: str) -> None:
    GroqAdapter("llama-3.1-8b-instant", {"completion_window": window})


@pytest.mark.parametrize("window", ["23h", "8d", "169h", "1w", "24", "", "0h", 48])
def test_other_completion_windows_are_a_one_line_config_error(window: object) -> None:
    with pytest.raises(ConfigError) as caught:
        GroqAdapter("llama-3.1-8b-instant", {"completion_window": window})
    assert "24h to 7d" in str(caught.value) and "\n" not in str(caught.value)


def test_strict_schemas_only_for_the_gpt_oss_models() -> None:
    request = _chats(1, response_model=Label)[0]
    for model, strict in (("openai/gpt-oss-20b", True), ("llama-3.3-70b-versatile", False)):
        line = json.loads(make_adapter(f"groq:{model}").encode(request, "g0"))
        assert line["body"]["response_format"]["json_schema"]["strict"] is strict
        assert (line["method"], line["url"]) == ("POST", "/v1/chat/completions")


def test_embeddings_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match=r"doc-1.*chat requests only"):
        make_adapter("groq:llama-3.1-8b-instant").check(bk.EmbedRequest(custom_id="doc-1",
                                                                         text="x"))


# -- through the SDK -------------------------------------------------------------------------


def test_the_window_option_reaches_groq_and_sets_the_expiry(emu: EmulatorHandle) -> None:
    job = bk.submit(_chats(3), "groq:llama-3.1-8b-instant", options={"completion_window": "3d"})
    results = job.wait().results()
    assert results.counts() == {"succeeded": 3}
    (shard,) = job.shards
    batch = _app(emu).batches[shard.remote_id or ""].as_json()
    assert batch["completion_window"] == "3d"
    assert batch["expires_at"] - batch["created_at"] == 3 * 86_400
    assert _app(emu).batches_created_with("batchkit_key", shard.key) == 1


def test_the_emulator_refuses_a_window_past_7d_as_groq_does(emu: EmulatorHandle) -> None:
    client = groq.Groq(base_url=emu.base_url("groq"), api_key="sandbox", max_retries=0)
    uploaded = client.files.create(file=("in.jsonl", b'{"custom_id": "a"}\n'), purpose="batch")
    with pytest.raises(groq.BadRequestError, match="24h to 7d"):
        client.batches.create(completion_window="8d", endpoint="/v1/chat/completions",
                              input_file_id=uploaded.id or "")


def test_listing_follows_the_cursor_through_every_page(emu: EmulatorHandle,
                                                       tmp_path: Path) -> None:
    app = _app(emu)
    app.list_page_size = 2
    adapter = GroqAdapter("llama-3.1-8b-instant")
    keys = [f"job-p-{i:04d}" for i in range(5)]
    created = {key: adapter.submit(_shard(adapter, tmp_path, key)) for key in keys}
    # The first batch created is on the last of three pages (newest first, two per page).
    assert adapter.find_by_key(_shard(adapter, tmp_path, keys[0])) == created[keys[0]]
    assert adapter.find_by_key(_shard(adapter, tmp_path, keys[4])) == created[keys[4]]
    assert adapter.find_by_key(_shard(adapter, tmp_path, "job-p-none")) is None
    client = groq.Groq(base_url=emu.base_url("groq"), api_key="sandbox")
    first = client.batches.list().to_dict()
    assert len(first["data"]) == 2 and first["paging"]["next_cursor"]
    adapter.close()


def test_a_batch_already_taken_by_another_shard_is_not_attached(emu: EmulatorHandle,
                                                                tmp_path: Path) -> None:
    adapter = GroqAdapter("llama-3.1-8b-instant")
    shard = _shard(adapter, tmp_path, "job-t-0000")
    remote = adapter.submit(shard)
    assert adapter.find_by_key(shard) == remote
    taken = ShardInput(**{**vars(shard), "taken": frozenset({remote})})
    assert adapter.find_by_key(taken) is None
    adapter.close()


def test_a_failed_create_is_not_retried_by_the_sdk(emu: EmulatorHandle, tmp_path: Path) -> None:
    app = _app(emu)
    adapter = GroqAdapter("llama-3.1-8b-instant")
    app.endpoint_faults.add(503, method="POST", path_prefix="/openai/v1/batches", times=2)
    with pytest.raises(ProviderError, match="Groq could not create the batch: HTTP 503"):
        adapter.submit(_shard(adapter, tmp_path, "job-f-0000"))
    assert app.creates == 0
    probe = Request("POST", "/openai/v1/batches", {}, Message(), b"")
    assert app.endpoint_faults.take(probe) and not app.endpoint_faults.take(probe)


def test_a_bad_line_fails_the_batch_with_the_line_named(emu: EmulatorHandle) -> None:
    job = bk.submit(_chats(3, params={"temperature": 7}), "groq:llama-3.1-8b-instant")
    with pytest.raises(bk.BatchFailedError, match=r"g0.*temperature"):
        job.wait()
    assert len(job.results()) == 3


def test_mixed_models_in_one_file_are_accepted(emu: EmulatorHandle) -> None:
    """Groq's docs show a 'Mixed Batch' file; OpenAI would fail it with mismatched_model."""
    client = groq.Groq(base_url=emu.base_url("groq"), api_key="sandbox")
    lines = [{"custom_id": f"m{i}", "method": "POST", "url": "/v1/chat/completions",
              "body": {"model": model, "messages": [{"role": "user", "content": "hi"}]}}
             for i, model in enumerate(["llama-3.1-8b-instant", "llama-3.3-70b-versatile"])]
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    uploaded = client.files.create(file=("in.jsonl", data), purpose="batch")
    batch = client.batches.create(completion_window="24h", endpoint="/v1/chat/completions",
                                  input_file_id=uploaded.id or "")
    while batch.status not in ("completed", "failed"):
        batch = client.batches.retrieve(batch.id)
    assert batch.status == "completed" and batch.request_counts is not None
    assert batch.request_counts.completed == 2


def test_a_missing_key_fails_before_a_job_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATCHKIT_SANDBOX", raising=False)
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    request = bk.ChatRequest(custom_id="a", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(bk.MissingCredentialsError, match="GROQ_API_KEY"):
        bk.submit([request], "groq:llama-3.1-8b-instant")
    assert bk.list_jobs() == []
