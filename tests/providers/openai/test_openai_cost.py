"""Budget cap and actual cost, through the API and the CLI, on the OpenAI emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import batchkit as bk
from batchkit.cli import cli
from batchkit.cost import cost_of_usage
from batchkit.testing import emulate


@pytest.fixture
def openai_emulator() -> Iterator[Any]:
    with emulate(providers=["openai"]) as handle:
        yield handle.apps["openai"]


def _requests(n: int, max_tokens: int) -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"q{i}", max_tokens=max_tokens,
                           messages=[{"role": "user", "content": f"question {i}"}])
            for i in range(n)]


def test_budget_refuses_before_anything_is_sent(openai_emulator: Any) -> None:
    # 1,000 requests x 4,000 output tokens on gpt-4o-mini batch ($0.30/M out) = $1.20 at most
    with pytest.raises(bk.BudgetExceededError, match=r"over the \$0.50 budget"):
        bk.submit(_requests(1000, 4000), "openai:gpt-4o-mini", max_cost_usd=0.50)
    assert openai_emulator.uploads == 0 and openai_emulator.creates == 0
    assert bk.list_jobs() == []


def test_budget_admits_a_cheap_job_and_reports_actual_cost(openai_emulator: Any) -> None:
    job = bk.submit(_requests(40, 100), "openai:gpt-4o-mini", max_cost_usd=0.50)
    assert job.estimate is not None and 0 < job.estimate["batch_cost_max"] <= 0.50
    results = job.wait().results()
    assert results.counts() == {"succeeded": 40}
    for r in results:
        assert r.usage is not None and r.cost_usd is not None
        assert r.cost_usd == pytest.approx(cost_of_usage("openai", "gpt-4o-mini", r.usage))
    assert results.cost_usd == pytest.approx(sum(r.cost_usd or 0 for r in results))
    assert 0 < (results.cost_usd or 0) <= job.estimate["batch_cost_max"]


def test_cli_max_cost(openai_emulator: Any, tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(
        {"custom_id": f"q{i}", "max_tokens": 4000,
         "messages": [{"role": "user", "content": "hello"}]}) + "\n" for i in range(1000)))
    runner = CliRunner()
    refused = runner.invoke(cli, ["submit", str(path), "-p", "openai:gpt-4o-mini",
                                  "--max-cost", "0.5"])
    assert refused.exit_code == 1 and "budget" in refused.output
    assert "Traceback" not in refused.output and openai_emulator.creates == 0
    ok = runner.invoke(cli, ["submit", str(path), "-p", "openai:gpt-4o-mini", "--max-cost", "5",
                             "--wait", "--json"])
    assert ok.exit_code == 0, ok.output
    summary = json.loads(ok.output)
    assert summary["estimate"]["max_cost_usd"] == 5
    assert 0 < summary["cost_usd"] < summary["estimate"]["batch_cost_max"]
    status = runner.invoke(cli, ["status", summary["id"]])
    assert "estimated batch cost" in status.output and "actual cost: $" in status.output
    as_json = json.loads(runner.invoke(cli, ["status", summary["id"], "--json"]).output)
    assert as_json["actual_cost_usd"] == pytest.approx(summary["cost_usd"])


def test_estimate_shows_what_dedupe_and_the_cache_saved(openai_emulator: Any,
                                                        tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    rows = [{"custom_id": f"q{i}", "max_tokens": 50, "temperature": 0,
             "messages": [{"role": "user", "content": f"question {i % 30}"}]} for i in range(40)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    runner = CliRunner()
    args = ["submit", str(path), "-p", "openai:gpt-4o-mini", "--cache", "--max-cost", "1",
            "--wait", "--json"]
    first = json.loads(runner.invoke(cli, args).output)
    assert first["estimate"]["requests_sent"] == 30 and first["estimate"]["saved_by_dedupe"] == 10
    assert first["results"] == {"succeeded": 40}
    creates = openai_emulator.creates
    again = json.loads(runner.invoke(cli, args).output)
    # every copy finds the cached reply of its identical request too
    assert again["estimate"]["requests_sent"] == 0 and again["estimate"]["saved_by_cache"] == 40
    assert again["results"] == {"succeeded": 40} and again["cost_usd"] == 0
    assert openai_emulator.creates == creates
