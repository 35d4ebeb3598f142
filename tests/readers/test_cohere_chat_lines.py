"""Cohere's chat batch lines (``batch-chat-v2-input``, see samples/README.md) are read with the
format named, field by field, and converted to other vendors; a bad line is one error naming
its line and id. Read as Mistral's (what detection says: the envelope is the same), Cohere's own
fields stay raw and a conversion elsewhere refuses them, naming them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import batchkit as bk
from batchkit._convert import convert
from batchkit.cli import cli

from ._samples import ASK, PLACE_PROPERTIES, PLAIN, STRUCTURED, SYSTEM, WEATHER_PARAMETERS, sample

COHERE_CHAT = sample("cohere_chat")


def test_every_field_of_the_sample_is_read() -> None:
    plain, structured, tool, options = bk.read_requests(COHERE_CHAT, format="cohere")
    for request in (plain, structured, tool, options):
        assert isinstance(request, bk.ChatRequest)
    assert [r.custom_id for r in (plain, structured, tool, options)] == [
        "plain-1", "struct-1", "tool-1", "options-1"]
    assert [(m.role, m.content) for m in plain.messages] == [("system", SYSTEM),
                                                              ("user", PLAIN)]
    assert (plain.max_tokens, structured.max_tokens, tool.max_tokens) == (200, 300, 100)
    assert [(m.role, m.content) for m in structured.messages] == [("user", STRUCTURED)]
    assert structured.response_schema == {"title": "Place", "type": "object",
                                          "properties": PLACE_PROPERTIES,
                                          "required": ["city", "country"]}
    assert tool.tools is not None and [(t.name, t.description, t.parameters, t.strict)
                                       for t in tool.tools] == [
        ("get_weather", "Current weather for a city.", WEATHER_PARAMETERS, True)]
    assert tool.tool_choice == "required"
    ask, call, answer = tool.messages
    assert (ask.role, ask.content) == ("user", ASK)
    assert call.tool_calls is not None and [(c.id, c.name, c.arguments)
                                            for c in call.tool_calls] == [
        ("callParis", "get_weather", {"city": "Paris"})]
    assert (answer.role, answer.tool_call_id, json.loads(answer.text)) == (
        "tool", "callParis", {"temp_c": 18})
    assert options.messages[0].text == "Summarise the attached notes."
    assert (options.max_tokens, options.temperature, options.top_p, options.seed,
            options.stop, options.logprobs) == (400, 0.3, 0.9, 7, ["END"], True)
    assert options.reasoning is not None and options.reasoning.budget_tokens == 2048
    assert options.params == {"k": 40, "safety_mode": "STRICT"}
    assert (plain.params, structured.params, tool.params) == ({}, {}, {})


def test_off_and_json_mode_are_read(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"custom_id": "a", "body": {
        "messages": [{"role": "user", "content": "Hi"}], "thinking": {"type": "disabled"},
        "response_format": {"type": "json_object"}, "tool_choice": "NONE"}}) + "\n")
    [read] = bk.read_requests(source, format="cohere")
    assert isinstance(read, bk.ChatRequest) and read.reasoning is not None
    assert (read.reasoning.off, read.json_mode, read.tool_choice, read.params) == (
        True, True, "none", {})


def test_to_gemini_with_the_format_named_and_refused_as_mistral_lines(tmp_path: Path) -> None:
    out = tmp_path / "gemini.jsonl"
    lines = COHERE_CHAT.read_text().splitlines()
    source = tmp_path / "options.jsonl"
    source.write_text(lines[3].replace(', "k": 40', "").replace(
        ', "safety_mode": "STRICT"', "").replace(', "logprobs": true', "") + "\n")
    assert convert(source, "gemini:gemini-2.5-flash", out, format="cohere") == 1
    config = json.loads(out.read_text())["request"]["generationConfig"]
    budget = config["thinkingConfig"]["thinkingBudget"]
    assert (config["topP"], config["stopSequences"], budget) == (0.9, ["END"], 2048)
    with pytest.raises(bk.InvalidRequestError, match=r"^line 1, custom_id 'options-1': "
                       r"field\(s\) p, stop_sequences, thinking of this mistral line"):
        convert(source, "gemini:gemini-2.5-flash", tmp_path / "other.jsonl")
    assert not (tmp_path / "other.jsonl").exists()


def test_the_cli_reads_a_cohere_file_with_from(tmp_path: Path) -> None:
    out = tmp_path / "openai.jsonl"
    source = tmp_path / "cohere.jsonl"
    source.write_text("".join(x + "\n" for x in COHERE_CHAT.read_text().splitlines()[:3]))
    result = CliRunner().invoke(cli, ["convert", str(source), "--from", "cohere",
                                      "--to", "openai:gpt-4o-mini", "-o", str(out)])
    assert result.exit_code == 0, result.output
    written = [json.loads(x) for x in out.read_text().splitlines()]
    assert [w["custom_id"] for w in written] == ["plain-1", "struct-1", "tool-1"]
    assert written[2]["body"]["tool_choice"] == "required"
    assert written[2]["body"]["tools"][0]["function"]["strict"] is True
    refused = CliRunner().invoke(cli, ["convert", str(COHERE_CHAT), "--from", "cohere",
                                       "--to", "openai:gpt-4o-mini", "-o", str(out)])
    assert refused.exit_code == 1
    assert refused.output.strip() == (
        "error: line 4, custom_id 'options-1': field(s) k, safety_mode of this cohere line "
        "have no neutral meaning, so openai cannot be given them; remove them, or convert to "
        "a vendor that reads the same format")
    assert len(out.read_text().splitlines()) == 3  # the first run's file, as it was


@pytest.mark.parametrize("line, rule", [
    ({"custom_id": "x", "body": []}, "'body' must be a JSON object"),
    ({"custom_id": "x", "body": {"messages": []}, "url": "/v2/chat"},
     "unknown line field(s) url"),
    ({"custom_id": "x", "body": {"inputs": [{"content": []}]}}, "the body has no 'messages'"),
    ({"custom_id": "x", "body": {"messages": [{"role": "user", "content": "Hi"}],
                                 "thinking": {"type": "enabled", "token_budget": -1}}},
     "reasoning"),
])
def test_a_bad_line_names_its_line_id_and_rule(tmp_path: Path, line: dict[str, object],
                                               rule: str) -> None:
    source = tmp_path / "in.jsonl"
    good = {"custom_id": "ok", "body": {"messages": [{"role": "user", "content": "Hi"}]}}
    source.write_text(json.dumps(good) + "\n" + json.dumps(line) + "\n")
    with pytest.raises(bk.InvalidRequestError) as caught:
        list(bk.read_requests(source, format="cohere"))
    message = str(caught.value)
    assert message.startswith("line 2, custom_id 'x': ") and rule in message
    assert "\n" not in message
