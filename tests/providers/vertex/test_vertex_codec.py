"""The Vertex AI codec offline: ids as label values, input lines checked with the SDK's own
proto types, every output row shape, and the job-state table."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from google.cloud import aiplatform_v1
from google.protobuf import json_format
from pydantic import BaseModel

import batchkit as bk
from batchkit._state import JobState
from batchkit.providers.vertex.adapter import VertexAdapter
from batchkit.providers.vertex.codec import (
    ID_LABEL,
    KEY_FIELD,
    decode_line,
    map_status,
    vendor_id,
)

LABEL = re.compile(r"^[a-z0-9_-]{1,63}$")


class Answer(BaseModel):
    label: str
    score: float


def _chat(cid: str = "c1", **kw: Any) -> bk.ChatRequest:
    return bk.ChatRequest(custom_id=cid, messages=[
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"}, {"role": "user", "content": "again"}], **kw)


def _line(adapter: VertexAdapter, request: bk.ChatRequest | bk.EmbedRequest) -> dict[str, Any]:
    adapter.check(request)
    return dict(json.loads(adapter.encode(request, adapter.vendor_id(request.custom_id))))


@pytest.mark.parametrize("cid", ["mail-1", "a_b-c", "x" * 63])
def test_label_safe_ids_are_sent_unchanged(cid: str) -> None:
    assert vendor_id(cid) == cid


@pytest.mark.parametrize("cid", ["Mail-1", "mail 1", "ü", "x" * 64, "a/b", "bk--x", "", "A" * 512])
def test_other_ids_become_distinct_label_values(cid: str) -> None:
    vid = vendor_id(cid)
    assert LABEL.match(vid) and vid.startswith("bk--") and vid == vendor_id(cid)


def test_escaped_ids_never_collide_with_each_other_or_with_kept_ids() -> None:
    ids = ["Mail-1", "mail-1", "MAIL-1", "mail 1", "mail_1", "bk--mail_1", "Ä", "ä"]
    assert len({vendor_id(c) for c in ids}) == len(ids)


def test_chat_line_is_a_valid_generate_content_request_carrying_the_id_in_labels() -> None:
    adapter = VertexAdapter("gemini-2.5-flash")
    line = _line(adapter, _chat("Row 7/ü", response_model=Answer, max_tokens=64, temperature=0,
                                params={"labels": {"team": "search"}}))
    assert list(line) == ["request"]
    request = line["request"]
    json_format.ParseDict(request, aiplatform_v1.GenerateContentRequest.pb()())  # no ParseError
    assert request["labels"] == {"team": "search", ID_LABEL: vendor_id("Row 7/ü")}
    assert [c["role"] for c in request["contents"]] == ["user", "model", "user"]
    assert request["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    config = request["generationConfig"]
    assert config["maxOutputTokens"] == 64 and config["responseMimeType"] == "application/json"
    assert set(config["responseJsonSchema"]["properties"]) == {"label", "score"}


def test_embedding_line_is_an_instance_with_the_key_field() -> None:
    adapter = VertexAdapter("text-embedding-005")
    line = _line(adapter, bk.EmbedRequest(custom_id="Doc 1", text="some text",
                                          input_type="search_document",
                                          params={"title": "A title"}))
    assert line == {"content": "some text", "task_type": "RETRIEVAL_DOCUMENT",
                    "title": "A title", KEY_FIELD: vendor_id("Doc 1")}


@pytest.mark.parametrize(("model", "request_", "rule"), [
    ("text-embedding-005", _chat(), "is an embedding model"),
    ("gemini-2.5-flash", bk.EmbedRequest(custom_id="e", text="t"), "does not embed"),
    ("gemini-embedding-001", bk.EmbedRequest(custom_id="e", text="t"), "no batch prediction"),
    ("gemini-2.5-flash", _chat(params={"labels": {ID_LABEL: "x"}}), "params.labels"),
    ("gemini-2.5-flash", _chat(params={"labels": ["x"]}), "params.labels"),
    ("text-embedding-005", bk.EmbedRequest(custom_id="e", text="t", params={KEY_FIELD: "x"}),
     KEY_FIELD),
    ("gemini-2.5-flash", _chat(stop=["a", "b", "c", "d", "e", "f"]), "stop sequences"),
    ("gemini-2.5-flash", _chat(params={"cachedContent": "projects/p/cachedContents/1"}),
     "explicit context caching"),
    ("text-embedding-005", bk.EmbedRequest(custom_id="e", text="t", dimensions=769),
     "at most 768"),
])
def test_check_refuses_what_the_job_could_not_run(model: str, request_: Any, rule: str) -> None:
    with pytest.raises(bk.InvalidRequestError, match=rule) as info:
        VertexAdapter(model).check(request_)
    assert info.value.custom_id == request_.custom_id
    assert "\n" not in str(info.value)


def test_limits_and_groups() -> None:
    adapter = VertexAdapter("text-embedding-005")
    assert adapter.limits("chat").max_requests == 200_000
    assert adapter.limits("chat").max_bytes == 1_000_000_000
    assert adapter.limits("embed-64").max_requests == 30_000
    assert adapter.group(bk.EmbedRequest(custom_id="a", text="t", dimensions=64)) == "embed-64"
    assert adapter.group(bk.EmbedRequest(custom_id="a", text="t")) == "embed"
    assert adapter.group(_chat()) == "chat"


# -- decode ----------------------------------------------------------------------------------


def _response(text: str, finish: str = "STOP") -> dict[str, Any]:
    return {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                            "finishReason": finish}],
            "usageMetadata": {"promptTokenCount": 11, "candidatesTokenCount": 5,
                              "thoughtsTokenCount": 2, "totalTokenCount": 18}}


def _row(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def test_decode_a_successful_chat_row() -> None:
    request = {"contents": [], "labels": {ID_LABEL: "vid-1"}}
    result = decode_line(_row(status="", processed_time="2024-11-01T18:13:16.826+00:00",
                              request=request, response=_response('{"a": 1}', "MAX_TOKENS")))
    assert (result.custom_id, result.status, result.text) == ("vid-1", "succeeded", '{"a": 1}')
    assert result.finish_reason == "length"
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens) == (11, 7)
    assert result.raw["request"] == request


def test_decode_a_failed_chat_row_reads_the_error_out_of_the_status_text() -> None:
    status = ('Bad Request: {"error": {"code": 400, "message": "Please use a valid role: '
              'user, model.", "status": "INVALID_ARGUMENT"}}')
    result = decode_line(_row(status=status, request={"labels": {ID_LABEL: "v"}}, response={}))
    assert result.status == "errored" and result.error is not None
    assert (result.error.code, result.error.http_status, result.error.retryable) == (
        "invalid_argument", 400, False)
    assert result.error.message == "Please use a valid role: user, model."


def test_decode_a_failed_row_whose_status_is_plain_text() -> None:
    result = decode_line(_row(status="Internal error", request={"labels": {ID_LABEL: "v"}}))
    assert result.status == "errored" and result.error is not None
    assert result.error.message == "Internal error"


def test_decode_embedding_rows_by_key_or_by_echoed_instance() -> None:
    prediction = {"embeddings": {"statistics": {"token_count": 8, "truncated": False},
                                 "values": [0.6, 0.8]}}
    by_key = decode_line(_row(key="d1", predictions=[prediction], status=""))
    by_instance = decode_line(_row(instance={"content": "x", KEY_FIELD: "d2"},
                                   predictions=[prediction], status=""))
    for result, vid in ((by_key, "d1"), (by_instance, "d2")):
        assert result.custom_id == vid and result.status == "succeeded"
        assert result.embedding is not None and result.embedding.dtype == np.float32
        assert np.allclose(result.embedding, [0.6, 0.8])
        assert result.usage is not None and result.usage.input_tokens == 8
    failed = decode_line(_row(key="d3", status='Too Many Requests: {"error": {"code": 429, '
                                                '"message": "slow down"}}'))
    assert failed.status == "errored" and failed.error and failed.error.retryable
    empty = decode_line(_row(key="d4", predictions=[], status=""))
    assert empty.status == "errored" and empty.error and empty.error.code == "no_embedding"


@pytest.mark.parametrize("line", [b"not json", b"[1]", _row(status="", response={}),
                                  _row(predictions=[], status="")])
def test_rows_that_are_not_prediction_rows_are_not_decodable(line: bytes) -> None:
    with pytest.raises(ValueError):
        decode_line(line)


def test_a_row_without_batchkit_label_is_filed_under_its_request() -> None:
    """A job batchkit did not write: the row's request has no id label, so the row is kept
    under a key made from the echoed request (the same key with or without the id label)."""
    echo = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "labels": {"team": "x"}}
    foreign = decode_line(_row(request=echo, status="", response={}))
    labelled = decode_line(_row(request={**echo, "labels": {"team": "x", "batchkit_id": "r1"}},
                                status="", response={}))
    assert labelled.custom_id == "r1"
    assert foreign.custom_id.startswith("request-sha256-") and foreign.raw["request"] == echo
    other = decode_line(_row(request={**echo, "labels": {}}, status="", response={}))
    assert other.custom_id not in (foreign.custom_id, "r1")


# -- status ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "want"), [
    ("JOB_STATE_QUEUED", JobState.QUEUED), ("JOB_STATE_PENDING", JobState.QUEUED),
    ("JOB_STATE_RUNNING", JobState.RUNNING), ("JOB_STATE_UPDATING", JobState.RUNNING),
    ("JOB_STATE_PAUSED", JobState.RUNNING), ("JOB_STATE_SUCCEEDED", JobState.COMPLETED),
    ("JOB_STATE_PARTIALLY_SUCCEEDED", JobState.COMPLETED), ("JOB_STATE_FAILED", JobState.FAILED),
    ("JOB_STATE_CANCELLING", JobState.CANCELLING), ("JOB_STATE_CANCELLED", JobState.CANCELLED),
    ("JOB_STATE_EXPIRED", JobState.EXPIRED),
])
def test_every_job_state_maps(state: str, want: JobState) -> None:
    assert map_status({"name": "j", "state": state}).state == want
    assert state in aiplatform_v1.JobState.__members__  # the SDK knows the name too


def test_every_sdk_job_state_but_unspecified_is_mapped() -> None:
    for name in aiplatform_v1.JobState.__members__:
        if name != "JOB_STATE_UNSPECIFIED":
            assert map_status({"state": name}).vendor_status == name


@pytest.mark.parametrize("state", ["JOB_STATE_UNSPECIFIED", "JOB_STATE_NEW", None])
def test_unknown_states_are_refused(state: str | None) -> None:
    with pytest.raises(bk.ProviderError, match="does not know"):
        map_status({"name": "projects/1/locations/l/batchPredictionJobs/2", "state": state})


def test_counts_and_the_error_of_a_failed_job() -> None:
    status = map_status({"state": "JOB_STATE_FAILED", "error": {"code": 13, "message": "boom"},
                         "completionStats": {"successfulCount": "7", "failedCount": "2",
                                             "incompleteCount": "1"}})
    assert (status.total, status.succeeded, status.failed) == (10, 7, 3)
    assert [(e.line, e.code, e.message) for e in status.errors] == [(None, "internal", "boom")]
    running = map_status({"state": "JOB_STATE_RUNNING"})
    assert (running.total, running.errors) == (None, ())


def test_offline_encode_then_decode_of_a_vertex_output_file(tmp_path: Any) -> None:
    """bk.encode writes the lines Vertex takes; bk.decode joins an output file (rows in any
    order, one failed) back to the requests, in input order, with no network."""
    requests = [_chat(f"Q {i}", response_model=Answer) for i in range(3)]
    files = bk.encode(requests, provider="vertex:gemini-2.5-flash", path=tmp_path / "in")
    lines = [json.loads(x) for f in files for x in Path(f).read_text().splitlines()]
    assert [x["request"]["labels"][ID_LABEL] for x in lines] == [vendor_id(f"Q {i}")
                                                                 for i in range(3)]
    rows = [
        {"status": "", "request": lines[2]["request"],
         "response": _response('{"label": "c", "score": 0.5}')},
        {"status": 'Bad Request: {"error": {"code": 400, "message": "no", '
                   '"status": "INVALID_ARGUMENT"}}', "request": lines[0]["request"],
         "response": {}},
    ]
    output = tmp_path / "predictions.jsonl"
    output.write_text("".join(json.dumps(r) + "\n" for r in rows))
    results = bk.decode(output, provider="vertex:gemini-2.5-flash", requests=requests)
    assert [r.custom_id for r in results] == ["Q 0", "Q 1", "Q 2"]
    assert [r.status for r in results] == ["errored", "errored", "succeeded"]
    assert results[1].error is not None and results[1].error.code == "missing_result"
    assert results[2].parsed == Answer(label="c", score=0.5)
