"""Rows of ``ChatRequest.batch``/``EmbedRequest.batch`` spliced into the template's line by the
planner (``_bulk_splice``) give the bytes and the refusals of the same requests checked and
encoded one by one, on every vendor; and the splice is really taken where it can be."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit._bulk_splice import learn_splice
from batchkit._exceptions import BatchkitError
from batchkit._registry import make_adapter


class Verdict(BaseModel):
    spam: bool
    reason: str


CHAT = ["openai:gpt-4o-mini", "openai:gpt-5-mini", "anthropic:claude-haiku-4-5",
        "azure:gpt-4o-mini", "bedrock:anthropic.claude-3-5-haiku-20241022-v1:0",
        "cohere:command-r-08-2024", "gemini:gemini-2.5-flash", "groq:llama-3.1-8b-instant",
        "mistral:mistral-small-latest", "together:openai/gpt-oss-20b",
        "vertex:gemini-2.5-flash"]
EMBED = ["openai:text-embedding-3-small", "bedrock:amazon.titan-embed-text-v2:0",
         "cohere:embed-english-v3.0", "gemini:gemini-embedding-001",
         "mistral:codestral-embed", "vertex:text-embedding-005"]
TEXTS = ["plain email", 'a "quote", a \\ backslash and 100% / %s %b', "tab\there\nnewline",
         "é ü 😀 \u2028 \x01", "  spaces around  ", "plain email", "x" * 5000]
IDS = ["a", "needs/escaping id", "x" * 80, "é-id", "with space", "again", "b-1"]
SHARED: dict[str, dict[str, Any]] = {
    "plain": {},
    "structured": {"system": "Spam or ham? 100% sure %s", "response_model": Verdict,
                   "max_tokens": 50, "metadata": {"src": "inbox"}},
    "copies": {"system": "Spam or ham?", "temperature": 0, "max_tokens": 20},
}


@pytest.fixture(autouse=True)
def _bedrock_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bedrock's per-job minimum of 100 records, lowered so a few requests make a job."""
    monkeypatch.setenv("BATCHKIT_BEDROCK_MIN_RECORDS", "1")


def _written(requests: Any, provider: str) -> dict[str, bytes] | str:
    """Every file ``bk.encode`` writes, or the refusal's message."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            bk.encode(requests, provider, tmp)
        except BatchkitError as exc:
            return f"{type(exc).__name__}: {exc}"
        return {p.name: p.read_bytes() for p in sorted(Path(tmp).glob("*.jsonl"))}


@pytest.mark.parametrize("provider", CHAT)
@pytest.mark.parametrize("shape", list(SHARED))
def test_chat_rows_spliced_write_what_one_by_one_writes(provider: str, shape: str) -> None:
    shared = SHARED[shape]
    spliced = _written(bk.ChatRequest.batch(TEXTS, custom_ids=IDS, **shared), provider)
    # a list has no splicer: every request checked and encoded by the vendor's code
    whole = _written(list(bk.ChatRequest.batch(TEXTS, custom_ids=IDS, **shared)), provider)
    assert spliced == whole
    blank = _written(bk.ChatRequest.batch(["ok", "   "], custom_ids=["a", "b"], **shared),
                     provider)
    assert blank == _written(list(bk.ChatRequest.batch(["ok", "   "], custom_ids=["a", "b"],
                                                       **shared)), provider)


@pytest.mark.parametrize("provider", EMBED)
def test_embedding_rows_spliced_write_what_one_by_one_writes(provider: str) -> None:
    spliced = _written(bk.EmbedRequest.batch(TEXTS, custom_ids=IDS), provider)
    assert spliced == _written(list(bk.EmbedRequest.batch(TEXTS, custom_ids=IDS)), provider)
    assert isinstance(spliced, dict) and spliced


@pytest.mark.parametrize("provider", ["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5",
                                      "gemini:gemini-2.5-flash", "openai:text-embedding-3-small"])
def test_the_splice_is_taken_for_plain_rows(provider: str) -> None:
    adapter = make_adapter(provider)
    rows: Any = (bk.EmbedRequest.batch(["hello"]) if "embedding" in provider else
                 bk.ChatRequest.batch(["hello"], system="Be brief.", response_model=Verdict))
    spliced = learn_splice(rows, adapter)
    assert spliced is not None
    row = next(rows)
    assert spliced(row) == adapter.encode(row, adapter.vendor_id(row.custom_id))
    assert spliced(row.model_copy()) is None  # only the row just yielded


def test_a_line_not_made_of_the_values_as_json_strings_is_not_spliced() -> None:
    class Shouting:
        """An encoder that writes the text in capitals: no sentinel shows up whole."""

        def __init__(self) -> None:
            self.inner = make_adapter("openai:gpt-4o-mini")
            self.vendor_id = self.inner.vendor_id
            self.request_checker = self.inner.request_checker
            self.model = self.inner.model
            self.name = self.inner.name

        def encode(self, request: bk.ChatRequest, vendor_id: str) -> bytes:
            return self.inner.encode(request, vendor_id).upper()

    rows = bk.ChatRequest.batch(["hello"])
    assert learn_splice(rows, Shouting()) is None
