"""``batchkit run``: real-time and auto runs from a file, limits from flags and batchkit.toml,
one-line errors for bad flags, before anything is recorded."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
from click.testing import CliRunner

import batchkit as bk
from batchkit.cli import cli
from batchkit.testing._fake import fake_realtime_calls


def _file(tmp_path: Path, n: int = 30) -> Path:
    path = tmp_path / "requests.jsonl"
    path.write_text("".join(json.dumps({
        "custom_id": f"r{i}", "max_tokens": 20,
        "messages": [{"role": "user", "content": f"hello {i}"}]}) + "\n" for i in range(n)))
    return path


def test_run_realtime_writes_results_and_summary(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(cli, ["run", str(_file(tmp_path)), "-p", "fake:m", "--mode",
                                      "realtime", "--concurrency", "4", "--rpm", "6000",
                                      "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["mode"] == "realtime" and summary["results"] == {"succeeded": 30}
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [r["custom_id"] for r in rows] == [f"r{i}" for i in range(30)]
    assert rows[3]["text"] == "echo: hello 3"
    assert len(fake_realtime_calls()) == 30
    assert bk.list_jobs()[0].options["rpm"] == 6000


def test_run_auto_picks_batch_for_a_big_job(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", str(_file(tmp_path)), "-p", "fake:m",
                                      "-s", "realtime_below=10", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["mode"] == "batch"
    assert fake_realtime_calls() == {}


def test_limits_table_reaches_a_realtime_job(tmp_path: Path) -> None:
    (tmp_path / "batchkit.toml").write_text('[limits."fake:m"]\nrpm = 900\ntpm = 50000\n')
    result = CliRunner().invoke(cli, ["run", str(_file(tmp_path, 3)), "-p", "fake:m",
                                      "--mode", "realtime", "--json"])
    assert result.exit_code == 0, result.output
    options = bk.list_jobs()[0].options
    assert options["rpm"] == 900 and options["tpm"] == 50000


def test_bad_flags_are_one_line_errors_and_record_nothing(tmp_path: Path) -> None:
    runner = CliRunner()
    bad_output = runner.invoke(cli, ["run", str(_file(tmp_path)), "-p", "fake:m",
                                     "-o", "rpm=5"])
    assert bad_output.exit_code == 1
    assert "adapter options are -s KEY=VALUE" in bad_output.output
    bad_option = runner.invoke(cli, ["run", str(_file(tmp_path)), "-p", "fake:m", "--mode",
                                     "realtime", "-s", "concurrency=0"])
    assert bad_option.exit_code == 1
    assert bad_option.output.strip().count("\n") == 0
    assert "concurrency must be a whole number" in bad_option.output
    assert bk.list_jobs() == []
