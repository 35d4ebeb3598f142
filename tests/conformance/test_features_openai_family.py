"""The v2 request on the OpenAI file family (OpenAI chat and Responses, Azure, Groq, Together),
end to end through each vendor's real SDK and emulator.

Must-show of issue #20 for these vendors: a 300-request tool-calling extraction job whose every
result validates into the pydantic model; a two-turn conversation replaying a tool call and its
result; a PDF question where the vendor reads PDFs and a refusal before anything is recorded or
uploaded where it does not; OpenAI-only raw fields refused unscoped and sent when scoped.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit._exceptions import ConfigError, InvalidRequestError
from batchkit._registry import make_adapter
from batchkit.testing import emulate


class Invoice(BaseModel):
    """An invoice's key facts."""

    vendor: str
    total: float
    paid: bool
    lines: list[str]


@dataclass(frozen=True)
class Vendor:
    name: str
    provider: str
    options: dict[str, Any] = field(default_factory=dict)
    documents: bool = False


VENDORS = [
    Vendor("openai", "openai:gpt-4o-mini", documents=True),
    Vendor("openai-responses", "openai:gpt-5-mini", {"endpoint": "responses"}, documents=True),
    Vendor("azure", "azure:gpt-4o-mini"),
    Vendor("azure-responses", "azure:gpt-5-mini", {"api": "responses"}),
    Vendor("groq", "groq:openai/gpt-oss-20b"),
    Vendor("together", "together:openai/gpt-oss-20b"),
]
PDF = base64.b64encode(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF").decode()


@pytest.fixture(params=VENDORS, ids=[v.name for v in VENDORS])
def vendor(request: pytest.FixtureRequest) -> Iterator[tuple[Vendor, Any]]:
    v: Vendor = request.param
    with emulate(providers=[v.provider.partition(":")[0]]) as handle:
        yield v, handle.apps[v.provider.partition(":")[0]]


def _run(v: Vendor, requests: list[bk.ChatRequest]) -> bk.ResultSet:
    return bk.run(requests, v.provider, options=v.options or None, shard_size=150)


def test_tool_extraction_of_300_requests(vendor: tuple[Vendor, Any]) -> None:
    v, app = vendor
    tool = bk.Tool.from_model(Invoice)
    requests = [bk.ChatRequest(custom_id=f"inv-{i}", tools=[tool], tool_choice="Invoice",
                               messages=[{"role": "user", "content": f"Invoice {i}: ACME, 12 EUR"}])
                for i in range(300)]
    results = _run(v, requests)
    assert len(results) == 300 and results.counts() == {"succeeded": 300}
    assert [r.custom_id for r in results] == [r.custom_id for r in requests]
    for r in results:
        assert r.finish_reason == "tool_calls" and r.tool_calls[0].name == "Invoice"
        assert r.tool_calls[0].id and r.tool_calls[0].raw_arguments
        Invoice.model_validate(r.tool_calls[0].arguments)
    assert app.uploads == 2


def test_two_turns_with_a_tool_result(vendor: tuple[Vendor, Any]) -> None:
    v, _ = vendor
    weather = bk.Tool.from_schema("weather", {"type": "object", "properties": {
        "city": {"type": "string"}}, "required": ["city"]})
    turns = [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "name": "weather", "arguments": {"city": "Oslo"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "-3 C, snow"},
    ]
    [result] = _run(v, [bk.ChatRequest(custom_id="t", tools=[weather], messages=turns)])
    assert result.ok and result.finish_reason == "stop" and result.tool_calls == []
    assert "Oslo" in (result.text or "") and "snow" in (result.text or "")


def test_pdf_question_sent_where_read_and_refused_before_anything_elsewhere(
        vendor: tuple[Vendor, Any]) -> None:
    v, app = vendor
    request = bk.ChatRequest(custom_id="pdf", messages=[{"role": "user", "content": [
        {"type": "document", "data": PDF, "title": "invoice.pdf"},
        {"type": "text", "text": "What is the total?"}]}])
    if v.documents:
        [result] = _run(v, [request])
        assert result.ok and result.text
        return
    name = v.provider.partition(":")[0]
    with pytest.raises(InvalidRequestError, match=rf"custom_id 'pdf': {name}: document parts "
                       "unsupported — send the document's text"):
        _run(v, [request])
    assert bk.list_jobs() == [] and app.uploads == 0


@pytest.mark.parametrize(("provider", "foreign", "own"), [
    ("groq:llama-3.1-8b-instant", {"verbosity": "low"}, {"reasoning_format": "hidden"}),
    ("together:openai/gpt-oss-20b", {"service_tier": "flex"}, {"top_k": 5}),
    ("azure:gpt-4o-mini", {"top_k": 5}, {"service_tier": "default"}),
])
def test_raw_params_are_scoped_per_vendor(provider: str, foreign: dict[str, Any],
                                          own: dict[str, Any]) -> None:
    name = provider.partition(":")[0]
    request = bk.ChatRequest(custom_id="p", messages=[{"role": "user", "content": "hi"}],
                             params=foreign)
    with emulate(providers=[name]) as handle:
        app = handle.apps[name]
        key = next(iter(foreign))
        with pytest.raises(InvalidRequestError, match=rf"{name}: params field '{key}' is not a"):
            bk.run([request], provider)
        assert bk.list_jobs() == [] and app.uploads == 0
        scoped = request.model_copy(update={"params": {name: own, "openai": foreign,
                                                       "anthropic": {"thinking": {}}}})
        line = make_adapter(provider).encode(scoped, "p")
        assert f'"{next(iter(own))}"'.encode() in line and key.encode() not in line
        [result] = bk.run([scoped], provider)
        assert result.ok


def test_azure_chooses_the_responses_api_by_its_api_option() -> None:
    line = orjson.loads(make_adapter("azure:gpt-5-mini", {"api": "responses"}).encode(
        bk.ChatRequest(custom_id="r", messages=[{"role": "user", "content": "hi"}]), "r"))
    assert line["url"] == "/v1/responses" and line["body"]["input"][0]["content"] == "hi"
    with pytest.raises(ConfigError, match="azure option api must be 'chat' or 'responses'"):
        make_adapter("azure:gpt-5-mini", {"api": "batch"})
