"""The OpenAI batch line codec, decoding: every result-line shape (chat, Responses, embeddings,
HTTP and top-level errors, malformed lines), batch status mapping, and round-trip properties."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.providers.openai._codec_requests import FMT, chat, user

from batchkit._exceptions import ProviderError
from batchkit._requests import MAX_CUSTOM_ID_LENGTH
from batchkit._state import JobState
from batchkit.providers.openai.results import OPENAI_STATUSES, decode_line, map_status

# -- decode ----------------------------------------------------------------------------------


def _line(obj: Any) -> bytes:
    return orjson.dumps(obj)


CHAT_OK = {
    "id": "batch_req_123", "custom_id": "request-2",
    "response": {"status_code": 200, "request_id": "req_123", "body": {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1711652795,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello.",
                                             "refusal": None, "annotations": []},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 22, "completion_tokens": 2, "total_tokens": 24,
                  "prompt_tokens_details": {"cached_tokens": 8, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 1, "audio_tokens": 0}},
        "system_fingerprint": "fp_123"}},
    "error": None,
}


def test_decode_chat_success() -> None:
    r = decode_line(_line(CHAT_OK))
    assert (r.custom_id, r.status, r.text, r.finish_reason) == ("request-2", "succeeded",
                                                                "Hello.", "stop")
    assert r.usage is not None and r.usage.to_dict() == {
        "input_tokens": 22, "output_tokens": 2, "cached_input_tokens": 8,
        "cache_creation_input_tokens": 0, "reasoning_tokens": 1}
    assert r.error is None and r.raw == CHAT_OK


def test_decode_refusal_is_billed_but_has_no_text() -> None:
    line = json.loads(json.dumps(CHAT_OK))
    line["response"]["body"]["choices"][0]["message"].update(content=None,
                                                             refusal="I can't help with that.")
    r = decode_line(_line(line))
    assert r.status == "succeeded" and r.text is None
    assert r.error is not None and (r.error.code, r.error.message) == ("refusal",
                                                                       "I can't help with that.")


RESPONSES_OK = {
    "id": "batch_req_9", "custom_id": "resp-1",
    "response": {"status_code": 200, "request_id": "req_9", "body": {
        "id": "resp_1", "object": "response", "status": "completed", "model": "gpt-4o-mini",
        "output": [
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": '{"spam":', "annotations": []},
                         {"type": "output_text", "text": "true}", "annotations": []}]}],
        "incomplete_details": None,
        "usage": {"input_tokens": 30, "input_tokens_details": {"cached_tokens": 4},
                  "output_tokens": 12, "output_tokens_details": {"reasoning_tokens": 5},
                  "total_tokens": 42}}},
    "error": None,
}


def test_decode_responses_success_and_incomplete() -> None:
    r = decode_line(_line(RESPONSES_OK))
    assert (r.status, r.text, r.finish_reason) == ("succeeded", '{"spam":true}', "stop")
    assert r.usage is not None
    assert (r.usage.input_tokens, r.usage.output_tokens, r.usage.cached_input_tokens,
            r.usage.reasoning_tokens) == (30, 12, 4, 5)
    line = json.loads(json.dumps(RESPONSES_OK))
    line["response"]["body"].update(status="incomplete",
                                    incomplete_details={"reason": "max_output_tokens"})
    assert decode_line(_line(line)).finish_reason == "length"


def test_decode_responses_failed_body_is_errored() -> None:
    line = json.loads(json.dumps(RESPONSES_OK))
    line["response"]["body"].update(status="failed", output=[],
                                    error={"code": "server_error", "message": "boom"})
    r = decode_line(_line(line))
    assert r.status == "errored" and r.error is not None
    assert (r.error.code, r.error.message, r.error.retryable) == ("server_error", "boom", True)


def _embedding_line(vector: Any) -> dict[str, Any]:
    return {"id": "batch_req_e", "custom_id": "doc-1", "error": None,
            "response": {"status_code": 200, "request_id": "req_e", "body": {
                "object": "list", "model": "text-embedding-3-small",
                "data": [{"object": "embedding", "index": 0, "embedding": vector}],
                "usage": {"prompt_tokens": 5, "total_tokens": 5}}}}


def test_decode_embedding_float_and_base64() -> None:
    values = np.array([0.25, -1.5, 3.0e-8, 7.0], dtype=np.float32)
    as_list = decode_line(_line(_embedding_line(values.tolist())))
    as_b64 = decode_line(_line(_embedding_line(
        base64.b64encode(values.astype("<f4").tobytes()).decode())))
    for r in (as_list, as_b64):
        assert r.status == "succeeded" and r.embedding is not None
        assert r.embedding.dtype == np.float32
        np.testing.assert_array_equal(r.embedding, values)
        assert r.usage is not None and (r.usage.input_tokens, r.usage.output_tokens) == (5, 0)
        assert "embedding" not in r.raw["response"]["body"]["data"][0]  # vectors not kept twice
        assert r.raw["response"]["body"]["data"][0]["index"] == 0


HTTP_ERROR = {
    "id": "batch_req_456", "custom_id": "request-3",
    "response": {"status_code": 400, "request_id": "req_456", "body": {"error": {
        "message": "This model's maximum context length is 128000 tokens.",
        "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}},
    "error": None,
}


def test_decode_http_error_row() -> None:
    r = decode_line(_line(HTTP_ERROR))
    assert (r.custom_id, r.status) == ("request-3", "errored")
    assert r.error is not None
    assert r.error.to_dict() == {
        "code": "context_length_exceeded",
        "message": "This model's maximum context length is 128000 tokens.",
        "retryable": False, "http_status": 400}


@pytest.mark.parametrize(("status", "body", "code", "retryable"), [
    (429, {"error": {"message": "slow down", "type": "requests", "param": None,
                     "code": "rate_limit_exceeded"}}, "rate_limit_exceeded", True),
    (500, {"error": {"message": "oops", "type": "server_error", "param": None, "code": None}},
     "server_error", True),
    (408, {"error": {"message": "timeout", "type": None, "code": None}}, "http_408", True),
    (404, {"error": {"message": "no model", "type": "invalid_request_error",
                     "code": "model_not_found"}}, "model_not_found", False),
    (502, "Bad Gateway", "http_502", True),
    (503, None, "http_503", True),
])
def test_decode_http_error_shapes(status: int, body: Any, code: str, retryable: bool) -> None:
    r = decode_line(_line({"id": "x", "custom_id": "c",
                           "response": {"status_code": status, "body": body}, "error": None}))
    assert r.status == "errored" and r.error is not None
    assert (r.error.code, r.error.retryable, r.error.http_status) == (code, retryable, status)


@pytest.mark.parametrize(("code", "status", "retryable"), [
    ("batch_expired", "expired", True),
    ("batch_cancelled", "cancelled", False),
    ("invalid_json_line", "errored", False),
    ("server_error", "errored", True),
])
def test_decode_top_level_errors(code: str, status: str, retryable: bool) -> None:
    r = decode_line(_line({"id": "batch_req_1", "custom_id": "c", "response": None,
                           "error": {"code": code, "message": "m"}}))
    assert r.status == status and r.error is not None
    assert (r.error.code, r.error.message, r.error.retryable) == (code, "m", retryable)
    assert r.error.http_status is None


@pytest.mark.parametrize("line", [
    b"not json",
    b"[1, 2]",
    b'{"response": null, "error": {"code": "x"}}',
    b'{"custom_id": 5, "error": {"code": "x"}}',
    b'{"custom_id": "c", "response": null, "error": null}',
    b'{"custom_id": "c", "response": {"status_code": "200", "body": {}}, "error": null}',
    b'{"custom_id": "c", "error": "boom"}',
    b'{"custom_id": "c", "response": {"status_code": 200, "body": null}}',
    b'{"custom_id": "c", "response": {"status_code": 200, "body": {"choices": []}}}',
    b'{"custom_id": "c", "response": {"status_code": 200, "body": {"object": "mystery"}}}',
    b'{"custom_id": "c", "response": {"status_code": 200, "body": {"data": [{"embedding": 1}]}}}',
    b'{"custom_id": "c", "response": {"status_code": 200, "body": {"data": '
    b'[{"embedding": [1]}, {"embedding": [2]}]}}}',
])
def test_malformed_lines_raise_value_error(line: bytes) -> None:
    with pytest.raises(ValueError):
        decode_line(line)


# -- status ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("vendor", "state"), [
    ("validating", JobState.VALIDATING), ("in_progress", JobState.RUNNING),
    ("finalizing", JobState.FINALIZING), ("completed", JobState.COMPLETED),
    ("failed", JobState.FAILED), ("expired", JobState.EXPIRED),
    ("cancelling", JobState.CANCELLING), ("cancelled", JobState.CANCELLED),
])
def test_map_every_status(vendor: str, state: JobState) -> None:
    s = map_status({"id": "batch_1", "status": vendor,
                    "request_counts": {"total": 10, "completed": 8, "failed": 2}})
    assert (s.state, s.vendor_status, s.total, s.succeeded, s.failed) == (state, vendor, 10, 8, 2)
    assert s.errors == ()


def test_map_failed_batch_errors() -> None:
    batch = {"id": "batch_1", "object": "batch", "status": "failed",
             "request_counts": {"total": 0, "completed": 0, "failed": 0},
             "errors": {"object": "list", "data": [
                 {"code": "duplicate_custom_id", "message": "dup", "param": "custom_id",
                  "line": 3},
                 {"code": "invalid_json_line", "message": "bad", "param": None, "line": None}]}}
    s = map_status(batch)
    assert [(e.line, e.code, e.message) for e in s.errors] == [
        (3, "duplicate_custom_id", "dup"), (None, "invalid_json_line", "bad")]
    assert s.raw == batch


def test_unknown_status_is_an_error_not_a_default() -> None:
    with pytest.raises(ProviderError, match="'paused'"):
        map_status({"id": "batch_1", "status": "paused"})
    with pytest.raises(ProviderError, match="None"):
        map_status({"id": "batch_1"})
    extended = {**OPENAI_STATUSES, "CANCELING": JobState.CANCELLING}
    assert map_status({"status": "CANCELING"}, extended).state is JobState.CANCELLING


# -- properties ------------------------------------------------------------------------------


def _emulated_reply(request_line: bytes, text: str) -> bytes:
    """What the batch service writes back for a request line: same custom_id, a chat body."""
    sent = orjson.loads(request_line)
    reply = json.loads(json.dumps(CHAT_OK))
    reply["custom_id"] = sent["custom_id"]
    reply["response"]["body"]["choices"][0]["message"]["content"] = text
    return orjson.dumps(reply)


@settings(max_examples=200, deadline=None)
@given(cid=st.text(min_size=1, max_size=MAX_CUSTOM_ID_LENGTH), text=st.text())
def test_any_custom_id_and_text_survive_the_round_trip(cid: str, text: str) -> None:
    line = FMT.encode(chat(custom_id=cid, messages=[user(text or "x")]), cid)
    r = decode_line(_emulated_reply(line, text))
    assert (r.custom_id, r.text) == (cid, text)


_json_text = st.one_of(st.none(), st.text(max_size=40))


@settings(max_examples=200, deadline=None)
@given(status=st.integers(300, 599), code=_json_text, message=_json_text, type_=_json_text,
       param=_json_text, cid=st.text(min_size=1, max_size=40))
def test_decode_never_raises_on_a_well_formed_http_error_row(
    status: int, code: str | None, message: str | None, type_: str | None, param: str | None,
    cid: str,
) -> None:
    error = {"message": message, "type": type_, "param": param, "code": code}
    r = decode_line(_line({"id": "batch_req_1", "custom_id": cid, "error": None,
                           "response": {"status_code": status, "body": {"error": error}}}))
    assert r.status == "errored" and r.custom_id == cid and r.error is not None
    assert r.error.http_status == status
    assert r.error.code == (code or type_ or f"http_{status}")
    assert r.error.retryable == (status in (408, 409, 429) or status >= 500)


@settings(max_examples=100, deadline=None)
@given(code=st.text(min_size=1, max_size=30), message=_json_text)
def test_decode_never_raises_on_a_well_formed_top_level_error(code: str,
                                                              message: str | None) -> None:
    r = decode_line(_line({"id": "b", "custom_id": "c", "response": None,
                           "error": {"code": code, "message": message}}))
    expected = {"batch_expired": "expired", "batch_cancelled": "cancelled"}.get(code, "errored")
    assert r.status == expected and r.error is not None and r.error.code == code


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False),
                min_size=1, max_size=64))
def test_base64_and_float_embeddings_decode_identically(values: list[float]) -> None:
    vector = np.array(values, dtype=np.float32)
    encoded = base64.b64encode(vector.astype("<f4").tobytes()).decode()
    from_b64 = decode_line(_line(_embedding_line(encoded))).embedding
    from_list = decode_line(_line(_embedding_line(vector.tolist()))).embedding
    assert from_b64 is not None and from_list is not None
    np.testing.assert_array_equal(from_b64, vector)
    np.testing.assert_array_equal(from_list, vector)
