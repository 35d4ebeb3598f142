"""The OpenAI emulator, driven end to end by the real ``openai`` SDK over loopback HTTP."""

from __future__ import annotations

import json
import math
import struct
from typing import Any, Literal

import httpx
import jsonschema
import openai
import pytest
from openai.types import Batch, CreateEmbeddingResponse, FileObject
from openai.types.chat import ChatCompletion
from openai.types.responses import Response
from pydantic import BaseModel, Field

from batchkit.testing.emulators.openai.replies import ReplyError
from tests.emulators.conftest import (
    chat_line,
    embed_line,
    poll,
    raw_json,
    rows,
    run,
    sdk_client,
    start,
    upload,
)


class Ticket(BaseModel):
    label: Literal["spam", "ham", "unsure"]
    confidence: float = Field(ge=0, le=1)
    reasons: list[str] = Field(min_length=1, max_length=3)
    reply: str | None = None


def json_schema_format() -> dict[str, Any]:
    return {"type": "json_schema",
            "json_schema": {"name": "Ticket", "schema": Ticket.model_json_schema(), "strict": True}}


# ---- happy paths ---------------------------------------------------------------------------------


def test_chat_batch_runs_to_completion_and_every_body_parses_with_sdk_types(emu, client) -> None:
    created = start(client, [chat_line(f"r{i}", f"message number {i}") for i in range(4)],
                    metadata={"job": "j1"})
    assert created.status == "validating"
    assert created.expires_at == created.created_at + 86400
    batch, seen = poll(client, created.id)
    assert seen == ["in_progress", "finalizing", "completed"]
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed) == (4, 4)
    assert batch.error_file_id is None
    assert batch.model == "gpt-4o-mini"
    assert batch.in_progress_at < batch.finalizing_at < batch.completed_at  # type: ignore[operator]

    strict = Batch.model_validate(raw_json(emu, f"/v1/batches/{batch.id}"))
    assert strict.status == "completed"
    output_file = FileObject.model_validate(raw_json(emu, f"/v1/files/{batch.output_file_id}"))
    assert output_file.purpose == "batch_output"

    output = rows(client, batch.output_file_id)
    assert sorted(output) == ["r0", "r1", "r2", "r3"]
    total_in = total_out = 0
    for custom_id, row in output.items():
        assert row["id"].startswith("batch_req_")
        assert row["error"] is None
        assert row["response"]["status_code"] == 200
        assert row["response"]["request_id"].startswith("req_")
        reply = ChatCompletion.model_validate(row["response"]["body"])
        assert reply.choices[0].message.content
        assert f"message number {custom_id[1:]}" in reply.choices[0].message.content
        assert reply.created >= batch.in_progress_at  # type: ignore[operator]
        assert reply.usage is not None
        total_in += reply.usage.prompt_tokens
        total_out += reply.usage.completion_tokens
    assert batch.usage is not None
    assert (batch.usage.input_tokens, batch.usage.output_tokens) == (total_in, total_out)
    assert batch.usage.total_tokens == total_in + total_out


def test_manual_clock_holds_status_until_advanced(manual_emu) -> None:
    client = sdk_client(manual_emu)
    batch = start(client, [chat_line("a"), chat_line("b")])
    assert client.batches.retrieve(batch.id).status == "validating"
    manual_emu.clock.advance(10)
    assert client.batches.retrieve(batch.id).status == "in_progress"
    manual_emu.clock.advance(30)
    halfway = client.batches.retrieve(batch.id)
    assert halfway.request_counts is not None and halfway.request_counts.completed == 1
    manual_emu.clock.advance(1000)
    done = client.batches.retrieve(batch.id)
    assert done.status == "completed"
    assert done.completed_at == done.created_at + 80


def test_chat_json_schema_reply_satisfies_the_schema(client) -> None:
    lines = [chat_line(f"t{i}", f"classify {i}", response_format=json_schema_format())
             for i in range(5)]
    batch = run(client, lines)
    output = rows(client, batch.output_file_id)
    assert len(output) == 5
    for row in output.values():
        content = ChatCompletion.model_validate(row["response"]["body"]).choices[0].message.content
        instance = json.loads(content or "")
        jsonschema.validate(instance, Ticket.model_json_schema())
        Ticket.model_validate(instance)


def test_responses_endpoint_with_text_format_json_schema(client) -> None:
    text_format = {"type": "json_schema", "name": "Ticket", "schema": Ticket.model_json_schema(),
                   "strict": True}
    lines = [{"custom_id": "x1", "method": "POST", "url": "/v1/responses",
              "body": {"model": "o4-mini", "input": "Is this spam?",
                       "text": {"format": text_format}}}]
    batch = run(client, lines, endpoint="/v1/responses")
    reply = Response.model_validate(rows(client, batch.output_file_id)["x1"]["response"]["body"])
    Ticket.model_validate_json(reply.output_text)
    assert reply.usage is not None and reply.usage.output_tokens_details.reasoning_tokens > 0
    assert batch.usage is not None
    assert batch.usage.output_tokens_details.reasoning_tokens == (
        reply.usage.output_tokens_details.reasoning_tokens)


@pytest.mark.parametrize(("model", "dimensions", "expected"), [
    ("text-embedding-3-small", None, 1536),
    ("text-embedding-3-large", None, 3072),
    ("text-embedding-3-small", 256, 256),
])
def test_embeddings_are_float32_unit_vectors_of_the_right_dimension(
    client, model: str, dimensions: int | None, expected: int
) -> None:
    extra = {} if dimensions is None else {"dimensions": dimensions}
    lines = [embed_line("e1", ["first text", "second text"], model, **extra),
             embed_line("e2", "third text", model, **extra)]
    batch = run(client, lines, endpoint="/v1/embeddings")
    output = rows(client, batch.output_file_id)
    first = CreateEmbeddingResponse.model_validate(output["e1"]["response"]["body"])
    assert [item.index for item in first.data] == [0, 1]
    vectors = [item.embedding for item in first.data]
    vectors.append(CreateEmbeddingResponse.model_validate(
        output["e2"]["response"]["body"]).data[0].embedding)
    for vector in vectors:
        assert len(vector) == expected
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, abs_tol=1e-5)
        assert list(struct.unpack(f"<{expected}f", struct.pack(f"<{expected}f", *vector))) == vector
    assert vectors[0] != vectors[1]
    assert first.usage.prompt_tokens > 0


def test_custom_responder_and_reply_error(app, client) -> None:
    def responder(url: str, body: dict[str, Any], custom_id: str) -> dict[str, Any]:
        if custom_id == "bad":
            raise ReplyError(400, "Invalid image.", code="invalid_image")
        return {"id": "chatcmpl-x", "object": "chat.completion", "created": 1,
                "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": f"echo {custom_id}"}}]}

    app.responder = responder
    batch = run(client, [chat_line("good"), chat_line("bad")])
    assert rows(client, batch.output_file_id)["good"]["response"]["body"]["choices"][0][
        "message"]["content"] == "echo good"
    error_row = rows(client, batch.error_file_id)["bad"]
    assert error_row["response"]["status_code"] == 400
    assert error_row["response"]["body"]["error"]["code"] == "invalid_image"
    assert batch.request_counts is not None
    assert (batch.request_counts.completed, batch.request_counts.failed) == (1, 1)


# ---- create-time 400s and auth -------------------------------------------------------------------


def _bad_create(client: openai.OpenAI, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"input_file_id": upload(client, [chat_line("a")]),
                              "endpoint": "/v1/chat/completions", "completion_window": "24h"}
    params.update(overrides)
    with pytest.raises(openai.BadRequestError) as caught:
        client.batches.create(**params)
    assert caught.value.status_code == 400
    body = caught.value.response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == "invalid_request_error"
    error: dict[str, Any] = body["error"]
    return error


@pytest.mark.parametrize(("overrides", "param"), [
    ({"input_file_id": "file-doesnotexist"}, "input_file_id"),
    ({"endpoint": "/v1/nowhere"}, "endpoint"),
    ({"completion_window": "48h"}, "completion_window"),
    ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
    ({"metadata": {"k" * 65: "v"}}, "metadata"),
    ({"metadata": {"k": "v" * 513}}, "metadata.k"),
])
def test_bad_create_answers_400_with_openai_error_body(app, client, overrides, param) -> None:
    assert _bad_create(client, **overrides)["param"] == param
    assert app.creates == 0


def test_create_rejects_a_file_uploaded_for_another_purpose(client) -> None:
    file_id = upload(client, [chat_line("a")], purpose="user_data")
    assert _bad_create(client, input_file_id=file_id)["param"] == "input_file_id"


def test_missing_or_wrong_key_is_401(emu, app) -> None:
    response = httpx.get(f"{emu.url}/openai/v1/batches")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    app.api_keys = {"sandbox"}
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk_client(emu, api_key="sk-wrong-key-1234").batches.list()
    assert caught.value.code == "invalid_api_key"
    assert sdk_client(emu).batches.list().data == []


def test_unknown_ids_are_404(client) -> None:
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_missing")
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve("file-missing")


# ---- input validation: the batch is accepted, then fails -----------------------------------------


@pytest.mark.parametrize(("lines", "code", "param", "line"), [
    ([chat_line("a"), "{not json"], "invalid_json_line", None, 2),
    ([chat_line("a"), chat_line("a")], "duplicate_custom_id", "custom_id", 2),
    ([{**chat_line("a"), "url": "/v1/embeddings"}], "invalid_url", "url", 1),
    ([chat_line("a"), chat_line("b", model="gpt-4o")], "mismatched_model", "body.model", 2),
    ([{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
       "body": {"model": "gpt-4o-mini"}}], "missing_required_parameter", "body.messages", 1),
    ([{"method": "POST", "url": "/v1/chat/completions", "body": {}}],
     "missing_required_parameter", "custom_id", 1),
    ([chat_line("a", stream=True)], "streaming_unsupported", "body.stream", 1),
    ([chat_line("a"), chat_line("b", temperature="hot")], "invalid_request", "body.temperature", 2),
    ([chat_line("a", frobnicate=1)], "invalid_request", "body.frobnicate", 1),
    ([chat_line("a", messages=[{"role": "wizard", "content": "x"}])],
     "invalid_request", "body.messages[0]", 1),
    ([], "empty_file", None, None),
])
def test_invalid_input_fails_the_batch_with_vendor_code(emu, client, lines, code, param,
                                                        line) -> None:
    batch = run(client, lines)
    assert batch.status == "failed"
    assert batch.errors is not None and batch.errors.data is not None
    error = batch.errors.data[0]
    assert (error.code, error.param, error.line) == (code, param, line)
    assert error.message
    assert batch.output_file_id is None and batch.error_file_id is None
    assert batch.failed_at is not None and batch.in_progress_at is None
    Batch.model_validate(raw_json(emu, f"/v1/batches/{batch.id}"))


def test_size_limits_are_configurable(app, client) -> None:
    app.limits.max_requests = 3
    too_many = run(client, [chat_line(f"r{i}") for i in range(4)])
    assert too_many.errors is not None and too_many.errors.data is not None
    assert too_many.errors.data[0].code == "too_many_tasks"
    app.limits.max_requests = 50_000
    app.limits.max_bytes = 100
    too_big = run(client, [chat_line("r1", "x" * 200)])
    assert too_big.errors is not None and too_big.errors.data is not None
    assert too_big.errors.data[0].code == "file_too_large"
    app.limits.max_bytes = 10_000
    app.limits.max_embedding_inputs = 2
    inputs = run(client, [embed_line("e1", ["a", "b"]), embed_line("e2", "c")], "/v1/embeddings")
    assert inputs.errors is not None and inputs.errors.data is not None
    assert (inputs.errors.data[0].code, inputs.errors.data[0].line) == ("too_many_tasks", 2)


def test_fail_next_validation_fails_only_the_next_batch(app, client) -> None:
    app.fail_next_validation("invalid_request", "Forced by the test.")
    first = run(client, [chat_line("a")])
    second = run(client, [chat_line("a")])
    assert first.status == "failed" and second.status == "completed"
    assert first.errors is not None and first.errors.data is not None
    assert first.errors.data[0].message == "Forced by the test."


# ---- per-request faults --------------------------------------------------------------------------


def test_http_error_rows_go_to_the_error_file(app, client) -> None:
    app.fault("r1", "http_error", status_code=400)
    app.fault("r2", "http_error", status_code=500)
    batch = run(client, [chat_line(f"r{i}") for i in range(4)])
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert (batch.request_counts.completed, batch.request_counts.failed) == (2, 2)
    errors = rows(client, batch.error_file_id)
    assert sorted(errors) == ["r1", "r2"]
    assert sorted(rows(client, batch.output_file_id)) == ["r0", "r3"]
    expected = (("r1", 400, "invalid_request_error"), ("r2", 500, "server_error"))
    for custom_id, status, kind in expected:
        row = errors[custom_id]
        assert row["error"] is None
        assert row["response"]["status_code"] == status
        assert row["response"]["body"]["error"]["type"] == kind


def test_invalid_json_fault_breaks_the_structured_reply(app, client) -> None:
    app.fault("b", "invalid_json")
    batch = run(client, [chat_line(k, response_format=json_schema_format()) for k in "ab"])
    output = rows(client, batch.output_file_id)
    content = {k: output[k]["response"]["body"]["choices"][0]["message"]["content"] for k in "ab"}
    Ticket.model_validate_json(content["a"])
    assert output["b"]["response"]["status_code"] == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(content["b"])


def test_expired_fault_expires_the_batch_keeping_finished_results(app, client) -> None:
    app.fault("r2", "expired")
    app.fault("r3", "expired")
    batch = run(client, [chat_line(f"r{i}") for i in range(4)])
    assert batch.status == "expired"
    assert batch.expired_at is not None and batch.expired_at >= batch.expires_at  # type: ignore[operator]
    assert sorted(rows(client, batch.output_file_id)) == ["r0", "r1"]
    errors = rows(client, batch.error_file_id)
    assert sorted(errors) == ["r2", "r3"]
    for row in errors.values():
        assert row["response"] is None
        assert row["error"]["code"] == "batch_expired"
    assert batch.request_counts is not None
    assert (batch.request_counts.completed, batch.request_counts.failed) == (2, 2)


def test_missing_fault_drops_the_row_from_both_files(app, client) -> None:
    app.fault("r1", "missing")
    batch = run(client, [chat_line(f"r{i}") for i in range(3)])
    assert batch.status == "completed"
    assert sorted(rows(client, batch.output_file_id)) == ["r0", "r2"]
    assert batch.error_file_id is None


def test_fault_rates_are_deterministic_per_seed(app, client) -> None:
    lines = [chat_line(f"r{i}") for i in range(60)]
    app.fault_rate("http_error", 0.25, seed=7)
    first = rows(client, run(client, lines).error_file_id)
    second = rows(client, run(client, lines).error_file_id)
    assert sorted(first) == sorted(second)
    assert 5 <= len(first) <= 25
    app.fault_rate("http_error", 0.25, seed=8)
    assert sorted(rows(client, run(client, lines).error_file_id)) != sorted(first)


# ---- endpoint faults -----------------------------------------------------------------------------


def test_429_with_retry_after_then_success(emu, app) -> None:
    file_id = upload(sdk_client(emu), [chat_line("a")])
    app.endpoint_faults.add(429, method="POST", path_prefix="/v1/batches", retry_after=0.05)
    with pytest.raises(openai.RateLimitError) as caught:
        sdk_client(emu).batches.create(input_file_id=file_id, endpoint="/v1/chat/completions",
                                       completion_window="24h")
    assert caught.value.response.headers["Retry-After"] == "0.05"
    app.endpoint_faults.add(429, method="POST", path_prefix="/v1/batches", retry_after=0.05)
    retrying = sdk_client(emu, retries=1)
    batch = retrying.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions",
                                    completion_window="24h")
    assert batch.status == "validating"
    assert app.creates == 1


def test_500_and_dropped_connection(emu, app, client) -> None:
    app.endpoint_faults.add(500, path_prefix="/v1/batches", times=1)
    with pytest.raises(openai.InternalServerError):
        client.batches.list()
    app.endpoint_faults.add(None, drop=True)
    with pytest.raises(openai.APIConnectionError):
        client.batches.list()
    assert client.batches.list().data == []


# ---- listing, cancelling, counters ---------------------------------------------------------------


def test_list_pages_newest_first(emu, client) -> None:
    created = [start(client, [chat_line("a")]).id for _ in range(5)]
    page = client.batches.list(limit=2)
    assert [b.id for b in page.data] == created[::-1][:2]
    body = raw_json(emu, "/v1/batches?limit=2")
    assert body["has_more"] is True
    assert (body["first_id"], body["last_id"]) == (created[4], created[3])
    rest = raw_json(emu, f"/v1/batches?limit=100&after={created[3]}")
    assert [b["id"] for b in rest["data"]] == created[2::-1]
    assert rest["has_more"] is False
    assert [b.id for b in client.batches.list(limit=2)] == created[::-1]
    for bad in (0, 101):
        with pytest.raises(openai.BadRequestError):
            client.batches.list(limit=bad)


def test_cancel_keeps_finished_results_and_cancels_the_rest(manual_emu) -> None:
    client = sdk_client(manual_emu)
    batch = start(client, [chat_line(f"r{i}") for i in range(4)])
    manual_emu.clock.advance(10 + 30)  # validated, then half of the 60 s run has passed
    cancelling = client.batches.cancel(batch.id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
    manual_emu.clock.advance(5)
    done = client.batches.retrieve(batch.id)
    assert done.status == "cancelled" and done.cancelled_at is not None
    assert sorted(rows(client, done.output_file_id)) == ["r0", "r1"]
    errors = rows(client, done.error_file_id)
    assert sorted(errors) == ["r2", "r3"]
    assert {row["error"]["code"] for row in errors.values()} == {"batch_cancelled"}
    assert all(row["response"] is None for row in errors.values())
    with pytest.raises(openai.BadRequestError):
        client.batches.cancel(batch.id)


def test_cancel_while_validating_leaves_only_an_error_file(client) -> None:
    batch = start(client, [chat_line("a"), chat_line("b")])
    assert client.batches.cancel(batch.id).status == "cancelling"
    done, _ = poll(client, batch.id)
    assert done.status == "cancelled"
    assert done.output_file_id is None
    assert sorted(rows(client, done.error_file_id)) == ["a", "b"]


def test_counters(app, client) -> None:
    start(client, [chat_line("a")], metadata={"batchkit_key": "k1"})
    start(client, [chat_line("a")], metadata={"batchkit_key": "k1", "other": "x"})
    start(client, [chat_line("a")], metadata={"batchkit_key": "k2"})
    assert app.creates == 3
    assert app.uploads == 3
    assert app.batches_created_with("batchkit_key", "k1") == 2
    assert app.batches_created_with("batchkit_key", "k2") == 1
    assert app.batches_created_with("batchkit_key", "k3") == 0


def test_responses_line_with_content_parts_is_accepted() -> None:
    """Regression: the spec's overlapping oneOf (InputItem) must not reject valid messages."""
    from batchkit.testing import _spec

    body = {"model": "gpt-4o-mini", "max_output_tokens": 50, "input": [
        {"role": "user", "content": [
            {"type": "input_text", "text": "what is this?"},
            {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "auto"}]}]}
    assert _spec.validate("openai", "CreateResponse", body) == []
    bad = {**body, "max_output_tokens": "many"}
    assert any("max_output_tokens" in p for p in _spec.validate("openai", "CreateResponse", bad))
