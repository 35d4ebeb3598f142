"""The v2 features end to end on Gemini, Vertex AI, Mistral and Cohere: each vendor's real SDK
against its emulator, through ``bk.run``.

A tool-calling extraction job of 300 requests, a conversation replaying a tool result, a PDF
question, a feature the vendor cannot take refused before anything is recorded or uploaded, and
raw ``params`` scoped per vendor.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit.testing import emulate


class Invoice(BaseModel):
    """The key fields of an invoice."""

    number: str
    total: float
    paid: bool


@dataclass(frozen=True)
class Vendor:
    name: str
    provider: str
    uploads: Callable[[Any], int]
    """How many files or batches the emulator holds: zero means nothing was sent."""
    refused: dict[str, Any]
    """ChatRequest fields this vendor refuses (a feature it cannot express)."""
    scoped: dict[str, Any]
    """params={vendor: ...} that must reach the vendor's line."""
    seen: Callable[[Any, list[dict[str, Any]]], None]
    """Installs a responder hook recording each request body the emulator answers."""
    force: str = "Invoice"
    """The tool_choice that forces the extraction tool (Cohere cannot name one: 'required')."""
    reads_pdf: bool = True


def _gemini_seen(app: Any, seen: list[dict[str, Any]]) -> None:
    from batchkit.testing.emulators.gemini.replies import generate_reply

    def responder(model: str, request: dict[str, Any], key: str) -> dict[str, Any]:
        seen.append(request)
        return generate_reply(model, request, key)

    app.responder = responder


def _vertex_seen(app: Any, seen: list[dict[str, Any]]) -> None:
    from batchkit.testing.emulators.vertex.replies import default_chat_responder

    def responder(request: dict[str, Any], model: str) -> dict[str, Any]:
        seen.append(request)
        return default_chat_responder(request, model)

    app.chat_responder = responder


def _mistral_seen(app: Any, seen: list[dict[str, Any]]) -> None:
    from batchkit.testing.emulators.mistral.replies import default_responder

    def responder(endpoint: str, body: dict[str, Any], custom_id: str) -> dict[str, Any]:
        seen.append(body)
        return default_responder(endpoint, body, custom_id)

    app.responder = responder


def _cohere_seen(app: Any, seen: list[dict[str, Any]]) -> None:
    from batchkit.testing.emulators.cohere.replies import default_chat_responder

    def responder(body: dict[str, Any], custom_id: str, model: str) -> dict[str, Any]:
        seen.append(body)
        return default_chat_responder(body, custom_id, model)

    app.chat_responder = responder


VENDORS = [
    Vendor("gemini", "gemini:gemini-2.5-flash",
           lambda app: len(app.files) + app.creates,
           {"parallel_tool_calls": False},
           {"gemini": {"generationConfig": {"topK": 7}}}, _gemini_seen),
    Vendor("vertex", "vertex:gemini-2.5-flash",
           lambda app: len(app.gcs.store.objects) + app.creates,
           {"parallel_tool_calls": False},
           {"vertex": {"generationConfig": {"topK": 7}}}, _vertex_seen),
    Vendor("mistral", "mistral:mistral-small-latest",
           lambda app: len(app.files) + app.creates,
           {"logprobs": True},
           {"mistral": {"safe_prompt": True}}, _mistral_seen),
    Vendor("cohere", "cohere:command-a-03-2025",
           lambda app: len(app.datasets) + len(app.batches),
           {"n": 2}, {"cohere": {"safety_mode": "STRICT"}}, _cohere_seen,
           force="required", reads_pdf=False),
]


@pytest.fixture(params=VENDORS, ids=lambda v: v.name)
def vendor(request: pytest.FixtureRequest) -> Iterator[tuple[Vendor, Any]]:
    spec: Vendor = request.param
    with emulate(providers=[spec.name]) as handle:
        yield spec, handle.apps[spec.name]


def _ask(i: int) -> dict[str, str]:
    return {"role": "user", "content": f"Invoice {i}: number A-{i}, total {i}.50, unpaid."}


def test_300_forced_tool_extractions(vendor: tuple[Vendor, Any]) -> None:
    spec, _ = vendor
    tool = bk.Tool.from_model(Invoice)
    requests = [bk.ChatRequest(custom_id=f"inv-{i}", messages=[_ask(i)], tools=[tool],
                               tool_choice=spec.force, max_tokens=300) for i in range(300)]
    results = bk.run(requests, spec.provider, shard_size=150)
    assert len(results) == 300
    assert [r.custom_id for r in results] == [r.custom_id for r in requests]
    for result in results:
        assert result.status == "succeeded", result
        assert result.finish_reason == "tool_calls"
        call = result.tool_calls[0]
        assert call.name == "Invoice" and call.id
        assert isinstance(Invoice.model_validate(call.arguments), Invoice)


def test_a_tool_result_turn_and_a_pdf_question(vendor: tuple[Vendor, Any]) -> None:
    spec, app = vendor
    tool = bk.Tool.from_model(Invoice)
    call = {"id": "call_1", "name": "Invoice",
            "arguments": {"number": "A-1", "total": 1.5, "paid": False}}
    pdf = base64.b64encode(b"%PDF-1.4\n% an emulated document\n").decode()
    turns = bk.ChatRequest(custom_id="turns", tools=[tool], messages=[
        _ask(1), {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"stored": true}'},
        {"role": "user", "content": "Was it stored?"}])
    question = bk.ChatRequest(custom_id="pdf", messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is this document about?"},
        {"type": "document", "data": pdf, "title": "invoice.pdf"}]}])
    if not spec.reads_pdf:
        with pytest.raises(bk.InvalidRequestError, match=r"'pdf'.*document parts unsupported"):
            bk.run([turns, question], spec.provider)
        assert bk.list_jobs() == [] and spec.uploads(app) == 0
    results = bk.run([turns, question] if spec.reads_pdf else [turns], spec.provider)
    assert [r.status for r in results] == ["succeeded"] * len(results), list(results)
    assert all(r.text and not r.tool_calls for r in results)


def test_a_refused_feature_records_and_sends_nothing(vendor: tuple[Vendor, Any]) -> None:
    spec, app = vendor
    good = bk.ChatRequest(custom_id="ok", messages=[_ask(0)])
    bad = bk.ChatRequest(custom_id="bad", messages=[_ask(1)],
                         tools=[bk.Tool.from_model(Invoice)], **spec.refused)
    with pytest.raises(bk.InvalidRequestError, match=f"'bad'.*{spec.name}: .*unsupported — "):
        bk.run([good, bad], spec.provider)
    assert bk.list_jobs() == []
    assert spec.uploads(app) == 0


def test_params_unscoped_openai_fields_refused_scoped_fields_sent(
        vendor: tuple[Vendor, Any]) -> None:
    spec, app = vendor
    for field, value in [("logit_bias", {"50256": -100}), ("top_logprobs", 3),
                         ("store", True), ("user", "u-1")]:
        request = bk.ChatRequest(custom_id="p", messages=[_ask(0)], params={field: value})
        with pytest.raises(bk.InvalidRequestError, match=f"{field!r} is not a {spec.name}"):
            bk.run([request], spec.provider)
    assert bk.list_jobs() == [] and spec.uploads(app) == 0
    seen: list[dict[str, Any]] = []
    spec.seen(app, seen)
    scoped = {**spec.scoped, "openai": {"logit_bias": {"50256": -100}}}
    results = bk.run([bk.ChatRequest(custom_id="p", messages=[_ask(0)], params=scoped)],
                     spec.provider)
    assert results[0].status == "succeeded"
    assert len(seen) == 1 and "logit_bias" not in str(seen[0])
    inner = spec.scoped[spec.name]
    for key, value in inner.items():
        sent = seen[0][key]
        assert (sent.items() >= value.items()) if isinstance(value, dict) else sent == value
