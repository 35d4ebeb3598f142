"""The Mistral codec, offline: lines checked against Mistral's spec and SDK, every decode shape,
the status table, and the rules ``check()`` enforces before anything is sent."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import numpy as np
import orjson
import pytest
from mistralai.client.models import BatchJob, BatchRequest
from mistralai.extra.utils.response_format import response_format_from_pydantic_model
from pydantic import BaseModel, ConfigDict

import batchkit as bk
from batchkit._exceptions import InvalidRequestError, ProviderError
from batchkit._state import JobState
from batchkit.providers.mistral.codec import (
    CHAT_FIELDS,
    EMBED_FIELDS,
    MISTRAL_STATUSES,
    check_request,
    decode_line,
    encode_line,
    map_status,
    request_body,
    response_format,
)
from batchkit.testing import _spec


class Ticket(BaseModel):
    category: str
    urgent: bool
    tags: list[str] = []


class Address(BaseModel):
    street: str
    city: str | None = None


class Customer(BaseModel):
    name: str
    addresses: list[Address]


class Loose(BaseModel):
    name: str
    scores: dict[str, float]


class Extra(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str


def chat(**kw: Any) -> bk.ChatRequest:
    kw.setdefault("custom_id", "r1")
    kw.setdefault("messages", [{"role": "user", "content": "hi"}])
    return bk.ChatRequest(**kw)


# -- encode ----------------------------------------------------------------------------------


def test_minimal_chat_line_is_exact_bytes() -> None:
    assert encode_line(chat(), "r1") == (
        b'{"custom_id":"r1","body":{"messages":[{"role":"user","content":"hi"}]}}'
    )


def test_every_chat_field_lands_in_a_body_the_spec_accepts() -> None:
    request = chat(
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "https://x.test/a.png",
                                                    "detail": "low"}},
                {"type": "image", "data": "aGk=", "media_type": "image/png"},
            ]},
            {"role": "assistant", "content": "a cat"},
            {"role": "user", "content": "sure?"},
        ],
        response_model=Ticket, max_tokens=64, temperature=0.3, top_p=0.9, stop=["END"], seed=7,
        params={"safe_prompt": True, "presence_penalty": 0.5}, metadata={"row": 1},
    )
    line = orjson.loads(encode_line(request, "r1"))
    body = line["body"]
    assert set(line) == {"custom_id", "body"}  # no method/url: the job names the endpoint
    assert "model" not in body  # the job names the model
    assert (body["max_tokens"], body["random_seed"], body["stop"]) == (64, 7, ["END"])
    assert "seed" not in body and "max_completion_tokens" not in body and "metadata" not in body
    assert body["messages"][1]["content"][1] == {
        "type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "low"}}
    assert body["messages"][1]["content"][2]["image_url"]["url"] == "data:image/png;base64,aGk="
    assert body["safe_prompt"] is True
    assert _spec.validate("mistral", "ChatCompletionRequest",
                          {"model": "mistral-small-latest", **body}) == []
    BatchRequest.model_validate(line)  # and the SDK's own line type takes it


def test_embedding_line_uses_output_dimension_and_drops_input_type() -> None:
    request = bk.EmbedRequest(custom_id="d1", text="chunk", dimensions=256,
                              input_type="search_query", params={"encoding_format": "base64"})
    body = request_body(request)
    assert body == {"input": "chunk", "output_dimension": 256, "encoding_format": "base64"}
    assert _spec.validate("mistral", "EmbeddingRequest", {"model": "codestral-embed", **body}) \
        == []


def test_field_lists_match_the_spec() -> None:
    assert _spec.property_names("mistral", "ChatCompletionRequest") == CHAT_FIELDS
    assert _spec.property_names("mistral", "EmbeddingRequest") == EMBED_FIELDS


@pytest.mark.parametrize("model", [Ticket, Customer])
def test_response_format_is_what_the_sdk_builds(model: type[BaseModel]) -> None:
    """Same dict as ``mistralai``'s own ``response_format_from_pydantic_model``."""
    assert response_format(model) == response_format_from_pydantic_model(model)
    schema = response_format(model)["json_schema"]["schema"]
    assert schema["additionalProperties"] is False
    assert _spec.validate("mistral", "ChatCompletionRequest", {
        "model": "m", "messages": [{"role": "user", "content": "x"}],
        "response_format": response_format(model)}) == []


# -- check -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("request_", "rule"), [
    (chat(params={"max_completion_tokens": 5}), "use max_tokens="),
    (chat(params={"seed": 5}), "use seed="),
    (chat(params={"logprobs": True}), "request field; scope it to its vendor"),
    (chat(params={"mistral": {"logprobs": True}}), "refuses unknown fields"),
    (chat(params={"model": "x"}), "choose it in the provider string"),
    (chat(params={"stream": True}), "reject 'stream'"),
    (chat(reasoning=2048), "not a token budget"),
    (chat(messages=[{"role": "user", "content": [
        {"type": "document", "file_id": "file-abc"}]}]), "(a UUID)"),
    (chat(temperature=1.8), "temperature up to 1.5"),
    (chat(seed=-1), "random_seed must be >= 0"),
    (chat(messages=[{"role": "system", "content": [
        {"type": "image", "url": "https://x.test/a.png"}]},
        {"role": "user", "content": "hi"}]), "system messages take text only"),
    (chat(response_model=Loose), "field $.scores is a free-form dict"),
    (chat(response_model=Extra), "field $ is a free-form dict"),
    (bk.EmbedRequest(custom_id="r1", text="t", params={"dimensions": 8}), "use dimensions="),
    (bk.EmbedRequest(custom_id="r1", text="t", params={"input": ["a"]}), "one EmbedRequest"),
])
def test_check_refuses_with_a_one_line_rule(request_: bk.ChatRequest, rule: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        check_request(request_)
    message = str(info.value)
    assert message.startswith("custom_id 'r1': ") and rule in message and "\n" not in message


def test_check_accepts_what_mistral_takes() -> None:
    check_request(chat(temperature=1.5, seed=0, response_model=Customer,
                       params={"n": 1, "safe_prompt": True, "tool_choice": "none"}))
    check_request(bk.EmbedRequest(custom_id="e", text="t", params={"output_dtype": "float"}))


# -- decode ----------------------------------------------------------------------------------


def _line(body: dict[str, Any], status: int = 200, **extra: Any) -> bytes:
    return orjson.dumps({"id": "batch-1", "custom_id": "c1",
                         "response": {"status_code": status, "body": body}, "error": None,
                         **extra})


def test_docs_result_line_decodes() -> None:
    """The result line of Mistral's structured-output batch docs, verbatim in shape."""
    line = _line({
        "id": "bf1b188307c2437587de243f5f715663", "object": "chat.completion",
        "model": "ministral-3b-latest",
        "usage": {"prompt_tokens": 10, "completion_tokens": 7, "total_tokens": 17},
        "created": 1761577783,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": '{"result": 2}',
                                 "tool_calls": None}}],
    })
    result = decode_line(line)
    assert (result.custom_id, result.status, result.text) == ("c1", "succeeded", '{"result": 2}')
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens) == (10, 7)


def test_model_length_is_reported_as_length() -> None:
    body = {"id": "x", "object": "chat.completion", "model": "m", "created": 1,
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            "choices": [{"index": 0, "finish_reason": "model_length",
                         "message": {"role": "assistant", "content": "cut"}}]}
    assert decode_line(_line(body)).finish_reason == "length"


def test_base64_embedding_decodes_to_float32() -> None:
    vector = [0.6, 0.8, 0.0]
    packed = base64.b64encode(struct.pack("<3f", *vector)).decode()
    body = {"id": "e", "object": "list", "model": "mistral-embed",
            "data": [{"object": "embedding", "embedding": packed, "index": 0}],
            "usage": {"prompt_tokens": 2, "completion_tokens": 0, "total_tokens": 2}}
    result = decode_line(_line(body))
    assert result.embedding is not None and result.embedding.dtype == np.float32
    assert np.allclose(result.embedding, vector)


def test_validation_error_row_reads_the_detail_list() -> None:
    body = {"object": "error", "message": {"detail": [
        {"type": "extra_forbidden", "loc": ["body", "max_completion_tokens"],
         "msg": "Extra inputs are not permitted", "input": 5}]},
        "type": "invalid_request_error", "param": None, "code": None}
    result = decode_line(_line(body, 422))
    assert result.status == "errored" and result.error is not None
    assert result.error.code == "invalid_request_error" and result.error.http_status == 422
    assert result.error.message == "body.max_completion_tokens: Extra inputs are not permitted"
    assert result.error.retryable is False


def test_rate_limited_row_is_retryable_and_keeps_mistral_type() -> None:
    body = {"object": "error", "message": "Requests rate limit exceeded",
            "type": "rate_limited", "param": None, "code": "1300"}
    result = decode_line(_line(body, 429))
    assert result.error is not None
    assert (result.error.code, result.error.message, result.error.retryable) == (
        "rate_limited", "Requests rate limit exceeded", True)


@pytest.mark.parametrize(("error", "code", "message"), [
    ("model overloaded", "error", "model overloaded"),
    ({"message": "Internal error", "code": "internal"}, "internal", "Internal error"),
    ({"detail": [{"loc": ["body", "messages"], "msg": "Field required"}]}, "error",
     "body.messages: Field required"),
])
def test_top_level_error_shapes(error: Any, code: str, message: str) -> None:
    line = orjson.dumps({"id": "batch-1", "custom_id": "c1", "response": None, "error": error})
    result = decode_line(line)
    assert result.status == "errored" and result.error is not None
    assert (result.error.code, result.error.message) == (code, message)


@pytest.mark.parametrize("line", [
    b"not json", b'{"custom_id": 3}', b'{"custom_id": "c", "response": null, "error": null}',
])
def test_lines_no_vendor_could_send_raise_value_error(line: bytes) -> None:
    with pytest.raises(ValueError):
        decode_line(line)


# -- status ----------------------------------------------------------------------------------


STATUS_TABLE = {
    "QUEUED": JobState.QUEUED,
    "RUNNING": JobState.RUNNING,
    "SUCCESS": JobState.COMPLETED,
    "FAILED": JobState.FAILED,
    "TIMEOUT_EXCEEDED": JobState.EXPIRED,
    "CANCELLATION_REQUESTED": JobState.CANCELLING,
    "CANCELLED": JobState.CANCELLED,
}


def _job(status: str, **extra: Any) -> dict[str, Any]:
    job = {"id": "6d1d3c3e-7d55-4c4c-9a59-6e1f6f4c1a11", "object": "batch", "input_files": [],
           "endpoint": "/v1/chat/completions", "errors": [], "status": status,
           "created_at": 1, "total_requests": 10, "completed_requests": 7,
           "succeeded_requests": 6, "failed_requests": 1, **extra}
    BatchJob.model_validate(job)  # a shape the SDK accepts
    return job


def test_status_table_covers_the_sdk_enum() -> None:
    from typing import get_args

    from mistralai.client.models import BatchJobStatus

    literal = get_args(BatchJobStatus)[0]
    assert set(get_args(literal)) == set(MISTRAL_STATUSES) == set(STATUS_TABLE)


@pytest.mark.parametrize(("vendor", "state"), list(STATUS_TABLE.items()))
def test_status_mapping(vendor: str, state: JobState) -> None:
    status = map_status(_job(vendor))
    assert (status.state, status.vendor_status) == (state, vendor)
    assert (status.total, status.succeeded, status.failed) == (10, 6, 1)


def test_failed_job_reports_its_errors_with_counts() -> None:
    status = map_status(_job("FAILED", errors=[
        {"message": "Invalid JSON line", "count": 3}, {"message": "Duplicate custom_id"}]))
    assert [(e.line, e.code, e.message) for e in status.errors] == [
        (None, "batch_failed", "Invalid JSON line (3 times)"),
        (None, "batch_failed", "Duplicate custom_id")]
    assert map_status(_job("SUCCESS", errors=[{"message": "x", "count": 1}])).errors == ()


def test_unknown_status_raises() -> None:
    with pytest.raises(ProviderError, match="'PAUSED'"):
        map_status({"id": "j", "status": "PAUSED"})


def test_encode_decode_offline_through_the_public_api(tmp_path: Any) -> None:
    """``bk.encode`` writes Mistral lines without the SDK's client or a key."""
    requests = [chat(custom_id=f"r{i}") for i in range(3)]
    paths = bk.encode(requests, "mistral:mistral-small-latest", tmp_path)
    lines = [json.loads(x) for p in paths for x in p.read_text().splitlines()]
    assert [x["custom_id"] for x in lines] == ["r0", "r1", "r2"]
    assert all(set(x) == {"custom_id", "body"} for x in lines)
