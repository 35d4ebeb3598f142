"""``batchkit convert`` on the command line: a .jsonl output is one streamed file, no output is
standard output, a bare ``--to vendor`` keeps the file's model, ``--from`` names a format the
first line does not tell, and a refused line leaves the output as it was."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from batchkit.cli import cli

from ._samples import sample


def test_to_a_jsonl_file_with_the_files_own_model(tmp_path: Path) -> None:
    out = tmp_path / "azure.jsonl"
    result = CliRunner().invoke(cli, ["convert", str(sample("openai_chat")), "--to", "azure",
                                      "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"provider": "azure", "files": [str(out)], "lines": 3}
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert {x["url"] for x in lines} == {"/chat/completions"}
    assert {x["body"]["model"] for x in lines} == {"gpt-4o-mini"}


def test_to_standard_output_and_from_a_named_format(tmp_path: Path) -> None:
    source = tmp_path / "rows.jsonl"
    source.write_text('{"content": "first"}\n{"content": "second"}\n')
    result = CliRunner().invoke(cli, ["convert", str(source), "--from",
                                      "vertex:text-embedding-005", "--to",
                                      "gemini:gemini-embedding-001"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.output.splitlines()]
    assert [x["key"] for x in lines] == ["row-1", "row-2"]
    assert [x["request"]["content"]["parts"][0]["text"] for x in lines] == ["first", "second"]


def test_a_bare_vendor_needs_a_model_when_the_lines_name_none(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["convert", str(sample("gemini_chat")), "--to", "openai"])
    assert result.exit_code != 0
    assert "the source lines name no model: give one (--to openai:MODEL)" in result.output


def test_a_refused_line_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    out = tmp_path / "cohere.jsonl"
    result = CliRunner().invoke(cli, ["convert", str(sample("anthropic_chat")), "--to",
                                      "cohere:command-r-plus-08-2024", "-o", str(out)])
    assert result.exit_code != 0
    assert "line 3, custom_id 'tool-1': cohere: tool_choice='get_weather'" in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == []
