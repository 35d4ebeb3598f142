"""The OpenAI batch line codec, encoding: golden lines for chat, Responses and embeddings,
and the checks that refuse what OpenAI cannot take."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from pydantic import BaseModel
from tests.providers.openai._codec_requests import FMT, RESPONSES, Label, chat, user

from batchkit._exceptions import InvalidRequestError
from batchkit._requests import EmbedRequest
from batchkit.providers.openai.codec import LineFormat

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

