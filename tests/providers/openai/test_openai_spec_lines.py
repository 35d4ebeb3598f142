"""Every line batchkit writes for OpenAI, validated against OpenAI's own published schemas.

The corpus covers every request option; each line goes through the adapter exactly as a job
would (``check`` then ``encode``). The envelope is checked against the batch documentation (the
spec no longer carries ``BatchRequestInput``) and against ``CreateBatchRequest.endpoint``; the
body against ``CreateChatCompletionRequest`` / ``CreateResponse`` / ``CreateEmbeddingRequest``.
"""

from __future__ import annotations

import enum
from typing import Any, Literal

import jsonschema
import orjson
import pytest
from pydantic import BaseModel, Field

from batchkit._requests import ChatRequest, EmbedRequest, Request
from batchkit.providers.openai.adapter import OpenAIAdapter
from batchkit.testing import _spec

BODY_SCHEMA = {
    "/v1/chat/completions": "CreateChatCompletionRequest",
    "/v1/responses": "CreateResponse",
    "/v1/embeddings": "CreateEmbeddingRequest",
}
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5"
       "ErkJggg==")


class Sentiment(enum.Enum):
    POS = "positive"
    NEG = "negative"


class Entity(BaseModel):
    name: str = Field(min_length=1, description="as written")
    kind: Literal["person", "org", "place"]


class Extraction(BaseModel):
    """Entities and a sentiment."""

    entities: list[Entity]
    sentiment: Sentiment
    summary: str | None = None
    score: float = Field(ge=0, le=1)
    main: Entity | None = None


def _chat(custom_id: str, **kw: Any) -> ChatRequest:
    return ChatRequest(custom_id=custom_id, **kw)


def _msgs(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": "Classify: win a free cruise!"}, *extra]


IMAGES = [{"role": "user", "content": [
    {"type": "text", "text": "Describe both."},
    {"type": "image", "url": "https://example.com/a.png", "detail": "high"},
    {"type": "image", "data": PNG, "media_type": "image/png"},
]}]
CONVERSATION = [
    {"role": "system", "content": "You label email."},
    {"role": "developer", "content": [{"type": "text", "text": "Answer in one word."}]},
    {"role": "user", "content": "hello"},
    {"role": "assistant", "content": [{"type": "text", "text": "ham"}]},
    {"role": "user", "content": "win money now"},
]

CHAT_CORPUS: dict[str, dict[str, Any]] = {
    "minimal": {"messages": _msgs()},
    "all-options": {"messages": CONVERSATION, "max_tokens": 200, "temperature": 0, "top_p": 0.5,
                    "stop": ["\n", "END", "###", "--"], "seed": 42},
    "response-model": {"messages": _msgs(), "response_model": Extraction, "max_tokens": 300},
    "images": {"messages": IMAGES, "max_tokens": 100},
    "params": {"messages": _msgs(), "params": {
        "service_tier": "flex", "reasoning_effort": "low", "logprobs": True, "top_logprobs": 2,
        "presence_penalty": 0.5, "user": "u-1", "n": 1, "store": False}},
}
RESPONSES_CORPUS: dict[str, dict[str, Any]] = {
    "minimal": {"messages": _msgs()},
    "conversation": {"messages": CONVERSATION, "max_tokens": 16, "temperature": 1.2,
                     "top_p": 0.9},
    "response-model": {"messages": [{"role": "system", "content": "Extract."}, *_msgs()],
                       "response_model": Extraction},
    "images": {"messages": IMAGES},
    "params": {"messages": _msgs(), "params": {"reasoning": {"effort": "low"},
                                               "service_tier": "auto", "store": False}},
}
EMBED_CORPUS: dict[str, dict[str, Any]] = {
    "minimal": {"text": "The quick brown fox."},
    "dimensions": {"text": "naïve café — 東京", "dimensions": 256, "input_type": "search_query"},
    "params": {"text": "x" * 5000, "params": {"encoding_format": "base64", "user": "u-1"}},
}


def _corpus() -> list[Any]:
    cases = []
    for endpoint, corpus in (("chat", CHAT_CORPUS), ("responses", RESPONSES_CORPUS)):
        for name, kw in corpus.items():
            cases.append(pytest.param(endpoint, _chat(f"{endpoint}-{name}", **kw),
                                      id=f"{endpoint}-{name}"))
    for name, kw in EMBED_CORPUS.items():
        cases.append(pytest.param("chat", EmbedRequest(custom_id=f"embed-{name}", **kw),
                                  id=f"embed-{name}"))
    return cases


def _problems(schema_name: str, body: dict[str, Any]) -> list[str]:
    return _spec.validate("openai", schema_name, body)


def _spec_endpoints() -> list[str]:
    schema = _spec.load_spec("openai")["$defs"]["CreateBatchRequest"]
    endpoints: list[str] = schema["properties"]["endpoint"]["enum"]
    return endpoints


def _line(endpoint: str, request: Request) -> dict[str, Any]:
    adapter = OpenAIAdapter("gpt-4o-mini", {"endpoint": endpoint})
    adapter.check(request)
    encoded = adapter.encode(request, adapter.vendor_id(request.custom_id))
    assert b"\n" not in encoded  # one JSONL line
    line: dict[str, Any] = orjson.loads(encoded)
    return line


@pytest.mark.parametrize(("endpoint", "request_"), _corpus())
def test_every_line_matches_the_vendor_spec(endpoint: str, request_: Request) -> None:
    line = _line(endpoint, request_)
    assert list(line) == ["custom_id", "method", "url", "body"]
    assert line["custom_id"] == request_.custom_id and line["method"] == "POST"
    assert line["url"] in _spec_endpoints()
    schema_name = BODY_SCHEMA[line["url"]]
    body = line["body"]
    assert body["model"] == "gpt-4o-mini"
    unknown = set(body) - _spec.property_names("openai", schema_name)
    assert not unknown, f"arguments the spec does not declare: {unknown}"
    assert _problems(schema_name, body) == []


@pytest.mark.parametrize(("endpoint", "url"), [("chat", "/v1/chat/completions"),
                                               ("responses", "/v1/responses")])
def test_chat_lines_go_to_the_chosen_endpoint(endpoint: str, url: str) -> None:
    request = _chat("c", messages=_msgs())
    assert _line(endpoint, request)["url"] == url
    assert _line(endpoint, EmbedRequest(custom_id="e", text="t"))["url"] == "/v1/embeddings"


def test_structured_output_schemas_are_valid_json_schema() -> None:
    for endpoint, path in (("chat", ("response_format", "json_schema")),
                           ("responses", ("text", "format"))):
        body = _line(endpoint, _chat("s", messages=_msgs(),
                                           response_model=Extraction))["body"]
        fmt = body[path[0]][path[1]]
        assert fmt["strict"] is True and fmt["name"] == "Extraction"
        jsonschema.Draft202012Validator.check_schema(fmt["schema"])


def test_the_validator_can_fail() -> None:
    """Guards the test above: a body the spec forbids is reported, so an empty list means
    something."""
    body = _line("chat", _chat("x", messages=_msgs()))["body"]
    assert _spec.validate("openai", "CreateChatCompletionRequest", {**body, "messages": []})
    assert _spec.validate("openai", "CreateChatCompletionRequest",
                          {**body, "max_completion_tokens": "ten"})
    responses = _line("responses", _chat("x", messages=IMAGES))["body"]
    assert _problems("CreateResponse", {**responses, "max_output_tokens": 8})
    image = responses["input"][0]["content"][1]
    bad_part = {**image, "detail": "ultra"}
    bad_item = {**responses["input"][0], "content": [bad_part]}
    assert _problems("CreateResponse", {**responses, "input": [bad_item]})
    embed = _line("chat", EmbedRequest(custom_id="e", text="t"))["body"]
    assert _spec.validate("openai", "CreateEmbeddingRequest", {**embed, "dimensions": 0})
