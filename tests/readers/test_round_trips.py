"""Each vendor's native input file -> neutral requests -> the same vendor's file again keeps
every field: the parsed JSON of each output line equals its input line, but for the row id
batchkit adds where a format has none (``_samples.without_batchkit_ids``)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

import batchkit as bk
from batchkit._convert import convert

from ._samples import ALL_SAMPLES, READ_AS, sample, without_batchkit_ids


@pytest.mark.parametrize("stem", sorted(ALL_SAMPLES))
def test_a_native_file_comes_back_field_for_field(tmp_path: Path, stem: str) -> None:
    out = tmp_path / "back.jsonl"
    options = {"endpoint": "responses"} if stem == "openai_responses" else None
    count = convert(sample(stem), ALL_SAMPLES[stem][1], out, format=READ_AS.get(stem),
                    options=options)
    given = [orjson.loads(x) for x in sample(stem).read_bytes().splitlines()]
    written = [without_batchkit_ids(orjson.loads(x)) for x in out.read_bytes().splitlines()]
    assert count == len(given)
    assert written == given


def test_raw_fields_round_trip_inside_a_family(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    line = {"custom_id": "u", "method": "POST", "url": "/v1/chat/completions", "body": {
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}],
        "user": "user-42", "presence_penalty": 0.5, "metadata": {"team": "a"}}}
    source.write_bytes(orjson.dumps(line))
    for target in ("openai:gpt-4o-mini", "azure:gpt-4o-mini"):
        out = tmp_path / "out.jsonl"
        convert(source, target, out)
        body = orjson.loads(out.read_bytes())["body"]
        assert (body["user"], body["presence_penalty"], body["metadata"]) == (
            "user-42", 0.5, {"team": "a"})
    [read] = bk.read_requests(source)
    assert read.params == {"user": "user-42", "presence_penalty": 0.5, "metadata": {"team": "a"}}


def test_anthropic_raw_fields_and_cache_breakpoints_round_trip(tmp_path: Path) -> None:
    line = {"custom_id": "c", "params": {
        "model": "claude-haiku-4-5", "max_tokens": 2048, "metadata": {"user_id": "u-1"},
        "system": [{"type": "text", "text": "Long shared context.",
                    "cache_control": {"type": "ephemeral"}}],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "stop_sequences": ["###"],
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "Summarise", "cache_control": {"type": "ephemeral"}},
            {"type": "document", "title": "spec",
             "source": {"type": "url", "url": "https://example.com/spec.pdf"}}]}]}}
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(orjson.dumps(line))
    convert(source, "anthropic:claude-haiku-4-5", out)
    assert orjson.loads(out.read_bytes()) == line
    [read] = bk.read_requests(source)
    assert isinstance(read, bk.ChatRequest) and read.reasoning is not None
    assert (read.reasoning.budget_tokens, read.stop, read.params) == (
        1024, ["###"], {"metadata": {"user_id": "u-1"}})
    assert read.messages[0].cache and read.messages[1].parts[0].cache


def test_vertex_labels_of_a_foreign_pipeline_stay_and_batchkit_ids_are_read(
        tmp_path: Path) -> None:
    lines = [{"request": {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
                          "labels": {"team": "research"}}},
             {"request": {"contents": [{"role": "user", "parts": [{"text": "Yo"}]}],
                          "labels": {"team": "ops", "batchkit_id": "mine-7"}}}]
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(b"\n".join(orjson.dumps(x) for x in lines))
    first, second = bk.read_requests(source)
    assert (first.custom_id, first.params) == ("row-1", {"labels": {"team": "research"}})
    assert (second.custom_id, second.params) == ("mine-7", {"labels": {"team": "ops"}})
    convert(source, "vertex:gemini-2.5-flash", out)
    written = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert written[1] == lines[1]
    assert written[0]["request"]["labels"] == {"team": "research", "batchkit_id": "row-1"}
    with pytest.raises(bk.InvalidRequestError, match=r"^line 1, custom_id 'row-1': field"):
        convert(source, "gemini:gemini-2.5-flash", tmp_path / "g.jsonl")
