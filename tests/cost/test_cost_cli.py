"""``batchkit estimate / compare / prices`` through click's CliRunner, human and --json."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from batchkit.cli._cost import register

TARGETS = [
    "openai:gpt-4o-mini",
    "anthropic:claude-haiku-4-5",
    "gemini:gemini-2.5-flash",
    "vertex:gemini-2.5-flash",
    "bedrock:amazon.nova-lite-v1:0",
    "mistral:mistral-small-latest",
    "groq:llama-3.1-8b-instant",
    "azure:gpt-4o-mini",
]


def _invoke(*args: str) -> Result:
    group = click.Group("batchkit")
    register(group)
    # A wide terminal so rich does not fold the provider names.
    return CliRunner().invoke(group, list(args), env={"COLUMNS": "240"}, catch_exceptions=False)


def test_register_adds_three_commands() -> None:
    group = click.Group("batchkit")
    register(group)
    assert set(group.commands) == {"estimate", "compare", "prices"}


def test_estimate_table(write_requests: Callable[[int], Path]) -> None:
    result = _invoke("estimate", str(write_requests(20)), "-p", "openai:gpt-4o-mini")
    assert result.exit_code == 0, result.output
    assert "openai:gpt-4o-mini" in result.output and "20 requests" in result.output
    assert "$" in result.output and "as of" in result.output


def test_estimate_json(write_requests: Callable[[int], Path]) -> None:
    path = write_requests(20)
    result = _invoke(
        "estimate", str(path), "-p", "openai:gpt-4o-mini", "--json", "--expected-output", "2"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["requests"] == 20 and data["input_exact"] is True
    assert data["output_tokens_max"] == 20 * 5 and data["output_tokens_expected"] == 20 * 2
    expected = (data["input_tokens"] * 0.075 + 40 * 0.30) / 1e6
    assert data["batch_cost_expected"] == pytest.approx(expected)


def test_estimate_unknown_model_exits_with_suggestions(
    write_requests: Callable[[int], Path],
) -> None:
    result = _invoke("estimate", str(write_requests(2)), "-p", "openai:gpt-4o-mni")
    assert result.exit_code != 0
    assert "openai:gpt-4o-mini" in result.output


def test_compare_table_and_json_over_ten_thousand(write_requests: Callable[[int], Path]) -> None:
    path = write_requests(10_000)
    flags = [arg for target in TARGETS for arg in ("-p", target)]
    human = _invoke("compare", str(path), *flags)
    assert human.exit_code == 0, human.output
    assert all(target in human.output for target in TARGETS)
    assert "What differs" in human.output and "groq 25%" in human.output
    data = json.loads(_invoke("compare", str(path), *flags, "--json").output)
    assert [e["requests"] for e in data["estimates"]] == [10_000] * len(TARGETS)
    costs = [e["batch_cost_expected"] for e in data["estimates"]]
    assert costs == sorted(costs)


def test_compare_plot_without_matplotlib_names_the_extra(
    write_requests: Callable[[int], Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "chart.png"
    result = _invoke(
        "compare", str(write_requests(5)), "-p", TARGETS[0], "-p", TARGETS[1], "--plot", str(out)
    )
    assert result.exit_code != 0
    assert 'pip install "batchkit[plot]"' in result.output
    assert not out.exists()


def test_compare_plot_draws_a_png(write_requests: Callable[[int], Path], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "chart.png"
    result = _invoke(
        "compare", str(write_requests(5)), "-p", TARGETS[0], "-p", TARGETS[1], "--plot", str(out)
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_prices_table_and_filter() -> None:
    result = _invoke("prices", "--provider", "groq")
    assert result.exit_code == 0, result.output
    assert "groq:llama-3.3-70b-versatile" in result.output and "25%" in result.output
    assert "openai:" not in result.output


def test_prices_json_has_sources_and_dates() -> None:
    data = json.loads(_invoke("prices", "--json").output)
    assert len(data["models"]) >= 25 and len(data["rules"]) == 10
    assert all(row["source"] and row["as_of"] for row in data["models"])


def test_prices_unknown_provider() -> None:
    result = _invoke("prices", "--provider", "opanai")
    assert result.exit_code != 0 and "known:" in result.output
