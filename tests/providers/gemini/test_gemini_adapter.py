"""The gemini adapter's own behaviour: lines, limits, keys, errors and re-attaching."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from google.genai import types

import batchkit as bk
from batchkit._registry import make_adapter
from batchkit.providers.base import ShardInput
from batchkit.providers.gemini.adapter import INLINE_MAX_BYTES, GeminiAdapter, _status
from batchkit.testing import emulate

# Shaped like a Google API key, made at run time so no key-like literal sits in the repo.
REAL_LOOKING_KEY = "AIza" + secrets.token_urlsafe(26)[:35]


@pytest.fixture
def handle() -> Iterator[Any]:
    with emulate(providers=["gemini"]) as h:
        yield h


def test_registry_and_limits() -> None:
    adapter = make_adapter("gemini:gemini-2.5-flash")
    assert isinstance(adapter, GeminiAdapter) and adapter.model == "gemini-2.5-flash"
    assert adapter.limits("chat").max_requests == 50_000
    assert adapter.limits("chat").max_bytes == 2_000_000_000
    assert adapter.limits("embed").max_embedding_inputs == 50_000
    assert GeminiAdapter("m", {"max_requests": 10}).limits("chat").max_requests == 10
    assert INLINE_MAX_BYTES < 20_000_000


def test_encode_and_decode_lines() -> None:
    adapter = GeminiAdapter("gemini-2.5-flash")
    chat = bk.ChatRequest(custom_id="a b/ü", messages=[{"role": "user", "content": "hi"}])
    line = orjson.loads(adapter.encode(chat, adapter.vendor_id(chat.custom_id)))
    assert line == {"key": "a b/ü", "request": {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}]}}
    embed = bk.EmbedRequest(custom_id="e", text="t", dimensions=4)
    assert orjson.loads(adapter.encode(embed, "e")) == {"key": "e", "request": {
        "content": {"parts": [{"text": "t"}]}, "outputDimensionality": 4}}

    ok = adapter.decode(orjson.dumps({"key": "a", "response": {"candidates": [
        {"content": {"parts": [{"text": "yes"}]}, "finishReason": "STOP"}]}}))
    assert (ok.custom_id, ok.status, ok.text) == ("a", "succeeded", "yes")
    err = adapter.decode(b'{"key": "b", "error": {"code": 14, "message": "later"}}')
    assert err.status == "errored" and err.error is not None
    assert (err.error.code, err.error.retryable, err.error.http_status) == ("unavailable", True,
                                                                            503)
    vec = adapter.decode(b'{"key": "c", "response": {"embedding": {"values": [1.0, 0.0]}}}')
    assert vec.embedding is not None and vec.embedding.tolist() == [1.0, 0.0]
    for bad in (b'{"position": 3, "response": {}}', b'{"key": "d"}', b"nope"):
        with pytest.raises(ValueError):
            adapter.decode(bad)


def test_check_names_the_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "test-key")  # submit builds the client first
    adapter = GeminiAdapter("gemini-2.5-flash")
    with pytest.raises(bk.InvalidRequestError, match=r"custom_id 'x'.*stop sequences"):
        adapter.check(bk.ChatRequest(custom_id="x", stop=list("abcdef"),
                                     messages=[{"role": "user", "content": "hi"}]))
    with pytest.raises(bk.InvalidRequestError, match="custom_id 'x'"):
        bk.submit([bk.ChatRequest(custom_id="x", params={"stream": True},
                                  messages=[{"role": "user", "content": "hi"}])],
                  "gemini:gemini-2.5-flash")


def test_missing_key_names_both_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(bk.MissingCredentialsError, match=r"GEMINI_API_KEY \(or GOOGLE_API_KEY\)"):
        GeminiAdapter("gemini-2.5-flash").poll("batches/x")


def test_google_api_key_wins_like_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-key-123456")
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key-123456")
    adapter = GeminiAdapter("m", {"base_url": "http://127.0.0.1:9"})
    assert adapter._sdk()._api_client.api_key == "google-key-123456"
    adapter.close()


def test_refused_key_is_a_credentials_error_without_the_key(
    handle: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle.apps["gemini"].api_keys = {"the-right-key"}
    monkeypatch.delenv("BATCHKIT_SANDBOX")
    monkeypatch.setenv("GEMINI_API_KEY", REAL_LOOKING_KEY)
    adapter = GeminiAdapter("gemini-2.5-flash", {"base_url": handle.base_url("gemini")})
    with pytest.raises(bk.MissingCredentialsError) as info:
        adapter.poll("batches/anything")
    assert "GEMINI_API_KEY" in str(info.value) and REAL_LOOKING_KEY not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_vendor_errors_become_provider_errors(handle: Any) -> None:
    app = handle.apps["gemini"]
    adapter = GeminiAdapter("gemini-2.5-flash")
    with pytest.raises(bk.ProviderError, match=r"HTTP 404 \[NOT_FOUND\]"):
        adapter.poll("batches/missing")
    app.endpoint_faults.add(503, path_prefix="/v1beta/batches", times=4)  # outlasts SDK retries
    with pytest.raises(bk.ProviderError) as info:
        adapter.poll("batches/missing")
    assert info.value.status_code == 503 and info.value.transient
    assert app.endpoint_faults.hits == 4


def test_a_read_rides_out_a_passing_failure_with_the_sdks_retries(handle: Any) -> None:
    """Reads (not creates) go with the SDK's own retries: one 503 never reaches batchkit."""
    app = handle.apps["gemini"]
    app.endpoint_faults.add(503, path_prefix="/v1beta/batches")
    with pytest.raises(bk.ProviderError, match=r"HTTP 404 \[NOT_FOUND\]"):
        GeminiAdapter("gemini-2.5-flash").poll("batches/missing")
    assert app.endpoint_faults.hits == 1


def test_a_failed_create_is_looked_up_before_it_is_sent_again(handle: Any) -> None:
    """The SDK never repeats a create (Gemini creation is not idempotent); the orchestrator's
    retry of a transient failure asks ``find_by_key`` first, so one batch exists in the end."""
    app = handle.apps["gemini"]
    app.endpoint_faults.add(500, method="POST", path_prefix="/v1beta/models")
    job = bk.submit([bk.ChatRequest(custom_id="a", messages=[{"role": "user", "content": "x"}])],
                    "gemini:gemini-2.5-flash")
    assert app.creates == 1 and job.shards[0].remote_id is not None
    assert app.batches_with_display_name(f"batchkit:{job.shards[0].key}") == 1
    assert job.wait().results().counts() == {"succeeded": 1}


def test_connection_errors_are_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "k")
    adapter = GeminiAdapter("gemini-2.5-flash", {"base_url": "http://127.0.0.1:9"})
    with pytest.raises(bk.ProviderError) as info:
        adapter.poll("batches/x")
    assert info.value.transient and "ConnectError" in str(info.value)


def _shard(tmp_path: Path, key: str, taken: frozenset[str] = frozenset(),
           journaled_at: float = 0.0) -> ShardInput:
    payload = tmp_path / f"{key}.jsonl"
    request = bk.ChatRequest(custom_id="r", messages=[{"role": "user", "content": "x"}])
    payload.write_bytes(GeminiAdapter("m").encode(request, "r") + b"\n")
    return ShardInput(job_id="bk_j", index=0, key=key, group="chat", payload_path=payload,
                      request_count=1, journaled_at=journaled_at, taken=taken)


def test_find_by_key(handle: Any, tmp_path: Path) -> None:
    adapter = GeminiAdapter("gemini-2.5-flash", {"find_skew_seconds": 0})
    first = adapter.submit(_shard(tmp_path, "bk_j-0000"))
    adapter.submit(_shard(tmp_path, "bk_j-0001"))
    assert adapter.find_by_key(_shard(tmp_path, "bk_j-0000")) == first
    assert adapter.find_by_key(_shard(tmp_path, "bk_j-0000", taken=frozenset({first}))) is None
    assert adapter.find_by_key(_shard(tmp_path, "bk_j-0002")) is None
    later = handle.clock.now() + 3600
    assert adapter.find_by_key(_shard(tmp_path, "bk_j-0000", journaled_at=later)) is None
    assert handle.apps["gemini"].batches_with_display_name("batchkit:bk_j-0000") == 1


def test_crash_after_create_reattaches(handle: Any) -> None:
    requests = [bk.ChatRequest(custom_id=f"c{i}", messages=[{"role": "user", "content": "x"}])
                for i in range(6)]
    job = bk.submit(requests, "gemini:gemini-2.5-flash", shard_size=3)
    first = job.shards[0]
    job._store._conn.execute("UPDATE shards SET remote_id = NULL WHERE idx = 0")
    resumed = bk.resume(job.id)
    assert resumed.shards[0].remote_id == first.remote_id
    assert handle.apps["gemini"].creates == 2
    assert resumed.wait().results().counts() == {"succeeded": 6}


def test_results_are_streamed_to_files(handle: Any, tmp_path: Path) -> None:
    adapter = GeminiAdapter("gemini-2.5-flash", {"inline_max_bytes": 0})
    remote = adapter.submit(_shard(tmp_path, "bk_j-0000"))
    while not (status := adapter.poll(remote)).state.is_terminal:
        time.sleep(0)
    paths = adapter.fetch_results(remote, status, tmp_path / "out")
    assert [p.name for p in paths] == [f"{remote.split('/')[1]}_results.jsonl"]
    assert not list((tmp_path / "out").glob("*.part"))
    [line] = paths[0].read_bytes().splitlines()
    assert adapter.decode(line).status == "succeeded"


def test_status_from_sdk_batch_jobs() -> None:
    done = _status(types.BatchJob(name="batches/a", state=types.JobState.JOB_STATE_SUCCEEDED))
    assert done.state == bk.JobState.COMPLETED and done.vendor_status == "JOB_STATE_SUCCEEDED"
    assert done.total is None  # google-genai drops batchStats in Developer-API mode
    failed = _status(types.BatchJob(name="batches/a", state=types.JobState.JOB_STATE_FAILED))
    assert failed.state == bk.JobState.FAILED
    assert [e.code for e in failed.errors] == ["batch_failed"]
    with pytest.warns(UserWarning):
        odd = types.BatchJob.model_validate({"name": "batches/a", "state": "BATCH_STATE_NEW"})
    with pytest.raises(bk.ProviderError, match="BATCH_STATE_NEW"):
        _status(odd)
    with pytest.raises(bk.ProviderError, match="JOB_STATE_UNSPECIFIED"):
        _status(types.BatchJob(name="batches/a"))


def test_sandbox_sends_a_dummy_key_and_nothing_keeps_the_real_one(
    handle: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", REAL_LOOKING_KEY)
    app = handle.apps["gemini"]
    seen: list[str | None] = []
    original = app.handle

    def spy(request: Any) -> Any:
        seen.append(request.header("x-goog-api-key"))
        return original(request)

    app.handle = spy
    job = bk.submit([bk.ChatRequest(custom_id="a", messages=[{"role": "user", "content": "x"}])],
                    "gemini:gemini-2.5-flash", options={"inline_max_bytes": 0})
    assert job.wait().results().counts() == {"succeeded": 1}
    assert len(seen) >= 4 and REAL_LOOKING_KEY not in seen
    assert set(seen) <= {"sandbox", None}  # upload chunks carry no key at all
    assert REAL_LOOKING_KEY not in repr(job._adapter)
    assert all(REAL_LOOKING_KEY.encode() not in p.read_bytes()
               for p in job.folder.rglob("*") if p.is_file())
