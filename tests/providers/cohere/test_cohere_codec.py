"""The pure Cohere codec: keep/optional detection, checks, encoding, decoding and status maps."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit._exceptions import InvalidRequestError, ProviderError
from batchkit._registry import make_adapter
from batchkit._results import Result, ResultSet
from batchkit._state import JobState
from batchkit.providers.cohere.codec import (
    BATCH_STATUSES,
    EMBED_JOB_STATUSES,
    ID_FIELD,
    check_chat,
    check_embed,
    dataset_fields,
    decode_line,
    encode_chat,
    encode_embed,
    map_batch,
    map_embed_job,
)
from batchkit.testing import _spec


def _rows(*metadata: dict[str, Any]) -> list[dict[str, Any]]:
    return [orjson.loads(encode_embed(bk.EmbedRequest(custom_id=f"r{i}", text="t", metadata=m),
                                      f"r{i}"))
            for i, m in enumerate(metadata)]


# -- keep / optional detection ---------------------------------------------------------------


def test_fields_on_every_row_are_kept_and_the_rest_optional() -> None:
    rows = _rows({"title": "a", "url": "u"}, {"title": "b"}, {"title": "c", "views": 3})
    assert dataset_fields(rows) == ([ID_FIELD, "title"], ["url", "views"])


def test_a_none_value_counts_as_missing() -> None:
    rows = [{"text": "x", ID_FIELD: "a", "title": "t"}, {"text": "y", ID_FIELD: "b", "title": None}]
    assert dataset_fields(rows) == ([ID_FIELD], ["title"])


def test_the_caller_forces_fields_either_way() -> None:
    rows = _rows({"title": "a", "url": "u"}, {"title": "b", "url": "v"}, {"title": "c"})
    keep, optional = dataset_fields(rows, keep=["title"], optional=["title_missing"])
    assert keep == [ID_FIELD, "title"] and optional == ["title_missing", "url"]
    keep, optional = dataset_fields(rows, optional=["title"])
    assert keep == [ID_FIELD] and optional == ["title", "url"]


def test_a_row_missing_a_forced_keep_field_is_named() -> None:
    rows = _rows({"title": "a"}, {"title": "b"}, {"url": "no title here"})
    with pytest.raises(InvalidRequestError) as caught:
        dataset_fields(rows, keep=["title"])
    assert caught.value.custom_id == "r2" and caught.value.line == 3
    assert "'title'" in str(caught.value) and "keep_fields" in str(caught.value)


def test_check_refuses_a_request_missing_a_forced_keep_field_before_planning() -> None:
    adapter = make_adapter("cohere:embed-english-v3.0", {"keep_fields": ["url"]})
    adapter.check(bk.EmbedRequest(custom_id="ok", text="t", metadata={"url": "u"}))
    with pytest.raises(InvalidRequestError, match=r"custom_id 'no-url'.*'url'.*keep_fields"):
        adapter.check(bk.EmbedRequest(custom_id="no-url", text="t", metadata={"title": "x"}))


# -- embed checks and lines ------------------------------------------------------------------


@pytest.mark.parametrize(("request_kw", "rule"), [
    ({"params": {"truncate": "END"}}, "no per-request params"),
    ({"dimensions": 256}, "1024 dimensions, not 256"),
    ({"metadata": {"text": "clash"}}, "reserved"),
    ({"metadata": {ID_FIELD: "clash"}}, "reserved"),
    ({"metadata": {"source-url": "x"}}, "cannot be a Cohere dataset field"),
    ({"metadata": {"2nd": "x"}}, "cannot be a Cohere dataset field"),
])
def test_embed_check_rules(request_kw: dict[str, Any], rule: str) -> None:
    request = bk.EmbedRequest(custom_id="e1", text="t", **request_kw)
    with pytest.raises(InvalidRequestError, match=rule):
        check_embed(request, "embed-english-v3.0")


def test_embed_check_accepts_the_native_size_and_any_key_without_metadata() -> None:
    check_embed(bk.EmbedRequest(custom_id="a", text="t", dimensions=384),
                "embed-english-light-v3.0")
    check_embed(bk.EmbedRequest(custom_id="b", text="t", metadata={"source-url": "x"}),
                "embed-english-v3.0", send_metadata=False)
    with pytest.raises(InvalidRequestError, match="does not know"):
        check_embed(bk.EmbedRequest(custom_id="c", text="t", dimensions=8), "embed-mystery")


def test_embed_line_carries_text_id_and_typed_metadata() -> None:
    request = bk.EmbedRequest(custom_id="doc 1/ü", text="hello, \"world\"\nbye", metadata={
        "title": "T", "views": 3, "score": 0.5, "ok": True, "tags": ["a"], "gone": None})
    line = orjson.loads(encode_embed(request, "doc 1/ü"))
    assert line == {"text": "hello, \"world\"\nbye", ID_FIELD: "doc 1/ü", "title": "T",
                    "views": 3, "score": 0.5, "ok": True, "tags": '["a"]'}
    bare = orjson.loads(encode_embed(request, "doc 1/ü", send_metadata=False))
    assert bare == {"text": "hello, \"world\"\nbye", ID_FIELD: "doc 1/ü"}


def test_embed_requests_shard_by_input_type() -> None:
    adapter = make_adapter("cohere:embed-english-v3.0", {"input_type": "clustering"})
    groups = {adapter.group(bk.EmbedRequest(custom_id="a", text="t")),
              adapter.group(bk.EmbedRequest(custom_id="b", text="t", input_type="search_query")),
              adapter.group(bk.ChatRequest(custom_id="c", messages=[{"role": "user",
                                                                      "content": "hi"}]))}
    assert groups == {"embed:clustering", "embed:search_query", "chat"}


# -- chat checks and lines -------------------------------------------------------------------


class Verdict(BaseModel):
    spam: bool
    reason: str


def _chat(**kw: Any) -> bk.ChatRequest:
    return bk.ChatRequest(custom_id="c1", messages=[{"role": "user", "content": "hi"}], **kw)


@pytest.mark.parametrize(("kw", "rule"), [
    ({"temperature": 1.5}, "temperature between 0 and 1"),
    ({"top_p": 1.0}, "between 0.01 and 0.99"),
    ({"stop": list("abcdef")}, "at most 5 stop"),
    ({"seed": -1}, "seed of 0 or more"),
    ({"params": {"model": "x"}}, "must not set 'model'"),
])
def test_chat_check_rules(kw: dict[str, Any], rule: str) -> None:
    with pytest.raises(InvalidRequestError, match=rule):
        check_chat(_chat(**kw))


def test_images_only_in_user_messages() -> None:
    image = {"type": "image", "url": "https://example.com/a.png"}
    check_chat(bk.ChatRequest(custom_id="u", messages=[{"role": "user", "content": [image]}]))
    with pytest.raises(InvalidRequestError, match="only allowed in user messages"):
        check_chat(bk.ChatRequest(custom_id="s", messages=[
            {"role": "system", "content": [image]}, {"role": "user", "content": "hi"}]))


def test_chat_line_is_a_v2_chat_body_valid_under_the_vendor_schema() -> None:
    request = bk.ChatRequest(
        custom_id="c1", response_model=Verdict, max_tokens=50, temperature=0, top_p=0.5,
        stop=["END"], seed=7, params={"safety_mode": "STRICT"},
        messages=[{"role": "system", "content": "Is this spam?"},
                  {"role": "user", "content": [
                      {"type": "text", "text": "look"},
                      {"type": "image", "data": "AAAA", "media_type": "image/png"}]},
                  {"role": "assistant", "content": "ok"}, {"role": "user", "content": "go"}],
    )
    line = orjson.loads(encode_chat(request, "c1"))
    body = line["body"]
    assert line["custom_id"] == "c1" and "model" not in body
    assert body["p"] == 0.5 and body["stop_sequences"] == ["END"] and body["seed"] == 7
    assert body["response_format"] == {"type": "json_object",
                                       "json_schema": Verdict.model_json_schema()}
    assert body["messages"][1]["content"][1] == {
        "type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    assert _spec.validate("cohere", "V2ChatRequest", {**body, "model": "command-r"}) == []


# -- decode ----------------------------------------------------------------------------------


def _embed_record(**embeddings: Any) -> bytes:
    record = {"text": "t", ID_FIELD: "doc-1", "title": "T", "url": None,
              "embeddings": {"float": None, "int8": None, "uint8": None, "binary": None,
                             "ubinary": None, **embeddings}}
    return orjson.dumps(record)


def test_embed_record_gives_every_type_with_its_dtype() -> None:
    result = decode_line(_embed_record(float=[0.6, 0.8], int8=[-5, 127], uint8=[123, 255],
                                       binary=[-128], ubinary=[0]))
    assert result.custom_id == "doc-1" and result.status == "succeeded"
    assert result.metadata == {"title": "T"}
    assert result.embedding is not None and result.embedding.dtype == np.float32
    by_type = result.embeddings_by_type or {}
    assert {k: v.dtype for k, v in by_type.items()} == {
        "float": np.float32, "int8": np.int8, "uint8": np.uint8, "binary": np.int8,
        "ubinary": np.uint8}
    assert by_type["int8"].tolist() == [-5, 127] and "embeddings" not in result.raw


def test_embed_record_without_float_has_no_default_embedding() -> None:
    result = decode_line(_embed_record(int8=[1, 2]))
    assert result.embedding is None and list(result.embeddings_by_type or {}) == ["int8"]


def test_embed_record_with_no_vector_is_errored_and_without_id_is_malformed() -> None:
    empty = decode_line(_embed_record())
    assert empty.status == "errored" and empty.error is not None
    assert empty.error.code == "empty_embedding"
    with pytest.raises(ValueError, match=ID_FIELD):
        decode_line(json.dumps({"embeddings": {"float": [1.0]}}))


def test_embed_record_of_a_foreign_job_is_filed_under_its_text() -> None:
    """An embed job batchkit did not write has no id field: the record is kept under a key
    made from its text, the same for the same text only."""
    first = decode_line(json.dumps({"text": "t", "embeddings": {"float": [1.0]}}))
    again = decode_line(json.dumps({"text": "t", "embeddings": {"float": [2.0]}}))
    other = decode_line(json.dumps({"text": "u", "embeddings": {"float": [1.0]}}))
    assert first.status == "succeeded" and first.custom_id.startswith("text-sha256-")
    assert first.custom_id == again.custom_id != other.custom_id


def _chat_body(finish: str = "COMPLETE") -> dict[str, Any]:
    return {"id": "x", "finish_reason": finish,
            "message": {"role": "assistant", "content": [{"type": "text", "text": "{\"a\": 1}"}]},
            "usage": {"billed_units": {"input_tokens": 12.0, "output_tokens": 7.0},
                      "tokens": {"input_tokens": 30.0, "output_tokens": 7.0}}}


def test_chat_records_succeeded_errored_and_stringified() -> None:
    ok = decode_line(orjson.dumps({"custom_id": "a", "body": _chat_body(), "error": ""}))
    assert (ok.status, ok.text, ok.finish_reason) == ("succeeded", "{\"a\": 1}", "stop")
    assert ok.usage is not None and (ok.usage.input_tokens, ok.usage.output_tokens) == (12, 7)
    as_text = decode_line(orjson.dumps(
        {"custom_id": "a", "body": json.dumps(_chat_body("MAX_TOKENS")), "error": ""}))
    assert as_text.text == ok.text and as_text.finish_reason == "length"
    failed = decode_line(orjson.dumps({"custom_id": "b", "body": None,
                                       "error": "invalid request: bad"}))
    assert failed.status == "errored" and failed.error is not None
    assert (failed.error.code, failed.error.message) == ("request_failed", "invalid request: bad")
    timed_out = decode_line(orjson.dumps({"custom_id": "c", "body": _chat_body("TIMEOUT"),
                                          "error": ""}))
    assert timed_out.status == "errored" and timed_out.error is not None
    assert timed_out.error.retryable
    with pytest.raises(ValueError):
        decode_line(orjson.dumps({"custom_id": "d", "body": None, "error": ""}))


# -- statuses --------------------------------------------------------------------------------


def test_every_embed_job_status_maps_and_unknown_ones_raise() -> None:
    assert set(EMBED_JOB_STATUSES) == {"processing", "complete", "cancelling", "cancelled",
                                       "failed"}
    for status, state in EMBED_JOB_STATUSES.items():
        mapped = map_embed_job({"job_id": "j", "status": status})
        assert mapped.state == state and mapped.vendor_status == status
        assert bool(mapped.errors) == (state == JobState.FAILED)
    with pytest.raises(ProviderError, match="'queued'"):
        map_embed_job({"job_id": "j", "status": "queued"})


def test_batch_status_counts_and_failure_reason() -> None:
    assert BATCH_STATUSES["BATCH_STATUS_CANCELLED"] == JobState.CANCELLED
    done = map_batch({"id": "b", "status": "BATCH_STATUS_COMPLETED", "num_records": 5,
                      "num_successful_records": 4, "num_failed_records": 1})
    assert (done.state, done.total, done.succeeded, done.failed) == (JobState.COMPLETED, 5, 4, 1)
    failed = map_batch({"id": "b", "status": "BATCH_STATUS_FAILED", "status_reason": "quota"})
    assert failed.state == JobState.FAILED and failed.errors[0].message == "quota"
    assert map_batch({"id": "b"}).state == JobState.QUEUED
    with pytest.raises(ProviderError):
        map_batch({"id": "b", "status": "BATCH_STATUS_PAUSED"})


def test_result_set_gives_a_matrix_per_embedding_type() -> None:
    results = ResultSet([
        decode_line(_embed_record(float=[0.0] * 16, int8=[i] * 16, uint8=[200] * 16,
                                  binary=[-1, 2], ubinary=[255, 0]))
        for i in range(3)
    ])
    shapes = {kind: (results.embeddings(kind=kind).shape, results.embeddings(kind=kind).dtype)
              for kind in ("float", "int8", "uint8", "binary", "ubinary")}
    assert shapes == {"float": ((3, 16), np.float32), "int8": ((3, 16), np.int8),
                      "uint8": ((3, 16), np.uint8), "binary": ((3, 2), np.int8),
                      "ubinary": ((3, 2), np.uint8)}
    assert results.embeddings(kind="int8")[:, 0].tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="no 'int8'"):
        ResultSet([Result("x", "succeeded", embedding=np.zeros(2, np.float32))]).embeddings(
            kind="int8")
