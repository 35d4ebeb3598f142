"""Token counts: the cookbook's API-verified figures, flags, and the offline fallback."""

from __future__ import annotations

import gzip
import math
import shutil
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from batchkit import ChatRequest, EmbedRequest
from batchkit.cost import _encodings, count_chat_tokens, count_text_tokens, counter_for
from batchkit.cost import openai_encoding_for_model as enc_for
from batchkit.cost._encodings import ENCODINGS_DIR

# openai/openai-cookbook examples/How_to_count_tokens_with_tiktoken.ipynb, section 6: the API
# reported 129 prompt tokens on gpt-3.5-turbo / gpt-4 and 124 on gpt-4o / gpt-4o-mini.
COOKBOOK_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate "
        "jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on opportunities "
        "for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client "
        "deliverable.",
    },
]

# Same notebook, section 7: 105 prompt tokens on gpt-3.5-turbo / gpt-4, 101 on gpt-4o / mini.
COOKBOOK_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {
                        "type": "string",
                        "description": "The city and state, e.g. San Francisco, CA",
                    },
                    "unit": {
                        "type": "string",
                        "description": "The unit of temperature to return",
                        "enum": ["celsius", "fahrenheit"],
                    },
                },
                "required": ["location"],
            },
        },
    }
]
COOKBOOK_TOOL_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful assistant that can answer to questions about the weather.",
    },
    {"role": "user", "content": "What's the weather like in San Francisco?"},
]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-3.5-turbo", 129),
        ("gpt-4-0613", 129),
        ("gpt-4", 129),
        ("gpt-4o", 124),
        ("gpt-4o-mini", 124),
    ],
)
def test_cookbook_chat_counts_match_the_api(model: str, expected: int) -> None:
    count = count_chat_tokens(COOKBOOK_MESSAGES, model=model)
    assert count.tokens == expected
    assert count.exact


@pytest.mark.parametrize(
    ("model", "expected"),
    [("gpt-3.5-turbo", 105), ("gpt-4", 105), ("gpt-4o", 101), ("gpt-4o-mini", 101)],
)
def test_cookbook_tool_counts_match_the_api_and_are_flagged(model: str, expected: int) -> None:
    count = count_chat_tokens(COOKBOOK_TOOL_MESSAGES, model=model, tools=COOKBOOK_TOOLS)
    assert count.tokens == expected
    assert not count.exact  # OpenAI documents no tool formula; the cookbook's is reverse-engineered


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o-mini", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("ft:gpt-4o-mini:org::x", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("text-embedding-ada-002", "cl100k_base"),
    ],
)
def test_encoding_per_model_family(model: str, encoding: str) -> None:
    assert enc_for(model) == encoding


def test_chat_request_counts_like_the_cookbook_dicts() -> None:
    request = ChatRequest(custom_id="a", messages=COOKBOOK_TOOL_MESSAGES)
    by_request = counter_for("tiktoken:o200k_base").count(request)
    assert by_request == count_chat_tokens(COOKBOOK_TOOL_MESSAGES, model="gpt-4o")
    assert by_request.exact


def test_embedding_count_is_exact_and_has_no_chat_overhead() -> None:
    count = count_text_tokens("hello world", model="text-embedding-3-small")
    assert (count.tokens, count.exact) == (2, True)
    request = EmbedRequest(custom_id="d", text="hello world")
    assert counter_for("tiktoken:cl100k_base").count(request).tokens == 2


class Label(BaseModel):
    """Spam or not."""

    label: str
    confidence: float


def test_response_model_schema_is_counted_and_flagged_approximate() -> None:
    plain = ChatRequest(custom_id="a", messages=[{"role": "user", "content": "hi"}])
    typed = ChatRequest(
        custom_id="a", messages=[{"role": "user", "content": "hi"}], response_model=Label
    )
    counter = counter_for("tiktoken:o200k_base")
    assert counter.count(plain).exact
    with_schema = counter.count(typed)
    assert not with_schema.exact
    assert with_schema.tokens > counter.count(plain).tokens + 10


def test_images_are_counted_with_an_assumed_figure_and_flagged() -> None:
    parts = [{"type": "text", "text": "what is this"}, {"type": "image", "url": "https://x/y.png"}]
    request = ChatRequest(custom_id="i", messages=[{"role": "user", "content": parts}])
    count = counter_for("tiktoken:o200k_base").count(request)
    assert not count.exact
    assert count.tokens > 765


def test_other_vendors_are_approximate_chars_over_four() -> None:
    request = ChatRequest(custom_id="a", messages=[{"role": "user", "content": "x" * 41}])
    count = counter_for("chars:4").count(request)
    # reply primer 3 + per message 3 + "user" 1 + ceil(41 / 4) = 11
    assert (count.tokens, count.exact) == (3 + 3 + 1 + 11, False)


def _encodings_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped encodings folder, safe to damage."""
    target = tmp_path / "encodings-copy"
    shutil.copytree(ENCODINGS_DIR, target)
    return target


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any attempt by tiktoken to fetch a file fail the test."""
    import tiktoken.load

    def refuse(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("tiktoken tried to download an encoding")

    monkeypatch.setattr(tiktoken.load, "read_file", refuse)


@pytest.mark.usefixtures("no_download")
def test_exact_offline_from_the_shipped_files_whatever_tiktokens_cache_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An empty tiktoken cache and no network: the counts are still exact, from the package.
    empty = tmp_path / "empty-cache"
    empty.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(empty))
    assert (count_chat_tokens(COOKBOOK_MESSAGES, model="gpt-4o").tokens, True) == (124, True)
    assert count_chat_tokens(COOKBOOK_MESSAGES, model="gpt-4").tokens == 129
    text = count_text_tokens("tiktoken is great!", model="text-embedding-3-small")
    assert (text.tokens, text.exact) == (6, True)  # tiktoken's README: 6 tokens on cl100k
    assert list(empty.iterdir()) == []


@pytest.mark.usefixtures("no_download")
def test_missing_encoding_files_fall_back_without_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "no-encodings"
    empty.mkdir()
    monkeypatch.setattr(_encodings, "ENCODINGS_DIR", empty)
    text = "This late pivot means we don't have time to boil the ocean."
    count = count_text_tokens(text, model="text-embedding-3-small")
    assert (count.tokens, count.exact) == (math.ceil(len(text) / 4), False)
    chat = count_chat_tokens(COOKBOOK_MESSAGES, model="gpt-4o")
    assert not chat.exact and chat.tokens > 0
    assert "not loadable" in chat.method


def test_without_tiktoken_installed_counts_are_approximate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh folder holding the real files, so only the missing module can fail.
    monkeypatch.setattr(_encodings, "ENCODINGS_DIR", _encodings_copy(tmp_path))
    monkeypatch.setitem(sys.modules, "tiktoken", None)
    count = count_chat_tokens(COOKBOOK_MESSAGES, model="gpt-4o")
    assert not count.exact
    assert count.tokens > 0


@pytest.mark.parametrize("damage", ["truncated", "altered"])
def test_a_damaged_shipped_file_is_refused_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    folder = _encodings_copy(tmp_path)
    blob = folder / "o200k_base.tiktoken.gz"
    if damage == "truncated":
        blob.write_bytes(blob.read_bytes()[:1000])
    else:  # a valid gzip whose content is not the pinned file: the hash must catch it
        original = gzip.decompress(blob.read_bytes())
        blob.write_bytes(gzip.compress(original.replace(b" 1\n", b" 2\n", 1)))
    monkeypatch.setattr(_encodings, "ENCODINGS_DIR", folder)
    assert not count_text_tokens("hello", model="gpt-4o").exact
    assert count_text_tokens("hello", model="text-embedding-3-small").exact  # cl100k intact
