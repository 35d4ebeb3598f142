"""The Anthropic codec: golden params, id mapping, result decoding and the status table."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from anthropic.types.messages import MessageBatch, MessageBatchIndividualResponse
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import batchkit as bk
from batchkit._state import JobState
from batchkit.providers.anthropic.adapter import AnthropicAdapter
from batchkit.providers.anthropic.codec import (
    ID_PATTERN,
    decode_line,
    encode_request,
    map_status,
    vendor_id,
)
from batchkit.providers.anthropic.messages import DEFAULT_MAX_TOKENS


class Label(BaseModel):
    spam: bool
    reason: str


def _params(req: bk.ChatRequest, **options: Any) -> dict[str, Any]:
    line = orjson.loads(encode_request(req, "v1", "claude-haiku-4-5", options))
    assert line["custom_id"] == "v1"
    params: dict[str, Any] = line["params"]
    return params


def test_golden_params_for_every_option() -> None:
    req = bk.ChatRequest(
        custom_id="a", max_tokens=77, stop=["END"],
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image", "url": "https://example.com/a.png", "detail": "low"},
                {"type": "image", "data": "AAAA", "media_type": "image/png"},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QkJC"}},
            ]},
            {"role": "assistant", "content": "a cat"},
            {"role": "user", "content": "sure?"},
        ],
        params={"anthropic": {"top_k": 5}, "metadata": {"user_id": "u1"}},
    )
    assert _params(req) == {
        "model": "claude-haiku-4-5",
        "max_tokens": 77,
        "system": "Be brief.\n\nBe kind.",
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                             "data": "AAAA"}},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg",
                                             "data": "QkJC"}},
            ]},
            {"role": "assistant", "content": "a cat"},
            {"role": "user", "content": "sure?"},
        ],
        "stop_sequences": ["END"],
        "top_k": 5,
        "metadata": {"user_id": "u1"},
    }


def test_max_tokens_default_option_and_cache_system() -> None:
    req = bk.ChatRequest(custom_id="a", messages=[{"role": "system", "content": "S"},
                                                  {"role": "user", "content": "hi"}])
    assert _params(req)["max_tokens"] == DEFAULT_MAX_TOKENS
    params = _params(req, max_tokens=300, cache_system=True)
    assert params["max_tokens"] == 300
    assert params["system"] == [{"type": "text", "text": "S",
                                 "cache_control": {"type": "ephemeral"}}]


def test_response_model_uses_native_structured_output() -> None:
    req = bk.ChatRequest(custom_id="a", response_model=Label,
                         messages=[{"role": "user", "content": "hi"}],
                         params={"anthropic": {"top_k": 1}})
    fmt = _params(req)["output_config"]["format"]
    assert fmt["type"] == "json_schema"
    assert fmt["schema"]["additionalProperties"] is False
    assert set(fmt["schema"]["properties"]) == {"spam", "reason"}


@pytest.mark.parametrize(("kwargs", "rule"), [
    ({"params": {"stream": True}}, "stream"),
    ({"params": {"model": "x"}}, "provider string"),
    ({"temperature": 0}, "takes no temperature"),
    ({"temperature": 0.5, "top_p": 0.9}, "takes no temperature or top_p"),
    ({"seed": 3}, "seed"),
    ({"response_model": Label, "params": {"output_config": {}}}, "output_config"),
])
def test_check_names_the_rule(kwargs: dict[str, Any], rule: str) -> None:
    req = bk.ChatRequest(custom_id="r", messages=[{"role": "user", "content": "x"}], **kwargs)
    with pytest.raises(bk.InvalidRequestError, match=rule):
        AnthropicAdapter("claude-haiku-4-5").check(req)


def test_drop_sampling_sends_the_request_without_it() -> None:
    """SDK 2.11's MessageCreateParams has no sampling fields; the option drops them, on request."""
    req = bk.ChatRequest(custom_id="r", temperature=0, top_p=0.5,
                         messages=[{"role": "user", "content": "x"}])
    adapter = AnthropicAdapter("claude-haiku-4-5", {"drop_sampling": True})
    adapter.check(req)
    params = orjson.loads(adapter.encode(req, "r"))["params"]
    assert not params.keys() & {"temperature", "top_p", "top_k"}


def test_embeddings_are_refused() -> None:
    with pytest.raises(bk.InvalidRequestError, match="no embeddings"):
        AnthropicAdapter("claude-haiku-4-5").check(bk.EmbedRequest(custom_id="e", text="t"))


def test_limits() -> None:
    limits = AnthropicAdapter("m").limits("chat")
    assert limits.max_requests == 100_000
    assert 255_000_000 < limits.max_bytes <= 256 * 1000 * 1000


# -- ids -------------------------------------------------------------------------------------


def test_safe_ids_are_kept_and_others_escaped() -> None:
    assert vendor_id("mail-1_A") == "mail-1_A"
    for cid in ("email/1 äö", "x" * 80, "bk--abc", ""):
        vid = vendor_id(cid)
        assert ID_PATTERN.match(vid) and vid.startswith("bk--") and vid != cid


@settings(max_examples=300)
@given(st.text(min_size=0, max_size=200))
def test_any_id_maps_to_a_valid_deterministic_id(cid: str) -> None:
    vid = vendor_id(cid)
    assert ID_PATTERN.match(vid)
    assert vendor_id(cid) == vid


@settings(max_examples=100)
@given(st.sets(st.one_of(st.text(max_size=80), st.from_regex(r"bk--[a-z_]{0,20}-[0-9a-f]{32}",
                                                             fullmatch=True)), max_size=60))
def test_mapping_is_injective(ids: set[str]) -> None:
    assert len({vendor_id(c) for c in ids}) == len(ids)


@given(st.text(min_size=1, max_size=100))
def test_round_trip_through_encode_and_decode(cid: str) -> None:
    vid = vendor_id(cid)
    req = bk.ChatRequest(custom_id=cid, messages=[{"role": "user", "content": "x"}])
    assert orjson.loads(encode_request(req, vid, "m", {}))["custom_id"] == vid
    line = {"custom_id": vid, "result": {"type": "expired"}}
    assert decode_line(orjson.dumps(line)).custom_id == vid


# -- decode ----------------------------------------------------------------------------------


def _message(content: list[dict[str, Any]], stop: str = "end_turn",
             usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": usage or {"input_tokens": 10, "output_tokens": 5}}


def _decode(line: dict[str, Any]) -> bk.Result:
    MessageBatchIndividualResponse.model_validate(line)  # the lines are the vendor's shape
    return decode_line(orjson.dumps(line))


def test_decode_succeeded_with_cache_usage() -> None:
    usage = {"input_tokens": 10, "output_tokens": 7, "cache_creation_input_tokens": 2000,
             "cache_read_input_tokens": 300, "output_tokens_details": {"thinking_tokens": 4}}
    r = _decode({"custom_id": "a", "result": {"type": "succeeded", "message": _message(
        [{"type": "text", "text": "Hel"}, {"type": "text", "text": "lo"}], "max_tokens", usage)}})
    assert (r.status, r.text, r.finish_reason, r.error) == ("succeeded", "Hello", "length", None)
    assert r.usage == bk.Usage(input_tokens=2310, output_tokens=7, cached_input_tokens=300,
                               cache_creation_input_tokens=2000, reasoning_tokens=4)


def test_decode_tool_input_and_refusal() -> None:
    tool = {"type": "tool_use", "id": "toolu_1", "name": "label", "input": {"spam": True}}
    r = _decode({"custom_id": "a", "result": {"type": "succeeded",
                                              "message": _message([tool], "tool_use")}})
    assert r.text is None and r.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in r.tool_calls] == [
        ("toolu_1", "label", {"spam": True})]
    assert r.vendor_finish_reason == "tool_use"
    r = _decode({"custom_id": "a", "result": {"type": "succeeded", "message": _message(
        [{"type": "text", "text": "I can't help with that."}], "refusal")}})
    assert r.status == "succeeded" and r.error is not None and r.error.code == "refusal"
    assert r.finish_reason == "refusal" and r.refusal == "I can't help with that."


@pytest.mark.parametrize(("kind", "retryable", "status"), [
    ("overloaded_error", True, 529), ("api_error", True, 500), ("rate_limit_error", True, 429),
    ("invalid_request_error", False, 400),
])
def test_decode_errored(kind: str, retryable: bool, status: int) -> None:
    r = _decode({"custom_id": "a", "result": {"type": "errored", "error": {
        "type": "error", "error": {"type": kind, "message": "boom"}, "request_id": "req_1"}}})
    assert r.status == "errored" and r.error is not None
    assert (r.error.code, r.error.message, r.error.retryable, r.error.http_status) == (
        kind, "boom", retryable, status)


@pytest.mark.parametrize(("kind", "status", "code"), [
    ("canceled", "cancelled", "batch_cancelled"), ("expired", "expired", "batch_expired"),
])
def test_decode_not_run(kind: str, status: str, code: str) -> None:
    r = _decode({"custom_id": "a", "result": {"type": kind}})
    assert r.status == status and r.error is not None and r.error.code == code


@pytest.mark.parametrize("line", [b"nope", b'{"custom_id": 1}', b'{"custom_id": "a",'
                                  b' "result": {"type": "weird"}}'])
def test_decode_rejects_impossible_lines(line: bytes) -> None:
    with pytest.raises(ValueError):
        decode_line(line)


# -- status ----------------------------------------------------------------------------------


def _batch(status: str, **counts: int) -> dict[str, Any]:
    full = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0, **counts}
    batch = {"id": "msgbatch_1", "type": "message_batch", "processing_status": status,
             "request_counts": full, "created_at": "2025-01-01T00:00:00Z",
             "expires_at": "2025-01-02T00:00:00Z", "results_url": None}
    MessageBatch.model_validate(batch)
    return batch


@pytest.mark.parametrize(("status", "counts", "state"), [
    ("in_progress", {"processing": 4}, JobState.RUNNING),
    ("canceling", {"processing": 4}, JobState.CANCELLING),
    ("ended", {"succeeded": 3, "errored": 1}, JobState.COMPLETED),
    ("ended", {"succeeded": 3, "expired": 1}, JobState.EXPIRED),
    ("ended", {"succeeded": 1, "canceled": 2, "expired": 1}, JobState.CANCELLED),
    ("ended", {"succeeded": 4}, JobState.COMPLETED),
])
def test_status_table(status: str, counts: dict[str, int], state: JobState) -> None:
    mapped = map_status(_batch(status, **counts))
    assert mapped.state == state and mapped.vendor_status == status
    assert mapped.total == 4
    assert mapped.succeeded == counts.get("succeeded", 0)
    assert mapped.failed == 4 - counts.get("succeeded", 0) - counts.get("processing", 0)


def test_unknown_status_raises() -> None:
    with pytest.raises(bk.ProviderError, match="processing_status"):
        map_status({"id": "x", "processing_status": "paused"})
