"""The Gemini emulator on its own, driven by the google-genai SDK with a manual clock."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors, types

from batchkit.testing import emulate


@pytest.fixture
def env() -> Iterator[tuple[Any, genai.Client]]:
    with emulate(providers=["gemini"], auto=False, set_env=False) as h:
        client = genai.Client(api_key="test-key", http_options=types.HttpOptions(
            base_url=h.base_url("gemini")))
        yield h, client
        client.close()


def _line(key: str, text: str, **config: Any) -> dict[str, Any]:
    request: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    if config:
        request["generationConfig"] = config
    return {"key": key, "request": request}


def _upload(client: genai.Client, tmp_path: Path, lines: list[Any]) -> str:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    uploaded = client.files.upload(file=str(path), config=types.UploadFileConfig(
        mime_type="jsonl", display_name="in"))
    assert uploaded.size_bytes == path.stat().st_size and uploaded.source is not None
    return str(uploaded.name)


def _results(client: genai.Client, job: types.BatchJob, tmp_path: Path) -> list[dict[str, Any]]:
    assert job.dest is not None and job.dest.file_name
    out = tmp_path / "out.jsonl"
    client.files.download(file=job.dest.file_name, destination=str(out))
    return [json.loads(x) for x in out.read_text().splitlines()]


def test_file_batch_lifecycle_and_sdk_parsable_output(env: Any, tmp_path: Path) -> None:
    handle, client = env
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    name = _upload(client, tmp_path, [
        _line("a", "hello"),
        _line("b", "json please", responseMimeType="application/json",
              responseJsonSchema=schema),
        _line("c", "bad", responseJsonSchema=schema),          # no JSON mime type
        {"key": "d", "request": {"contents": [{"role": "system", "parts": [{"text": "x"}]}]}},
        {"key": "e", "request": {"contents": [], "bogus": 1}},
        _line("f", "long answer", maxOutputTokens=2),
    ])
    job = client.batches.create(model="gemini-2.5-flash", src=name,
                                config={"display_name": "lifecycle"})
    assert job.state == types.JobState.JOB_STATE_PENDING and job.display_name == "lifecycle"
    handle.clock.advance(10)
    assert client.batches.get(name=str(job.name)).state == types.JobState.JOB_STATE_RUNNING
    handle.clock.advance(60)
    done = client.batches.get(name=str(job.name))
    assert done.state == types.JobState.JOB_STATE_SUCCEEDED and done.end_time is not None
    lines = _results(client, done, tmp_path)
    assert [x["key"] for x in lines] == ["a", "b", "c", "d", "e", "f"]
    for x in lines[:2] + lines[5:]:
        response = types.GenerateContentResponse.model_validate(x["response"])
        assert response.usage_metadata is not None
        assert response.usage_metadata.thoughts_token_count  # a 2.5 model
    assert json.loads(lines[1]["response"]["candidates"][0]["content"]["parts"][0]["text"])["n"] \
        is not None
    assert lines[5]["response"]["candidates"][0]["finishReason"] == "MAX_TOKENS"
    for x, words in zip(lines[2:5], ("response_mime_type", "valid role", "Unknown name"),
                        strict=True):
        assert x["error"]["code"] == 3 and words in x["error"]["message"]
    raw = handle.apps["gemini"].batches[str(job.name).split("/")[1]].as_operation()
    assert raw["metadata"]["batchStats"] == {"requestCount": "6", "successfulRequestCount": "3",
                                             "failedRequestCount": "3",
                                             "pendingRequestCount": "0"}


def test_inline_batch_echoes_metadata_and_parses_as_sdk_types(env: Any) -> None:
    handle, client = env
    job = client.batches.create(model="models/gemini-2.0-flash", src=[
        types.InlinedRequest(contents="one", metadata={"key": "k1"}),
        types.InlinedRequest(contents="two", metadata={"key": "k2"},
                             config=types.GenerateContentConfig(temperature=0.2)),
    ], config={"display_name": "inline"})
    handle.clock.advance(100)
    done = client.batches.get(name=str(job.name))
    assert done.dest is not None and done.dest.inlined_responses is not None
    got = done.dest.inlined_responses
    assert [r.metadata for r in got] == [{"key": "k1"}, {"key": "k2"}]
    assert all(r.response is not None and r.response.text for r in got)


def test_inline_embeddings_batch(env: Any) -> None:
    handle, client = env
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        job = client.batches.create_embeddings(
            model="gemini-embedding-001",
            src=types.EmbeddingsBatchJobSource(inlined_requests=types.EmbedContentBatch(
                contents=["a", "b", "c"],
                config=types.EmbedContentConfig(output_dimensionality=8,
                                                task_type="CLUSTERING"))),
            config={"display_name": "emb"})
    handle.clock.advance(100)
    done = client.batches.get(name=str(job.name))
    assert done.dest is not None
    items = done.dest.inlined_embed_content_responses or []
    assert len(items) == 3
    assert all(i.response and i.response.embedding and
               len(i.response.embedding.values or []) == 8 for i in items)


def test_cancel_keeps_finished_rows_and_expiry_keeps_partial_output(
    env: Any, tmp_path: Path
) -> None:
    handle, client = env
    app = handle.apps["gemini"]
    name = _upload(client, tmp_path, [_line(f"r{i}", f"row {i}") for i in range(10)])
    running = client.batches.create(model="gemini-2.5-flash", src=name,
                                    config={"display_name": "cancel-me"})
    handle.clock.advance(10 + 30)  # half of the 60 s running phase
    client.batches.cancel(name=str(running.name))
    cancelled = client.batches.get(name=str(running.name))
    assert cancelled.state == types.JobState.JOB_STATE_CANCELLED
    assert [x["key"] for x in _results(client, cancelled, tmp_path)] == [
        f"r{i}" for i in range(5)]

    app.arm(expire_after=3)
    expiring = client.batches.create(model="gemini-2.5-flash", src=name,
                                     config={"display_name": "expire-me"})
    handle.clock.advance(3600)
    expired = client.batches.get(name=str(expiring.name))
    assert expired.state == types.JobState.JOB_STATE_EXPIRED
    assert [x["key"] for x in _results(client, expired, tmp_path)] == ["r0", "r1", "r2"]


def test_failed_batch_and_envelope_errors(env: Any, tmp_path: Path) -> None:
    handle, client = env
    app = handle.apps["gemini"]
    app.arm(fail="no")
    name = _upload(client, tmp_path, [_line("a", "x")])
    job = client.batches.create(model="gemini-2.5-flash", src=name, config={"display_name": "f"})
    handle.clock.advance(100)
    failed = client.batches.get(name=str(job.name))
    assert failed.state == types.JobState.JOB_STATE_FAILED and failed.dest is None
    with pytest.raises(errors.ClientError) as info:  # displayName is required
        client.batches.create(model="gemini-2.5-flash", src=name)
    assert info.value.code == 400 and "display_name" in str(info.value.message)
    with pytest.raises(errors.ClientError) as info:
        client.batches.create(model="gemini-2.5-flash", src="files/nope",
                              config={"display_name": "x"})
    assert info.value.code == 403
    with pytest.raises(errors.ClientError) as info:
        client.batches.get(name="batches/unknown")
    assert info.value.code == 404 and info.value.status == "NOT_FOUND"


def test_list_pages_newest_first_and_delete(env: Any, tmp_path: Path) -> None:
    _, client = env
    name = _upload(client, tmp_path, [_line("a", "x")])
    made = [client.batches.create(model="gemini-2.5-flash", src=name,
                                  config={"display_name": f"b{i}"}).name for i in range(5)]
    listed = [b.name for b in client.batches.list(config={"page_size": 2})]
    assert listed == list(reversed(made))
    client.batches.delete(name=str(made[0]))
    assert [b.name for b in client.batches.list(config={"page_size": 10})] == \
        list(reversed(made[1:]))


def test_api_key_is_checked(env: Any) -> None:
    handle, _ = env
    handle.apps["gemini"].api_keys = {"right"}
    wrong = genai.Client(api_key="wrong", http_options=types.HttpOptions(
        base_url=handle.base_url("gemini")))
    with pytest.raises(errors.ClientError) as info:
        list(wrong.batches.list())
    assert info.value.code == 400 and "API key not valid" in str(info.value.message)


def test_upload_protocol_checks_offsets(env: Any) -> None:
    handle, _ = env

    base = handle.base_url("gemini")
    start = httpx.post(f"{base}/upload/v1beta/files", headers={
        "x-goog-api-key": "k", "X-Goog-Upload-Protocol": "resumable",
        "X-Goog-Upload-Command": "start", "X-Goog-Upload-Header-Content-Length": "4",
        "X-Goog-Upload-Header-Content-Type": "jsonl"}, json={"file": {"mimeType": "jsonl"}})
    url = start.headers["x-goog-upload-url"]
    skip = httpx.post(url, headers={"X-Goog-Upload-Command": "upload, finalize",
                                    "X-Goog-Upload-Offset": "2"}, content=b"ab")
    assert skip.status_code == 400
    short = httpx.post(url, headers={"X-Goog-Upload-Command": "upload, finalize",
                                     "X-Goog-Upload-Offset": "0"}, content=b"ab")
    assert short.status_code == 400 and "declared 4" in short.text


def test_a_refused_chunk_is_an_sdk_error_at_once(env: Any, tmp_path: Path) -> None:
    """The SDK sees the upload error immediately instead of re-sending the chunk."""
    handle, client = env
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(_line("a", "x")) + "\n")
    app = handle.apps["gemini"]
    app.endpoint_faults.add(400, path_prefix="/upload/v1beta/files", times=1)  # the start
    with pytest.raises(errors.ClientError):
        client.files.upload(file=str(path), config={"mime_type": "jsonl"})
    session_calls = []
    original = app._take_chunk

    def refuse(request: Any) -> Any:
        session_calls.append(request)
        request.headers.replace_header("X-Goog-Upload-Offset", "99")
        return original(request)

    app._take_chunk = refuse
    with pytest.raises(errors.ClientError) as info:
        client.files.upload(file=str(path), config={"mime_type": "jsonl"})
    assert len(session_calls) == 1 and "offset 99" in str(info.value.message)
