"""Every vendor's native batch INPUT file (hand-written from the vendors' documentation, see
samples/README.md) is detected from its first line and read field by field into the neutral
requests it describes; a bad line is one error naming its line, its id and the rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import batchkit as bk
from batchkit._readers import detect_format
from batchkit._registry import input_formats

from ._samples import (
    ALL_SAMPLES,
    ASK,
    CHAT_IDS,
    CHAT_SAMPLES,
    PLACE_PROPERTIES,
    PLAIN,
    STRUCTURED,
    SYSTEM,
    WEATHER_PARAMETERS,
    sample,
)


@pytest.mark.parametrize("stem", sorted(ALL_SAMPLES))
def test_the_format_is_found_from_the_first_line_and_no_other_reader_claims_a_line(
        stem: str) -> None:
    assert detect_format(sample(stem)) == ALL_SAMPLES[stem][0]
    for raw in sample(stem).read_text().splitlines():
        claims = [name for name, reader in input_formats() if reader.looks_like(json.loads(raw))]
        assert claims == [ALL_SAMPLES[stem][0]], raw


@pytest.mark.parametrize("stem", sorted(CHAT_SAMPLES))
def test_every_chat_sample_reads_into_the_same_three_requests(stem: str) -> None:
    plain, structured, tool = bk.read_requests(sample(stem))
    assert isinstance(plain, bk.ChatRequest) and isinstance(structured, bk.ChatRequest)
    assert isinstance(tool, bk.ChatRequest)
    assert [plain.custom_id, structured.custom_id, tool.custom_id] == CHAT_IDS.get(
        stem, ["plain-1", "struct-1", "tool-1"])
    assert [(m.role, m.content) for m in plain.messages] == [("system", SYSTEM), ("user", PLAIN)]
    assert (plain.max_tokens, structured.max_tokens, tool.max_tokens) == (200, 300, 100)
    assert [(m.role, m.content) for m in structured.messages] == [("user", STRUCTURED)]
    schema = structured.response_schema or {}
    assert (schema.get("title"), schema.get("properties")) == ("Place", PLACE_PROPERTIES)
    assert schema.get("required") == ["city", "country"]
    assert tool.tools is not None and len(tool.tools) == 1
    assert (tool.tools[0].name, tool.tools[0].description) == (
        "get_weather", "Current weather for a city.")
    assert tool.tools[0].parameters == WEATHER_PARAMETERS
    assert tool.tool_choice == "get_weather"
    ask, call, answer = tool.messages
    assert (ask.role, ask.content) == ("user", ASK)
    assert call.role == "assistant" and call.content is None and call.tool_calls is not None
    [made] = call.tool_calls
    assert (made.name, made.arguments) == ("get_weather", {"city": "Paris"})
    assert answer.role == "tool" and answer.tool_call_id == made.id
    assert json.loads(answer.text) == {"temp_c": 18}
    if stem not in ("vertex_chat", "vertex_embeddings"):
        assert made.id == "callParis"
    assert (plain.params, structured.params, tool.params) == ({}, {}, {})


def test_responses_lines_read_like_chat_lines() -> None:
    plain, structured, tool = bk.read_requests(sample("openai_responses"))
    assert isinstance(plain, bk.ChatRequest) and plain.system == SYSTEM
    assert plain.max_tokens == 200 and plain.messages[1].content == PLAIN
    assert isinstance(structured, bk.ChatRequest) and structured.response_schema is not None
    assert structured.response_schema["properties"] == PLACE_PROPERTIES
    assert isinstance(tool, bk.ChatRequest) and tool.tools is not None
    assert tool.tools[0].strict is False and tool.tool_choice == "get_weather"
    assert [m.role for m in tool.messages] == ["user", "assistant", "tool"]
    assert tool.messages[2].tool_call_id == "callParis"


@pytest.mark.parametrize(("stem", "ids", "dimensions", "input_types"), [
    ("openai_embeddings", ["emb-1", "emb-2"], [None, 256], [None, None]),
    ("mistral_embeddings", ["emb-1", "emb-2"], [None, 512], [None, None]),
    ("gemini_embeddings", ["emb-1", "emb-2"], [None, 768], ["search_query", None]),
    ("vertex_embeddings", ["row-1", "row-2"], [None, None], [None, "search_document"]),
    ("cohere_embeddings", ["row-1", "row-2"], [None, None], [None, None]),
])
def test_embedding_samples_read_text_ids_dimensions_and_input_types(
        stem: str, ids: list[str], dimensions: list[int | None],
        input_types: list[str | None]) -> None:
    rows = list(bk.read_requests(sample(stem)))
    texts = [next(iter(v for k, v in json.loads(raw).items() if k in ("text", "content")))
             if stem.startswith(("vertex", "cohere")) else None
             for raw in sample(stem).read_text().splitlines()]
    assert all(isinstance(r, bk.EmbedRequest) for r in rows)
    assert [r.custom_id for r in rows] == ids
    assert [r.dimensions for r in rows] == dimensions  # type: ignore[union-attr]
    assert [r.input_type for r in rows] == input_types  # type: ignore[union-attr]
    if stem.startswith(("vertex", "cohere")):
        assert [r.text for r in rows] == texts  # type: ignore[union-attr]
    if stem == "cohere_embeddings":
        assert rows[1].metadata == {"source": "handbook"}
    if stem == "vertex_embeddings":
        assert rows[1].params == {"title": "Fox"}
    if stem == "openai_embeddings":
        assert rows[0].params == {"encoding_format": "float"}


def _write(tmp_path: Path, *lines: Any) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines))
    return path


def test_older_and_shorter_spellings_are_read(tmp_path: Path) -> None:
    legacy = {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
              "body": {"model": "gpt-4o", "max_tokens": 9, "stop": "END",
                       "messages": [{"role": "user", "content": "hi"}]}}
    [chat] = bk.read_requests(_write(tmp_path, legacy))
    assert isinstance(chat, bk.ChatRequest) and (chat.max_tokens, chat.stop) == (9, ["END"])
    one_string = {"custom_id": "r", "method": "POST", "url": "/v1/responses",
                  "body": {"model": "gpt-4.1", "input": "Tell me a story."}}
    [story] = bk.read_requests(_write(tmp_path, one_string))
    assert isinstance(story, bk.ChatRequest) and story.messages[0].content == "Tell me a story."
    snake = {"key": "g", "request": {"contents": [{"parts": [{"text": "Hi"}]}],
                                     "generation_config": {"temperature": 0.7}}}
    [gemini] = bk.read_requests(_write(tmp_path, snake))
    assert isinstance(gemini, bk.ChatRequest) and gemini.temperature == 0.7
    assert (gemini.messages[0].role, gemini.params) == ("user", {})


def test_a_list_input_embedding_line_is_one_request_of_its_texts(tmp_path: Path) -> None:
    line = {"custom_id": "docs", "method": "POST", "url": "/embeddings",
            "body": {"model": "text-embedding-3-small", "input": ["one", "two", "three"]}}
    [row] = bk.read_requests(_write(tmp_path, line))
    assert isinstance(row, bk.EmbedRequest)
    assert (row.custom_id, row.text, row.texts) == ("docs", None, ["one", "two", "three"])


@pytest.mark.parametrize(("line", "rule"), [
    ({"custom_id": "t", "method": "POST", "url": "/v1/embeddings",
      "body": {"model": "m", "input": [[1, 2, 3]]}}, "token ids are not read"),
    ({"custom_id": "t", "method": "POST", "url": "/v1/completions", "body": {"model": "m"}},
     "url '/v1/completions' is not supported"),
    ({"custom_id": "t", "method": "GET", "url": "/v1/responses", "body": {"model": "m"}},
     "'method' must be POST"),
    ({"custom_id": "t", "method": "POST", "url": "/v1/responses",
      "body": {"model": "m", "input": [{"type": "web_search_call"}]}},
     "item type 'web_search_call' is not read"),
    ({"custom_id": "t", "params": {"model": "claude", "max_tokens": 5, "messages": [
        {"role": "user", "content": [{"type": "search_result"}]}]}},
     "content block type 'search_result' is not read"),
    ({"custom_id": "t", "params": {"model": "claude", "max_tokens": 5, "messages": [
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x",
                                      "is_error": True, "content": "boom"}]}]}},
     "is_error has no neutral form"),
    ({"custom_id": "t", "params": "not an object"}, "'params' must be a JSON object"),
    ({"key": "t", "request": {"contents": []}}, "must be a non-empty list of turns"),
    ({"key": "t", "request": {"contents": [{"role": "user", "parts": [
        {"functionResponse": {"name": "f", "response": {}}}]}]}},
     "functionResponse 'f' answers no earlier functionCall"),
    ({"key": "t", "request": {"content": {"parts": [{"text": "a"}, {"text": "b"}]}}},
     "must hold one text part"),
    ({"custom_id": "t", "body": {"messages": "hi"}, "url_typo": 1},
     "unknown line field(s) url_typo"),
])
def test_a_bad_line_is_one_error_naming_line_id_and_rule(tmp_path: Path, line: dict[str, Any],
                                                         rule: str) -> None:
    path = tmp_path / "bad.jsonl"
    first = json.dumps(line)
    path.write_text(first + "\n" + first)  # the same format twice: the first line is read
    with pytest.raises(bk.InvalidRequestError) as caught:
        list(bk.read_requests(path))
    message = str(caught.value)
    assert "\n" not in message and message.startswith("line 1, custom_id 't': "), message
    assert rule in message


def test_format_names_the_reader_and_a_model_skips_detection(tmp_path: Path) -> None:
    path = _write(tmp_path, {"content": "plain row"})
    [row] = bk.read_requests(path, format="vertex:text-embedding-005")
    assert isinstance(row, bk.EmbedRequest) and row.custom_id == "row-1"
    with pytest.raises(bk.ConfigError, match="no reader for 'nosuch'"):
        list(bk.read_requests(path, format="nosuch"))


def test_lines_of_one_shape_read_as_the_constructor_builds_them(tmp_path: Path) -> None:
    def line(cid: str, text: str) -> dict[str, Any]:
        return {"custom_id": cid, "method": "POST", "url": "/v1/chat/completions",
                "body": {"model": "gpt-4o-mini", "max_completion_tokens": 50, "messages": [
                    {"role": "developer", "content": "Be brief."},
                    {"role": "user", "content": text}]}}
    rows = list(bk.read_requests(_write(tmp_path, *(line(f"r{i}", f"text {i}")
                                                    for i in range(3)))))
    for i, row in enumerate(rows):
        built = bk.ChatRequest(custom_id=f"r{i}", max_tokens=50, params={}, messages=[
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": f"text {i}"}])
        assert row == built and row.model_fields_set == built.model_fields_set
        assert row.messages[1].model_fields_set == built.messages[1].model_fields_set
    for bad, rule in ((line("r9", ""), "message content must not be empty"),
                      (line("r9", "bad \ud800"), "surrogate"),
                      (line("", "fine"), "custom_id: must not be empty")):
        path = tmp_path / "bad.jsonl"
        path.write_text(json.dumps(line("r1", "ok")) + "\n" + json.dumps(bad))
        with pytest.raises(bk.InvalidRequestError, match=rule) as caught:
            list(bk.read_requests(path))
        assert str(caught.value).startswith("line 2")


def test_a_vendor_that_shares_a_format_names_it_too() -> None:
    by_alias = list(bk.read_requests(sample("azure_chat"), format="azure"))
    by_format = list(bk.read_requests(sample("azure_chat"), format="openai"))
    assert by_alias == by_format and len(by_alias) == 3
    [*together] = bk.read_requests(sample("together_chat"), format="together")
    assert [r.custom_id for r in together] == ["plain-1", "struct-1", "tool-1"]


def test_no_vendor_reader_claims_a_neutral_line_however_many_fields_it_spells_out(
        tmp_path: Path) -> None:
    """A neutral line written with every field (``model_dump``) has a ``params`` object beside
    its ``messages``, as an Anthropic line has beside its ``custom_id``: it stays neutral."""
    request = bk.ChatRequest(custom_id="q0", messages=[bk.Message(role="user", content="hi")],
                             params={"seed": 7})
    line = request.model_dump(mode="json", exclude={"response_model"})
    embed = bk.EmbedRequest(custom_id="e0", text="doc").model_dump(mode="json")
    for obj in (line, embed):
        assert [name for name, reader in input_formats() if reader.looks_like(obj)] == []
    path = tmp_path / "neutral.jsonl"
    path.write_text(json.dumps(line) + "\n")
    assert list(bk.read_requests(path)) == [request]
