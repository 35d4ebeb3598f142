"""Every CLI command through click's runner, human and --json output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import batchkit as bk
from batchkit.cli import cli


@pytest.fixture
def requests_file(tmp_path: Path) -> Path:
    path = tmp_path / "mails.jsonl"
    lines = [
        json.dumps({"custom_id": f"m{i}", "messages": [{"role": "user", "content": f"mail {i}"}],
                    "metadata": {"inbox": "a"}})
        for i in range(12)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_submit_wait_status_list_results(requests_file: Path, tmp_path: Path) -> None:
    out = invoke("submit", str(requests_file), "-p", "fake:m", "-s", "max_requests=5", "--json")
    data = json.loads(out)
    job_id = data["id"]
    assert data["request_count"] == 12 and len(data["shards"]) == 3
    assert all(s["remote_id"] for s in data["shards"])

    human = invoke("status", job_id)
    assert job_id in human and "fake:m" in human and "shards" in human

    waited = json.loads(invoke("wait", job_id, "--json"))
    assert waited["state"] == "completed"
    assert invoke("wait", job_id).count(job_id) >= 1

    listed = json.loads(invoke("list", "--json"))
    assert [j["id"] for j in listed] == [job_id]
    assert job_id in invoke("list")

    out_path = tmp_path / "results.jsonl"
    summary = json.loads(invoke("results", job_id, "-o", str(out_path), "--json"))
    assert summary["written"] == 12 and summary["counts"] == {"succeeded": 12}
    rows = [json.loads(line) for line in out_path.read_text().splitlines()]
    assert [r["custom_id"] for r in rows] == [f"m{i}" for i in range(12)]
    assert rows[3]["metadata"] == {"inbox": "a"} and rows[3]["text"] == "echo: mail 3"
    assert "wrote 12 results" in invoke("results", job_id, "-o", str(out_path))


def test_submit_with_wait_writes_results(requests_file: Path, tmp_path: Path) -> None:
    out_path = tmp_path / "r.jsonl"
    out = invoke("submit", str(requests_file), "-p", "fake:m", "--wait", "--results",
                 str(out_path))
    assert "succeeded=12" in out
    assert len(out_path.read_text().splitlines()) == 12
    data = json.loads(invoke("submit", str(requests_file), "-p", "fake:m", "--wait", "--json"))
    assert data["state"] == "completed" and data["results"] == {"succeeded": 12}


def test_cancel(requests_file: Path) -> None:
    states = 'states=["running","running","running"]'
    job_id = json.loads(invoke("submit", str(requests_file), "-p", "fake:m", "-s", states,
                               "--json"))["id"]
    assert "cancelling" in invoke("cancel", job_id)
    assert json.loads(invoke("cancel", job_id, "--json"))["state"] == "cancelling"
    assert json.loads(invoke("wait", job_id, "--json"))["state"] == "cancelled"


def test_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    rows = {r["name"]: r for r in json.loads(invoke("providers", "--json"))}
    assert rows["openai"]["installed"] is True
    assert rows["openai"]["credentials"] == {"OPENAI_API_KEY": True}
    assert rows["fake"]["credentials"] == {}
    human = invoke("providers")
    assert "OPENAI_API_KEY set" in human and "sk-test" not in human


def test_errors_are_one_line_without_traceback(requests_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(cli, ["submit", str(requests_file), "-p", "opnai:gpt-4o"])
    assert bad.exit_code == 1
    assert "did you mean 'openai'" in bad.output and "Traceback" not in bad.output
    missing = runner.invoke(cli, ["status", "bk_nope"])
    assert missing.exit_code == 1 and "no job 'bk_nope'" in missing.output
    dup = tmp_path / "dup.jsonl"
    dup.write_text('{"custom_id": "a", "text": "x"}\n{"custom_id": "a", "text": "y"}\n')
    res = runner.invoke(cli, ["submit", str(dup), "-p", "fake:m"])
    assert res.exit_code == 1 and "duplicate custom_id" in res.output
    assert bk.list_jobs() == []


def test_csv_and_response_model(tmp_path: Path) -> None:
    csv_path = tmp_path / "docs.csv"
    csv_path.write_text("custom_id,text,title\nd1,hello,Hello\nd2,world,World\n")
    data = json.loads(invoke("submit", str(csv_path), "-p", "fake:m", "--wait", "--json"))
    assert data["results"] == {"succeeded": 2}
    chat_data = json.loads(invoke(
        "submit", str(csv_path), "-p", "fake:m", "--kind", "chat",
        "--response-model", "tests.test_orchestration:Label", "--wait", "--json"))
    results = bk.get_job(chat_data["id"]).results()
    assert all(r.parsed is not None and r.metadata["title"] for r in results)


def test_convert_writes_vendor_files_offline(requests_file: Path, tmp_path: Path) -> None:
    out = json.loads(invoke("convert", str(requests_file), "--to", "fake:m", "-o",
                            str(tmp_path / "conv"), "--json"))
    assert len(out["files"]) == 1
    lines = Path(out["files"][0]).read_text().splitlines()
    assert len(lines) == 12 and json.loads(lines[0])["id"] == "m0"
    assert "payload.jsonl" in invoke("convert", str(requests_file), "--to", "fake:m", "-o",
                                     str(tmp_path / "conv2"))
    assert bk.list_jobs() == []
