"""The Together adapter's pure half, offline: ``{custom_id, body}`` lines, ids within 64
characters, the status table and progress, and every result-row shape Together writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit._exceptions import InvalidRequestError, ProviderError
from batchkit._registry import make_adapter
from batchkit._state import JobState
from batchkit.providers.openai.results import map_status
from batchkit.providers.together.codec import MAX_ID_CHARS, TOGETHER_STATUSES, vendor_id
from batchkit.testing import _spec


class Label(BaseModel):
    spam: bool


def test_lines_are_custom_id_and_body_with_max_tokens(tmp_path: Path) -> None:
    requests = [bk.ChatRequest(custom_id=f"t{i}", max_tokens=64, stop=["END"],
                               response_model=Label,
                               messages=[{"role": "user", "content": "classify"}])
                for i in range(2)]
    (path,) = bk.encode(requests, "together:openai/gpt-oss-20b", tmp_path)
    lines = [json.loads(text) for text in path.read_text().splitlines()]
    assert [sorted(line) for line in lines] == [["body", "custom_id"]] * 2
    body = lines[0]["body"]
    assert body["model"] == "openai/gpt-oss-20b" and body["max_tokens"] == 64
    assert "max_completion_tokens" not in body
    assert body["response_format"]["json_schema"]["strict"] is False
    assert _spec.validate("openai", "CreateChatCompletionRequest", body) == []


def test_ids_longer_than_64_characters_are_mapped_deterministically() -> None:
    short, long_a, long_b = "ok-id", "x" * 65 + "a", "x" * 65 + "b"
    assert vendor_id(short) == short
    mapped = {vendor_id(long_a), vendor_id(long_b)}
    assert len(mapped) == 2 and all(len(v) <= MAX_ID_CHARS for v in mapped)
    assert vendor_id(long_a) == vendor_id(long_a)
    assert vendor_id("bk--x") != "bk--x"  # the escape prefix itself is escaped


def test_a_line_over_10_mb_is_refused_naming_the_request(tmp_path: Path) -> None:
    huge = bk.ChatRequest(custom_id="huge", messages=[{"role": "user",
                                                       "content": "x" * 10_100_000}])
    with pytest.raises(InvalidRequestError, match=r"huge.*10,000,000 bytes"):
        bk.encode([huge], "together:openai/gpt-oss-20b", tmp_path)


def test_embeddings_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match="Together batches take chat requests only"):
        make_adapter("together:m").check(bk.EmbedRequest(custom_id="d", text="x"))


@pytest.mark.parametrize(("status", "state"), [
    ("VALIDATING", JobState.VALIDATING), ("IN_PROGRESS", JobState.RUNNING),
    ("COMPLETED", JobState.COMPLETED), ("FAILED", JobState.FAILED),
    ("EXPIRED", JobState.EXPIRED), ("CANCELING", JobState.CANCELLING),
    ("CANCELLED", JobState.CANCELLED),
])
def test_every_together_status_maps_and_progress_is_not_turned_into_counts(
        status: str, state: JobState) -> None:
    job = {"id": "b1", "status": status, "progress": 40.0,
           "created_at": "2026-09-02T17:39:12Z"}
    mapped = map_status(job, TOGETHER_STATUSES)
    assert (mapped.state, mapped.vendor_status) == (state, status)
    assert (mapped.total, mapped.succeeded, mapped.failed) == (None, None, None)
    assert mapped.raw["progress"] == 40.0


def test_an_unknown_status_is_an_error_not_a_guess() -> None:
    with pytest.raises(ProviderError, match="'PAUSED'"):
        map_status({"id": "b1", "status": "PAUSED"}, TOGETHER_STATUSES)


def test_a_failed_jobs_error_string_becomes_its_error() -> None:
    job = {"id": "b1", "status": "FAILED",
           "error": "Invalid model ID: Unable to access non-serverless model x"}
    (error,) = map_status(job, TOGETHER_STATUSES).errors
    assert (error.line, error.code) == (None, "batch_failed")
    assert "non-serverless" in error.message


def test_output_and_batch_client_error_rows_decode() -> None:
    adapter = make_adapter("together:openai/gpt-oss-20b")
    ok = adapter.decode(json.dumps({"id": "br_1", "custom_id": "a", "response": {
        "status_code": 200, "body": {
            "id": "x", "object": "chat.completion", "model": "openai/gpt-oss-20b",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "1", "tool_calls": []}}],
            "usage": {"prompt_tokens": 73, "completion_tokens": 42, "total_tokens": 115,
                      "reasoning_tokens": 30}}}}).encode())
    assert (ok.status, ok.text) == ("succeeded", "1")
    assert ok.usage is not None and (ok.usage.input_tokens, ok.usage.reasoning_tokens) == (73, 30)
    bad = adapter.decode(json.dumps({"id": "br_2", "custom_id": "b", "error": {
        "code": "batch_client_error", "message": "Unable to access model nonexistent"}}).encode())
    assert (bad.custom_id, bad.status) == ("b", "errored")
    assert bad.error is not None and bad.error.code == "batch_client_error"
    assert "nonexistent" in bad.error.message and not bad.error.retryable
