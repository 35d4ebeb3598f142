"""The Claude family's v2 features end to end: Anthropic's Message Batches and Bedrock's model
invocation jobs (Claude, and Amazon Nova whose body differs), each through its real SDK
(anthropic, boto3) against its emulator.

Shown for each: a 300-request tool-calling extraction job whose calls validate into the model, a
two-turn conversation answering a tool result, a PDF question, and params scoping (another
vendor's fields refused unscoped, before anything is recorded; scoped ones reach only their
vendor). What a vendor cannot do is refused before any job is recorded or anything uploaded.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit.testing import emulate

_AWS_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
            "BATCHKIT_BEDROCK_ROLE_ARN", "BATCHKIT_BEDROCK_BUCKET")
PDF = base64.b64encode(b"%PDF-1.4 invoice INV-7 total 12.50").decode()


class Invoice(BaseModel):
    """The fields of one invoice."""

    number: str
    total: float
    paid: bool


@dataclass(frozen=True)
class Vendor:
    name: str
    provider: str
    nova: bool = False

    def sent_nothing(self, handle: Any) -> bool:
        app = handle.apps[self.name]
        uploads = list(handle.apps["s3"].keys("batchkit-sandbox")) if "s3" in handle.apps else []
        return app.creates == 0 and not uploads


ANTHROPIC = Vendor("anthropic", "anthropic:claude-haiku-4-5")
BEDROCK = Vendor("bedrock", "bedrock:anthropic.claude-3-5-haiku-20241022-v1:0")
NOVA = Vendor("bedrock", "bedrock:amazon.nova-lite-v1:0", nova=True)
VENDORS = [ANTHROPIC, BEDROCK, NOVA]
CLAUDES = [ANTHROPIC, BEDROCK]


def ids(vendor: Vendor) -> str:
    return "bedrock-nova" if vendor.nova else vendor.name


@pytest.fixture
def handle(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Both emulators; the machine's AWS settings kept out, Bedrock's 100-record minimum lowered
    to 1 on both sides for the small jobs (its own tests cover the quota)."""
    for var in _AWS_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("BATCHKIT_BEDROCK_MIN_RECORDS", "1")
    with emulate(providers=["anthropic", "bedrock"]) as h:
        h.apps["bedrock"].min_records = 1
        yield h


def recording(handle: Any, vendor: Vendor) -> list[dict[str, Any]]:
    """Keep every request body the vendor's emulator answers (and answer as it would)."""
    app, seen = handle.apps[vendor.name], []
    stock = app.responder

    def respond(where: str, body: dict[str, Any], rid: str) -> dict[str, Any]:
        seen.append(body)
        return stock(where, body, rid)  # type: ignore[no-any-return]

    app.responder = respond
    return seen


@pytest.mark.parametrize("vendor", VENDORS, ids=ids)
def test_300_request_tool_extraction_job(handle: Any, vendor: Vendor) -> None:
    tool = bk.Tool.from_model(Invoice)
    requests = [bk.ChatRequest(custom_id=f"inv-{i}", tools=[tool], tool_choice="Invoice",
                               max_tokens=300, messages=[
                                   {"role": "system", "content": "Extract the invoice."},
                                   {"role": "user", "content": f"Invoice INV-{i}: {i}.50 due"}])
                for i in range(300)]
    results = bk.run(requests, vendor.provider)
    assert len(results) == 300 and [r.custom_id for r in results] == [
        r.custom_id for r in requests]
    for result in results:
        assert result.ok and result.finish_reason == "tool_calls", result.error
        [call] = result.tool_calls
        assert call.name == "Invoice" and call.id
        assert isinstance(Invoice.model_validate(call.arguments), Invoice)
    assert len({r.tool_calls[0].id for r in results}) == 300
    assert handle.apps[vendor.name].creates == 1


@pytest.mark.parametrize("vendor", VENDORS, ids=ids)
def test_two_turn_conversation_with_a_tool_result(handle: Any, vendor: Vendor) -> None:
    seen = recording(handle, vendor)
    lookup = bk.Tool.from_schema("lookup", {"type": "object", "properties": {
        "number": {"type": "string"}}, "required": ["number"]})
    request = bk.ChatRequest(custom_id="turn2", tools=[lookup], messages=[
        {"role": "user", "content": "Is INV-7 paid?"},
        {"role": "assistant", "tool_calls": [
            {"id": "toolu_7", "name": "lookup", "arguments": {"number": "INV-7"}}]},
        {"role": "tool", "tool_call_id": "toolu_7", "content": "INV-7: paid on 2026-11-02"}])
    [result] = bk.run([request], vendor.provider)
    assert result.ok and result.text and result.finish_reason == "stop", result.error
    [body] = seen
    result_block = ({"toolResult": {"toolUseId": "toolu_7",
                                    "content": [{"text": "INV-7: paid on 2026-11-02"}]}}
                    if vendor.nova else
                    {"type": "tool_result", "tool_use_id": "toolu_7",
                     "content": "INV-7: paid on 2026-11-02"})
    assert body["messages"][2] == {"role": "user", "content": [result_block]}


@pytest.mark.parametrize("vendor", VENDORS, ids=ids)
def test_pdf_question(handle: Any, vendor: Vendor) -> None:
    seen = recording(handle, vendor)
    request = bk.ChatRequest(custom_id="pdf", messages=[{"role": "user", "content": [
        {"type": "document", "data": PDF, "title": "INV-7.pdf"},
        {"type": "text", "text": "What is the total?"}]}])
    [result] = bk.run([request], vendor.provider)
    assert result.ok and result.text, result.error
    document = seen[0]["messages"][0]["content"][0]
    if vendor.nova:
        assert document == {"document": {"format": "pdf", "name": "INV-7-pdf",
                                          "source": {"bytes": PDF}}}
    else:
        assert document["source"] == {"type": "base64", "media_type": "application/pdf",
                                      "data": PDF}


@pytest.mark.parametrize("vendor", CLAUDES, ids=ids)
def test_thinking_comes_back_as_reasoning(handle: Any, vendor: Vendor) -> None:
    request = bk.ChatRequest(custom_id="think", reasoning="low",
                             messages=[{"role": "user", "content": "Sum 2 and 3."}])
    [result] = bk.run([request], vendor.provider)
    assert result.ok and result.reasoning and result.text, result.error
    assert result.usage is not None and result.usage.reasoning_tokens > 0


@pytest.mark.parametrize(("vendor", "kwargs", "words"), [
    (ANTHROPIC, {"n": 3}, "n=3 unsupported — Anthropic answers once per request; send N"),
    (ANTHROPIC, {"logprobs": True}, "logprobs unsupported"),
    (BEDROCK, {"json_mode": True}, "json_mode unsupported"),
    (NOVA, {"reasoning": "high"}, "(Amazon Nova): reasoning unsupported"),
    (ANTHROPIC, {"params": {"logit_bias": {"50256": -100}}}, "'logit_bias' is not a anthropic"),
    (BEDROCK, {"params": {"service_tier": "flex"}}, "'service_tier' is not a bedrock"),
], ids=["anthropic-n", "anthropic-logprobs", "bedrock-json-mode", "nova-reasoning",
        "anthropic-openai-param",
        "bedrock-openai-param"])
def test_refused_before_anything_is_recorded_or_sent(
        handle: Any, vendor: Vendor, kwargs: dict[str, Any], words: str) -> None:
    requests = [bk.ChatRequest(custom_id=f"r{i}", messages=[
        {"role": "user", "content": f"hello {i}"}], **kwargs) for i in range(3)]
    with pytest.raises(bk.InvalidRequestError, match="custom_id 'r0'") as info:
        bk.submit(requests, vendor.provider)
    assert words in str(info.value)
    assert bk.list_jobs() == [] and vendor.sent_nothing(handle)


@pytest.mark.parametrize("vendor", VENDORS, ids=ids)
def test_scoped_params_reach_only_their_vendor(handle: Any, vendor: Vendor) -> None:
    seen = recording(handle, vendor)
    scoped: dict[str, dict[str, Any]] = {"anthropic": {"metadata": {"user_id": "u-1"}},
                                         "bedrock": {"top_k": 7},
                                         "nova": {"schemaVersion": "messages-v1"}}
    own = scoped["nova" if vendor.nova else vendor.name]
    request = bk.ChatRequest(custom_id="scoped", messages=[{"role": "user", "content": "hi"}],
                             params={"openai": {"logit_bias": {"50256": -100},
                                                "service_tier": "flex"}, vendor.name: own})
    [result] = bk.run([request], vendor.provider)
    assert result.ok, result.error
    [body] = seen
    for key, value in own.items():
        assert body[key] == value
    assert "logit_bias" not in body and "service_tier" not in body and "openai" not in body


def test_cache_breakpoint_on_a_shared_message_is_written_once_then_read(handle: Any) -> None:
    handbook = " ".join(f"Rule {i}: invoices over {i} dollars need a second signature."
                        for i in range(120))
    requests = [bk.ChatRequest(custom_id=f"q{i}", messages=[
        {"role": "user", "content": handbook, "cache": True},
        {"role": "assistant", "content": "Read it."},
        {"role": "user", "content": f"Does invoice {i} of {i * 100} dollars need two?"}])
        for i in range(5)]
    results = bk.run(requests, ANTHROPIC.provider)
    usages = [r.usage for r in results if r.usage is not None]
    assert len(usages) == 5
    assert sum(u.cache_creation_input_tokens > 0 for u in usages) == 1
    assert sum(u.cached_input_tokens > 0 for u in usages) == 4
    assert all(u.input_tokens > u.cached_input_tokens for u in usages)
