"""``estimate(..., mode=...)`` and ``batchkit estimate --mode``: the mode a job would run in,
chosen by the same function ``bk.submit`` uses, why, and that mode's cost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import batchkit as bk
from batchkit.cli import cli


def _chats(n: int) -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"q{i}", max_tokens=20,
                           messages=[bk.Message(role="user", content=f"question {i}")])
            for i in range(n)]


def test_auto_picks_real_time_for_a_small_job_at_real_time_prices() -> None:
    est = bk.estimate(_chats(5), "openai:gpt-4o-mini", mode="auto")
    assert est.mode is not None and est.mode.mode == "realtime"
    assert "5 requests <= realtime_below (100)" in est.mode.reason
    assert est.mode.cost_expected == est.realtime_cost_expected
    assert est.realtime_cost_expected is not None and est.batch_cost_expected is not None
    assert est.mode.cost_expected > est.batch_cost_expected  # no batch discount


def test_auto_picks_batch_above_the_threshold_and_real_time_within_a_deadline() -> None:
    big = bk.estimate(_chats(5), "openai:gpt-4o-mini", mode="auto",
                      options={"realtime_below": 2})
    assert big.mode is not None and big.mode.mode == "batch"
    assert "5 requests > realtime_below (2)" in big.mode.reason
    assert big.mode.cost_expected == big.batch_cost_expected
    urgent = bk.estimate(_chats(5), "openai:gpt-4o-mini", mode="auto", deadline_s=600,
                         options={"realtime_below": 2})
    assert urgent.mode is not None and urgent.mode.mode == "realtime"
    assert "deadline 600 s" in urgent.mode.reason
    assert bk.estimate(_chats(5), "openai:gpt-4o-mini").mode is None


def test_an_unknown_mode_is_refused_in_one_line() -> None:
    with pytest.raises(bk.ConfigError, match="mode must be one of"):
        bk.estimate(_chats(1), "openai:gpt-4o-mini", mode="soon")


def test_cli_estimate_prints_the_mode_and_both_costs(tmp_path: Path) -> None:
    path = tmp_path / "jobs.jsonl"
    path.write_text("".join(json.dumps({"custom_id": f"q{i}", "messages": [
        {"role": "user", "content": f"question {i}"}]}) + "\n" for i in range(3)))
    runner = CliRunner()
    shown = runner.invoke(cli, ["estimate", str(path), "-p", "vertex:gemini-2.5-flash",
                                "--mode", "auto"])
    assert shown.exit_code == 0, shown.output
    assert "mode auto: runs realtime (3 requests <= realtime_below (100))" in \
        " ".join(shown.output.split())
    as_json = runner.invoke(cli, ["estimate", str(path), "-p", "vertex:gemini-2.5-flash",
                                  "--mode", "batch", "--json"])
    data = json.loads(as_json.output)
    assert data["mode"]["mode"] == "batch" and data["mode"]["reason"] == "asked for"
    assert data["mode"]["cost_expected"] == data["batch_cost_expected"]
