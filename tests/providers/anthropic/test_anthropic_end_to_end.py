"""Anthropic end to end: bk.submit through the real anthropic SDK against the emulator."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from anthropic.types.messages import MessageBatch, MessageBatchIndividualResponse
from pydantic import BaseModel

import batchkit as bk
from batchkit.providers.anthropic.codec import vendor_id
from batchkit.testing import emulate
from batchkit.testing.emulators.anthropic.replies import message_reply
from batchkit.testing.emulators.openai.replies import chat_completion


class Verdict(BaseModel):
    spam: bool
    confidence: float
    reason: str


@pytest.fixture
def handle() -> Iterator[Any]:
    with emulate(providers=["anthropic", "openai"]) as h:
        yield h


def _cid(i: int) -> str:
    if i % 3 == 0:
        return f"email/{i} äö"
    if i % 3 == 1:
        return f"{i:04d}-" + "x" * 75  # 80 characters
    return f"mail-{i}"


def _requests(n: int) -> list[bk.ChatRequest]:
    return [
        bk.ChatRequest(custom_id=_cid(i), response_model=Verdict, max_tokens=200,
                       messages=[{"role": "system", "content": "Is this spam?"},
                                 {"role": "user", "content": f"email body {i}"}],
                       metadata={"row": i})
        for i in range(n)
    ]


def test_500_structured_requests_with_injected_faults(handle: Any) -> None:
    app = handle.apps["anthropic"]
    requests = _requests(500)
    injected = {}
    for i in range(0, 500, 7):
        kind = ("errored", "expired", "canceled")[(i // 7) % 3]
        app.fault(vendor_id(requests[i].custom_id), kind, error_type="overloaded_error")
        injected[requests[i].custom_id] = kind
    results = bk.submit(requests, "anthropic:claude-haiku-4-5").wait().results()

    assert len(results) == 500
    assert [r.custom_id for r in results] == [r.custom_id for r in requests]
    assert [r.metadata["row"] for r in results] == list(range(500))
    want = {"errored": "errored", "expired": "expired", "canceled": "cancelled"}
    for r in results:
        kind = injected.get(r.custom_id)
        if kind is None:
            assert r.status == "succeeded" and isinstance(r.parsed, Verdict)
            assert r.usage is not None and r.usage.input_tokens > 0
        else:
            assert r.status == want[kind] and r.parsed is None and r.error is not None
    errored = [r for r in results if r.status == "errored"]
    assert errored and all(r.error and r.error.code == "overloaded_error" and r.error.retryable
                           for r in errored)
    assert app.creates == 1


def _verdict_for(prompt: str) -> str:
    """A reply derived from the request content alone, the same for every vendor."""
    i = int(re.findall(r"\d+", prompt)[-1])
    return json.dumps({"spam": i % 2 == 0, "confidence": i / 100, "reason": f"row {i}"})


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    content = messages[-1]["content"]
    return content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)


def test_same_job_gives_identical_objects_on_openai_and_anthropic(handle: Any) -> None:
    def openai_reply(url: str, body: dict[str, Any], custom_id: str) -> dict[str, Any]:
        reply = chat_completion(body, custom_id, 0)
        reply["choices"][0]["message"]["content"] = _verdict_for(_last_user_text(body["messages"]))
        return reply

    def anthropic_reply(url: str, params: dict[str, Any], custom_id: str) -> dict[str, Any]:
        return message_reply(params, _verdict_for(_last_user_text(params["messages"])), custom_id)

    handle.apps["openai"].responder = openai_reply
    handle.apps["anthropic"].responder = anthropic_reply
    requests = _requests(30)
    on_openai = bk.run(requests, provider="openai:gpt-4o-mini")
    on_anthropic = bk.run(requests, provider="anthropic:claude-haiku-4-5")
    assert on_openai.counts() == on_anthropic.counts() == {"succeeded": 30}
    assert [r.parsed for r in on_openai] == [r.parsed for r in on_anthropic]
    assert [r.custom_id for r in on_anthropic] == [r.custom_id for r in requests]


def test_cache_system_reports_cache_writes_then_reads(handle: Any) -> None:
    long_system = "Policy. " * 800  # ~1600 tokens: above the cacheable minimum
    requests = [bk.ChatRequest(custom_id=f"c{i}", messages=[
        {"role": "system", "content": long_system}, {"role": "user", "content": f"q{i}"}])
        for i in range(4)]
    results = bk.run(requests, provider="anthropic:claude-haiku-4-5",
                     options={"cache_system": True})
    usages = [r.usage for r in results]
    assert all(u is not None for u in usages)
    assert sum(1 for u in usages if u and u.cache_creation_input_tokens) == 1
    assert sum(1 for u in usages if u and u.cached_input_tokens) == 3
    assert all(u and u.input_tokens > u.cached_input_tokens + u.cache_creation_input_tokens
               for u in usages)


# -- the emulator through the SDK directly ---------------------------------------------------


def _client(handle: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="k", base_url=handle.base_url("anthropic"), max_retries=0)


def _req(cid: str, **params: Any) -> dict[str, Any]:
    return {"custom_id": cid, "params": {"model": "claude-haiku-4-5", "max_tokens": 50,
                                         "messages": [{"role": "user", "content": "hi"}],
                                         **params}}


def test_emulator_bodies_parse_with_sdk_types_and_params_validate(handle: Any) -> None:
    client = _client(handle)
    client.messages.batches.create(requests=[_req("first")])
    batch = client.messages.batches.create(requests=[
        _req("ok"), _req("bad_key", bogus=1), _req("bad_role", messages=[
            {"role": "bot", "content": "x"}]), _req("streamed", stream=True)])
    assert batch.processing_status == "in_progress"
    while batch.processing_status != "ended":
        batch = client.messages.batches.retrieve(batch.id)
    assert MessageBatch.model_validate(batch.to_dict()) == batch
    assert batch.request_counts.succeeded == 1 and batch.request_counts.errored == 3
    lines = list(client.messages.batches.results(batch.id))
    assert {line.custom_id for line in lines} == {"ok", "bad_key", "bad_role", "streamed"}
    for line in lines:
        MessageBatchIndividualResponse.model_validate(line.to_dict())
        if line.custom_id != "ok":
            assert line.result.type == "errored"
            assert line.result.error.error.type == "invalid_request_error"
    page = client.messages.batches.list(limit=1)
    assert len(page.data) == 1 and page.has_more and page.first_id == batch.id
    older = client.messages.batches.list(limit=1, after_id=batch.id)
    assert older.has_more is False and older.data[0].id != batch.id
    assert client.messages.batches.delete(batch.id).type == "message_batch_deleted"


@pytest.mark.parametrize(("requests", "message"), [
    ([_req("a/b")], "pattern"),
    ([_req("a"), _req("a")], "Duplicate custom_id"),
    ([], "at least 1"),
])
def test_emulator_rejects_bad_envelopes_with_400(
    handle: Any, requests: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(anthropic.BadRequestError, match=message) as caught:
        _client(handle).messages.batches.create(requests=requests)
    assert isinstance(caught.value.body, dict) and caught.value.body["type"] == "error"
    assert caught.value.body["error"]["type"] == "invalid_request_error"


def test_emulator_limits_requests_and_needs_a_key(handle: Any) -> None:
    handle.apps["anthropic"].max_requests = 2
    with pytest.raises(anthropic.BadRequestError, match="at most 2"):
        _client(handle).messages.batches.create(requests=[_req("a"), _req("b"), _req("c")])
    handle.apps["anthropic"].api_keys = {"right"}
    with pytest.raises(anthropic.AuthenticationError):
        _client(handle).messages.batches.list()


def test_cancel_ends_with_canceled_results(handle: Any) -> None:
    client = _client(handle)
    batch = client.messages.batches.create(requests=[_req("a"), _req("b")])
    assert client.messages.batches.cancel(batch.id).processing_status == "canceling"
    while batch.processing_status != "ended":
        batch = client.messages.batches.retrieve(batch.id)
    assert batch.request_counts.canceled == 2 and batch.cancel_initiated_at is not None
    assert {line.result.type for line in client.messages.batches.results(batch.id)} == {
        "canceled"}


def test_reattach_refuses_to_guess(handle: Any) -> None:
    requests = _requests(4)
    job = bk.submit(requests, "anthropic:claude-haiku-4-5")
    _client(handle).messages.batches.create(requests=[_req(f"other{i}") for i in range(4)])
    job._store._conn.execute("UPDATE shards SET remote_id = NULL WHERE idx = 0")
    with pytest.raises(bk.ProviderError, match="will not guess") as caught:
        bk.resume(job.id)
    assert str(caught.value).count("msgbatch_") == 2
