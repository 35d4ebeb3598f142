"""The OpenAI batch line codec: golden lines, every decode shape, the strict-schema transformer."""

from __future__ import annotations

import base64
import enum
import json
from datetime import datetime
from typing import Any, Literal

import jsonschema
import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from batchkit._exceptions import InvalidRequestError, ProviderError
from batchkit._requests import MAX_CUSTOM_ID_LENGTH, ChatRequest, EmbedRequest
from batchkit._state import JobState
from batchkit.providers.openai.codec import (
    LineFormat,
    StrictSchemaError,
    schema_name,
    strict_json_schema,
    to_strict_schema,
)
from batchkit.providers.openai.results import OPENAI_STATUSES, decode_line, map_status

FMT = LineFormat("gpt-4o-mini")
RESPONSES = LineFormat("gpt-4o-mini", chat_endpoint="responses")


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def chat(**kw: Any) -> ChatRequest:
    kw.setdefault("custom_id", "r1")
    kw.setdefault("messages", [user("hi")])
    return ChatRequest(**kw)


class Label(BaseModel):
    spam: bool
    reason: str


# -- encode: golden lines --------------------------------------------------------------------


def test_minimal_chat_line_is_exact_bytes() -> None:
    assert FMT.encode(chat(), "r1") == (
        b'{"custom_id":"r1","method":"POST","url":"/v1/chat/completions",'
        b'"body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}}'
    )


def test_every_chat_option_then_params_last() -> None:
    req = chat(max_tokens=50, temperature=0.2, top_p=0.9, stop=["END", "\n\n"], seed=7,
               params={"temperature": 1.5, "service_tier": "flex"}, metadata={"inbox": "a"})
    body = orjson.loads(FMT.encode(req, "r1"))["body"]
    assert body == {
        "model": "gpt-4o-mini", "messages": [user("hi")], "max_completion_tokens": 50,
        "temperature": 1.5, "top_p": 0.9, "stop": ["END", "\n\n"], "seed": 7,
        "service_tier": "flex",
    }
    assert list(body)[-1] == "service_tier"  # params merged last
    assert "max_tokens" not in body and "inbox" not in json.dumps(body)  # metadata never sent


def test_system_and_developer_messages_and_images() -> None:
    req = chat(messages=[
        {"role": "developer", "content": "be brief"},
        {"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image", "url": "https://x.test/cat.png", "detail": "low"},
            {"type": "image", "data": "iVBORw0KGgo=", "media_type": "image/png"},
            {"type": "image_url", "image_url": {"url": "https://x.test/dog.jpg"}},
        ]},
        {"role": "assistant", "content": "a cat"},
    ])
    assert FMT.body(req)["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "https://x.test/cat.png", "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "image_url", "image_url": {"url": "https://x.test/dog.jpg"}},
        ]},
        {"role": "assistant", "content": "a cat"},
    ]


def test_response_model_becomes_strict_json_schema_format() -> None:
    body = FMT.body(chat(response_model=Label))
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "Label", "strict": True,
            "schema": {
                "type": "object", "title": "Label",
                "properties": {"spam": {"title": "Spam", "type": "boolean"},
                               "reason": {"title": "Reason", "type": "string"}},
                "required": ["spam", "reason"], "additionalProperties": False,
            },
        },
    }


def test_responses_endpoint_line() -> None:
    req = chat(messages=[{"role": "system", "content": "classify"}, user("win money"),
                         {"role": "assistant", "content": [{"type": "text", "text": "spam?"}]},
                         {"role": "user", "content": [
                             {"type": "text", "text": "see"},
                             {"type": "image", "url": "https://x.test/a.png"}]}],
               max_tokens=64, temperature=0, response_model=Label)
    line = orjson.loads(RESPONSES.encode(req, "r1"))
    assert line["url"] == "/v1/responses"
    body = line["body"]
    assert body["instructions"] == "classify"
    assert body["input"] == [
        user("win money"),
        {"role": "assistant", "content": "spam?"},
        {"role": "user", "content": [
            {"type": "input_text", "text": "see"},
            {"type": "input_image", "image_url": "https://x.test/a.png", "detail": "auto"}]},
    ]
    assert body["max_output_tokens"] == 64 and body["temperature"] == 0
    fmt = body["text"]["format"]
    assert (fmt["type"], fmt["name"], fmt["strict"]) == ("json_schema", "Label", True)
    assert fmt["schema"]["required"] == ["spam", "reason"]
    assert "messages" not in body and "response_format" not in body


def test_responses_without_system_has_no_instructions() -> None:
    assert "instructions" not in RESPONSES.body(chat())


def test_embedding_line() -> None:
    req = EmbedRequest(custom_id="d1", text="hello", dimensions=256, input_type="search_query",
                       params={"encoding_format": "base64"}, metadata={"title": "t"})
    assert orjson.loads(FMT.encode(req, "d1")) == {
        "custom_id": "d1", "method": "POST", "url": "/v1/embeddings",
        "body": {"model": "gpt-4o-mini", "input": "hello", "dimensions": 256,
                 "encoding_format": "base64"},
    }


def test_format_parameters_for_other_vendors() -> None:
    mistral_like = LineFormat(None, method_and_url=False, max_tokens_field="max_tokens",
                              strict=False)
    line = orjson.loads(mistral_like.encode(chat(max_tokens=5, response_model=Label), "x"))
    assert set(line) == {"custom_id", "body"}
    assert "model" not in line["body"] and line["body"]["max_tokens"] == 5
    schema_format = line["body"]["response_format"]["json_schema"]
    assert schema_format["strict"] is False
    assert schema_format["schema"] == Label.model_json_schema()  # sent as pydantic wrote it
    azure_like = LineFormat("my-deployment", chat_url="/chat/completions")
    line = orjson.loads(azure_like.encode(chat(), "x"))
    assert (line["url"], line["body"]["model"]) == ("/chat/completions", "my-deployment")


# -- check -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "kw", "rule"), [
    (FMT, {"stop": ["a", "b", "c", "d", "e"]}, "at most 4 stop sequences"),
    (FMT, {"params": {"stream": True}}, "'stream'"),
    (FMT, {"params": {"model": "gpt-4o"}}, "'model'"),
    (FMT, {"params": {"n": 3}}, "which keeps every choice"),
    (FMT, {"messages": [{"role": "system", "content": [
        {"type": "image", "url": "https://x.test/a.png"}]}, user("hi")]}, "only allowed in user"),
    (RESPONSES, {"stop": ["x"]}, "neither 'stop' nor 'seed'"),
    (RESPONSES, {"seed": 1}, "neither 'stop' nor 'seed'"),
    (RESPONSES, {"max_tokens": 10}, "max_tokens >= 16"),
])
def test_check_rejects_what_openai_cannot_take(fmt: LineFormat, kw: dict[str, Any],
                                               rule: str) -> None:
    with pytest.raises(InvalidRequestError, match=rule) as info:
        fmt.check(chat(custom_id="bad-1", **kw))
    assert info.value.custom_id == "bad-1"


def test_check_accepts_ordinary_requests() -> None:
    FMT.check(chat(stop=["a", "b", "c", "d"], params={"n": 1}, response_model=Label))
    RESPONSES.check(chat(max_tokens=16))
    FMT.check(EmbedRequest(custom_id="e", text="x", params={"user": "u"}))


def test_check_rejects_embedding_input_override_and_loose_schema() -> None:
    with pytest.raises(InvalidRequestError, match="one EmbedRequest per text"):
        FMT.check(EmbedRequest(custom_id="e", text="x", params={"input": ["a", "b"]}))

    class Loose(BaseModel):
        counts: dict[str, int]

    with pytest.raises(InvalidRequestError, match=r"strict schema: \$\.counts: free-form"):
        FMT.check(chat(response_model=Loose))
    LineFormat("m", strict=False).check(chat(response_model=Loose))  # non-strict vendors may


# -- strict schema ---------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str = Field(min_length=2, description="street and number")
    zip: str | None = None


class Cat(BaseModel):
    kind: Literal["cat"] = "cat"
    lives: int = Field(ge=0, le=9)


class Dog(BaseModel):
    kind: Literal["dog"] = "dog"
    good: bool


class Person(BaseModel):
    name: str
    color: Color
    mood: Literal["happy", "sad"]
    home: Address = Field(description="where they live")
    past: list[Address] = []
    work: Address | None = None
    pet: Cat | Dog = Field(discriminator="kind")
    tags: set[str]
    born: datetime
    site: str = Field(json_schema_extra={"format": "uri"})
    children: list[Person] = []


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_strict_schema_closes_every_object_and_requires_every_property() -> None:
    schema = strict_json_schema(Person)
    objects = [n for n in _walk(schema) if n.get("type") == "object"]
    assert len(objects) >= 5  # root, Address (inlined + $defs), Cat, Dog, Person def
    for node in objects:
        assert node["additionalProperties"] is False
        assert node["required"] == list(node["properties"])
    assert schema["required"] == list(Person.model_fields)


def test_strict_schema_keywords() -> None:
    schema = strict_json_schema(Person)
    keys = {k for n in _walk(schema) for k in n}
    assert not keys & {"default", "minLength", "uniqueItems", "discriminator", "oneOf", "allOf"}
    props = schema["properties"]
    assert props["work"]["anyOf"] == [{"$ref": "#/$defs/Address"}, {"type": "null"}]  # Optional
    assert props["past"]["items"] == {"$ref": "#/$defs/Address"}  # list kept, non-null
    assert "anyOf" not in props["past"]
    assert props["pet"]["anyOf"] == [{"$ref": "#/$defs/Cat"}, {"$ref": "#/$defs/Dog"}]
    assert props["mood"]["enum"] == ["happy", "sad"]  # Literal
    assert schema["$defs"]["Color"]["enum"] == ["red", "blue"]  # Enum
    assert schema["$defs"]["Cat"]["properties"]["kind"]["const"] == "cat"
    assert schema["$defs"]["Cat"]["properties"]["lives"]["maximum"] == 9  # supported: kept
    assert props["born"]["format"] == "date-time"  # supported format kept
    assert "format" not in props["site"]  # unsupported format dropped
    # a $ref with a sibling description is inlined, the sibling winning
    assert props["home"]["description"] == "where they live"
    assert props["home"]["additionalProperties"] is False and "$ref" not in props["home"]


def test_recursive_model_root_is_an_object_with_defs() -> None:
    class Node(BaseModel):
        value: int
        children: list[Node]

    assert Node.model_json_schema()["$ref"] == "#/$defs/Node"  # what pydantic gives
    schema = strict_json_schema(Node)
    assert schema["type"] == "object" and "$ref" not in schema
    assert schema["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    assert schema["$defs"]["Node"]["additionalProperties"] is False


def _person() -> Person:
    return Person(
        name="Ana", color=Color.RED, mood="happy", home=Address(street="Main 1"),
        pet=Dog(good=True), tags={"x"}, born=datetime(2000, 1, 2, 3, 4, 5),
        site="https://a.test", children=[Person(
            name="Bo", color=Color.BLUE, mood="sad", home=Address(street="Side 2", zip="1"),
            work=Address(street="Job 3"), pet=Cat(lives=3), tags=set(),
            born=datetime(2020, 1, 1), site="https://b.test")],
    )


def test_real_instances_validate_and_bad_ones_do_not() -> None:
    schema = strict_json_schema(Person)
    good = _person().model_dump(mode="json")
    jsonschema.validate(good, schema)
    missing = {k: v for k, v in good.items() if k != "work"}
    extra = {**good, "nickname": "A"}
    for bad in (missing, extra, {**good, "mood": "angry"}, {**good, "past": None}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
    # the strict reply, fed back to pydantic, gives the object back
    assert Person.model_validate(good) == _person()


def test_strict_schema_returns_a_fresh_copy() -> None:
    first = strict_json_schema(Label)
    first["properties"].clear()
    assert strict_json_schema(Label)["properties"] != {}


@pytest.mark.parametrize(("annotation", "why"), [
    (dict[str, int], "free-form objects"),
    (tuple[int, str], "'prefixItems'"),
    (Any, "needs a type"),
])
def test_unexpressible_schemas_raise_naming_the_path(annotation: Any, why: str) -> None:
    model = type("M", (BaseModel,), {"__annotations__": {"field": annotation}})
    with pytest.raises(StrictSchemaError, match=rf"\$\.field: .*{why}|\$\.field: {why}"):
        strict_json_schema(model)


def test_root_must_be_an_object_and_refs_must_resolve() -> None:
    with pytest.raises(StrictSchemaError, match="root"):
        to_strict_schema({"type": "string"})
    with pytest.raises(StrictSchemaError, match="unsupported \\$ref"):
        to_strict_schema({"type": "object", "properties": {
            "a": {"$ref": "#/definitions/X", "description": "d"}}})


def test_schema_name_is_sanitised() -> None:
    weird = type("Weird Name.v2" + "x" * 80, (BaseModel,), {})
    name = schema_name(weird)
    assert name.startswith("Weird_Name_v2") and len(name) == 64


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
