"""The shared Gemini codec (``providers.gemini.codec`` and ``.results``): requests, schemas,
responses, states."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pytest
from google.genai import types
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

import batchkit as bk
from batchkit._state import JobState
from batchkit.providers.gemini.codec import (
    EMBED_TASK_TYPES,
    check_chat_request,
    check_embed_request,
    encode_embed_content_request,
    encode_generate_content_request,
    response_json_schema,
)
from batchkit.providers.gemini.results import (
    decode_embed_content_response,
    decode_generate_content_response,
    error_result,
    map_finish_reason,
    map_job_state,
    usage_from_metadata,
)
from batchkit.testing._schema_fill import fill_schema


class Address(BaseModel):
    city: str = Field(description="where")
    zip_code: str | None = None


class Person(BaseModel):
    name: str = Field(max_length=40, pattern=r"^\w+$")
    kind: Literal["lead", "customer"]
    role: Literal["admin"]
    home: Address = Field(description="the home address")
    others: list[Address] = []
    age: int | None = Field(default=None, gt=0, lt=150)
    children: list[Person] = []


def _chat(**kw: Any) -> bk.ChatRequest:
    kw.setdefault("messages", [{"role": "user", "content": "hi"}])
    return bk.ChatRequest(custom_id="c1", **kw)


def test_golden_request_for_every_option() -> None:
    req = _chat(
        max_tokens=77, temperature=0.5, top_p=0.9, stop=["END"], seed=7,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image", "url": "https://example.com/a.png?x=1", "detail": "low"},
                {"type": "image", "data": "AAAA", "media_type": "image/png"},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QkJC"}},
                {"type": "image", "url": "https://example.com/photo", "media_type": "image/webp"},
            ]},
            {"role": "assistant", "content": "a cat"},
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "sure?"},
        ],
        params={"generationConfig": {"topK": 5}, "safetySettings": [
            {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]},
    )
    assert encode_generate_content_request(req) == {
        "contents": [
            {"role": "user", "parts": [
                {"text": "what is this?"},
                {"fileData": {"fileUri": "https://example.com/a.png?x=1", "mimeType": "image/png"}},
                {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
                {"inlineData": {"mimeType": "image/jpeg", "data": "QkJC"}},
                {"fileData": {"fileUri": "https://example.com/photo", "mimeType": "image/webp"}},
            ]},
            {"role": "model", "parts": [{"text": "a cat"}]},
            {"role": "user", "parts": [{"text": "sure?"}]},
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "Be kind."}]},
        "generationConfig": {"maxOutputTokens": 77, "temperature": 0.5, "topP": 0.9,
                             "stopSequences": ["END"], "seed": 7, "topK": 5},
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
    }


def test_encoded_request_is_valid_for_the_sdk_types() -> None:
    """Every piece validates with google-genai's own models (which forbid unknown fields)."""
    body = encode_generate_content_request(_chat(
        response_model=Person, max_tokens=10, stop=["x"],
        messages=[{"role": "system", "content": "S"}, {"role": "user", "content": "u"}]))
    for content in body["contents"]:
        types.Content.model_validate(content)
    types.Content.model_validate(body["systemInstruction"])
    config = types.GenerationConfig.model_validate(body["generationConfig"])
    assert config.response_mime_type == "application/json"
    assert config.response_json_schema == response_json_schema(Person)
    assert config.response_schema is None


def test_no_generation_config_when_nothing_is_set() -> None:
    assert encode_generate_content_request(_chat()) == {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


_SUPPORTED = {"$id", "$defs", "$ref", "$anchor", "type", "format", "title", "description",
              "enum", "items", "prefixItems", "minItems", "maxItems", "minimum", "maximum",
              "anyOf", "oneOf", "properties", "additionalProperties", "required",
              "propertyOrdering"}


def _walk(schema: Any, seen: list[dict[str, Any]]) -> None:
    if isinstance(schema, dict):
        seen.append(schema)
        for key, value in schema.items():
            if key in ("properties", "$defs"):
                for sub in value.values():
                    _walk(sub, seen)
            elif key in ("items", "additionalProperties"):
                _walk(value, seen)
            elif key in ("anyOf", "oneOf", "prefixItems"):
                for sub in value:
                    _walk(sub, seen)


def test_schema_keeps_only_supported_keywords_and_refs_alone() -> None:
    schema = response_json_schema(Person)
    nodes: list[dict[str, Any]] = []
    _walk(schema, nodes)
    assert len(nodes) > 10
    for node in nodes:
        assert set(node) <= _SUPPORTED, set(node) - _SUPPORTED
        if "$ref" in node:
            assert all(k.startswith("$") for k in node)
    person = schema["$defs"]["Person"]
    assert person["propertyOrdering"] == list(Person.model_fields)
    assert person["properties"]["role"]["enum"] == ["admin"]  # const -> enum
    assert person["properties"]["home"] == {"$ref": "#/$defs/Address"}  # description dropped
    age = person["properties"]["age"]["anyOf"][0]
    assert age == {"type": "integer", "minimum": 0, "maximum": 150}
    assert "maxLength" not in person["properties"]["name"]


def test_schema_is_a_fresh_copy() -> None:
    first = response_json_schema(Person)
    first["$defs"].clear()
    assert response_json_schema(Person)["$defs"]


@pytest.mark.parametrize("model", [Person, Address])
@settings(max_examples=25, deadline=None)
@given(seed=st.text(max_size=8))
def test_json_satisfying_the_reduced_schema_parses(model: type[BaseModel], seed: str) -> None:
    """What a model would send for the reduced schema still fits the full pydantic model,
    except for the constraints the reduction dropped (left to pydantic's parse_error)."""
    instance = fill_schema(response_json_schema(model), seed=seed)
    try:
        model.model_validate(instance)
    except Exception as exc:  # only dropped constraints may fail
        assert "pattern" in str(exc) or "at most" in str(exc)


def test_check_rules() -> None:
    for bad, words in [
        (_chat(stop=["a", "b", "c", "d", "e", "f"]), "at most 5 stop sequences"),
        (_chat(params={"model": "x"}), "provider string"),
        (_chat(params={"contents": []}), "messages"),
        (_chat(response_model=Person, params={"generationConfig": {"responseSchema": {}}}),
         "generationConfig.responseSchema"),
    ]:
        with pytest.raises(bk.InvalidRequestError, match=words) as info:
            check_chat_request(bad)
        assert "custom_id 'c1'" in str(info.value)
    check_chat_request(_chat(stop=["a"] * 5, params={"generationConfig": {"topK": 3}}))
    with pytest.raises(bk.InvalidRequestError, match="'content'"):
        check_embed_request(bk.EmbedRequest(custom_id="e", text="t", params={"content": 1}))


def test_embed_request() -> None:
    req = bk.EmbedRequest(custom_id="e", text="hello", input_type="search_query", dimensions=8,
                          params={"title": "T"})
    assert encode_embed_content_request(req, None) == {
        "content": {"parts": [{"text": "hello"}]}, "taskType": "RETRIEVAL_QUERY",
        "outputDimensionality": 8, "title": "T"}
    assert encode_embed_content_request(req, "models/m")["model"] == "models/m"
    assert set(EMBED_TASK_TYPES) == {"search_document", "search_query", "classification",
                                     "clustering"}


# -- decode ----------------------------------------------------------------------------------


def _response(parts: list[dict[str, Any]], finish: str = "STOP", **extra: Any) -> dict[str, Any]:
    return {"candidates": [{"content": {"role": "model", "parts": parts},
                            "finishReason": finish}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 4,
                              "thoughtsTokenCount": 6, "cachedContentTokenCount": 3,
                              "totalTokenCount": 20}, **extra}


def test_decode_text_usage_and_thought_parts() -> None:
    response = _response([{"text": "thinking...", "thought": True}, {"text": "Hel"},
                          {"text": "lo"}])
    types.GenerateContentResponse.model_validate(response)  # a shape the SDK accepts
    r = decode_generate_content_response("k", response)
    assert (r.custom_id, r.status, r.text, r.finish_reason) == ("k", "succeeded", "Hello", "stop")
    assert r.usage == bk.Usage(input_tokens=10, output_tokens=10, cached_input_tokens=3,
                               reasoning_tokens=6)
    assert r.raw == response and r.error is None


def test_decode_parses_into_the_response_model_or_reports() -> None:
    good = decode_generate_content_response(
        "k", _response([{"text": '{"city": "Oslo"}'}]), response_model=Address)
    assert good.parsed == Address(city="Oslo") and good.parse_error is None
    bad = decode_generate_content_response(
        "k", _response([{"text": '{"town": 1}'}]), response_model=Address)
    assert bad.status == "succeeded" and bad.parsed is None
    assert bad.parse_error is not None and "city" in bad.parse_error


def test_decode_function_call_and_filters() -> None:
    call = decode_generate_content_response(
        "k", _response([{"functionCall": {"name": "f", "args": {"a": 1}}}]))
    assert call.text is None and call.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in call.tool_calls] == [("call_0", "f", {"a": 1})]
    blocked = decode_generate_content_response("k", _response([], finish="SAFETY"))
    assert blocked.status == "succeeded" and blocked.text is None
    assert blocked.finish_reason == "content_filter"
    assert blocked.error is not None and blocked.error.code == "content_filter"
    capped = decode_generate_content_response("k", _response([{"text": "x"}], "MAX_TOKENS"))
    assert capped.finish_reason == "length" and capped.error is None


def test_blocked_prompt_and_no_candidates_are_errored() -> None:
    blocked = decode_generate_content_response("k", {
        "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
        "usageMetadata": {"promptTokenCount": 9}})
    assert blocked.status == "errored" and blocked.error is not None
    assert blocked.error.code == "prompt_blocked" and "PROHIBITED_CONTENT" in blocked.error.message
    assert blocked.usage is not None and blocked.usage.input_tokens == 9
    empty = decode_generate_content_response("k", {"candidates": []})
    assert empty.status == "errored" and empty.error is not None
    assert empty.error.code == "no_candidates"
    with pytest.raises(ValueError):
        decode_generate_content_response("k", ["not", "an", "object"])  # type: ignore[arg-type]


@pytest.mark.parametrize(("error", "code", "retryable", "http"), [
    ({"code": 8, "message": "quota"}, "resource_exhausted", True, 429),
    ({"code": 3, "message": "bad"}, "invalid_argument", False, 400),
    ({"error": {"code": 400, "message": "Please use a valid role", "status": "INVALID_ARGUMENT"}},
     "invalid_argument", False, 400),
    ({"code": 503, "message": "later"}, "unavailable", True, 503),
    ("Bad Request: something", "unknown_error", False, None),
])
def test_error_result(error: Any, code: str, retryable: bool, http: int | None) -> None:
    r = error_result("k", error)
    assert r.status == "errored" and r.error is not None
    assert (r.error.code, r.error.retryable, r.error.http_status) == (code, retryable, http)


def test_embed_response() -> None:
    r = decode_embed_content_response("e", {"embedding": {"values": [0.6, 0.8]}})
    assert r.status == "succeeded" and r.embedding is not None
    assert r.embedding.dtype == np.float32 and np.allclose(r.embedding, [0.6, 0.8])
    assert decode_embed_content_response("e", {"values": [1.0]}).status == "succeeded"
    empty = decode_embed_content_response("e", {"embedding": {}})
    assert empty.status == "errored" and empty.error is not None
    assert empty.error.code == "no_embedding"


def test_finish_reasons() -> None:
    assert [map_finish_reason(x) for x in ("STOP", "MAX_TOKENS", "RECITATION", "OTHER",
                                           "FINISH_REASON_UNSPECIFIED", None)] == \
        ["stop", "length", "content_filter", "other", None, None]


def test_states_in_both_spellings() -> None:
    for suffix, state in [("PENDING", JobState.QUEUED), ("RUNNING", JobState.RUNNING),
                          ("SUCCEEDED", JobState.COMPLETED), ("FAILED", JobState.FAILED),
                          ("CANCELLED", JobState.CANCELLED), ("EXPIRED", JobState.EXPIRED)]:
        assert map_job_state(f"BATCH_STATE_{suffix}") == state
        assert map_job_state(f"JOB_STATE_{suffix}") == state
    assert map_job_state("JOB_STATE_PARTIALLY_SUCCEEDED") == JobState.COMPLETED
    assert map_job_state("JOB_STATE_CANCELLING") == JobState.CANCELLING
    for unknown in ("BATCH_STATE_UNSPECIFIED", "JOB_STATE_NEW", "SUCCEEDED", ""):
        assert map_job_state(unknown) is None
    # google-genai's own transformer produces the JOB_STATE_ spelling we map
    sdk_states = [s.value for s in types.JobState if s.value != "JOB_STATE_UNSPECIFIED"]
    assert all(map_job_state(s) is not None for s in sdk_states), sdk_states


# -- properties ------------------------------------------------------------------------------

_counts = st.integers(min_value=0, max_value=10**9)


@settings(max_examples=100)
@given(prompt=_counts, cands=_counts, thoughts=_counts, cached=_counts, tool=_counts)
def test_usage_property(prompt: int, cands: int, thoughts: int, cached: int, tool: int) -> None:
    usage = usage_from_metadata({"promptTokenCount": prompt, "candidatesTokenCount": cands,
                                 "thoughtsTokenCount": thoughts, "toolUsePromptTokenCount": tool,
                                 "cachedContentTokenCount": cached})
    assert usage is not None
    assert usage.input_tokens == prompt + tool and usage.output_tokens == cands + thoughts
    assert usage.reasoning_tokens == thoughts and usage.cached_input_tokens == cached


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["candidates", "content", "parts", "text", "finishReason",
                         "usageMetadata", "promptFeedback", "blockReason", "thought",
                         "functionCall", "args", "promptTokenCount"]), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=300)
@given(response=st.dictionaries(st.sampled_from(["candidates", "usageMetadata",
                                                 "promptFeedback", "modelVersion"]), _json))
def test_decode_never_raises_on_any_object(response: dict[str, Any]) -> None:
    r = decode_generate_content_response("k", response)
    assert r.custom_id == "k" and r.status in ("succeeded", "errored")
    assert (r.status == "errored") == (r.error is not None and r.error.code in (
        "prompt_blocked", "no_candidates"))


_text = st.text(min_size=1, max_size=30).filter(lambda s: s.strip() != "")


@settings(max_examples=100)
@given(turns=st.lists(st.tuples(st.sampled_from(["system", "user", "assistant"]), _text),
                      min_size=1, max_size=6))
def test_messages_round_trip_into_contents(turns: list[tuple[str, str]]) -> None:
    messages = [{"role": r, "content": t} for r, t in turns] + [
        {"role": "user", "content": "last"}]
    body = encode_generate_content_request(_chat(messages=messages))
    spoken = [(m["role"], m["content"]) for m in messages if m["role"] != "system"]
    assert [(c["role"], c["parts"][0]["text"]) for c in body["contents"]] == [
        ("model" if r == "assistant" else "user", t) for r, t in spoken]
    system = [t for r, t in turns if r == "system"]
    assert [p["text"] for p in body.get("systemInstruction", {}).get("parts", [])] == system
