"""``batchkit prices --refresh``: LiteLLM and genai-prices files into an override file.

The fixtures in ``tests/price_refresh_data/`` are small excerpts in each dataset's own format
(with some prices changed on purpose); nothing here touches the network except a loopback HTTP
server for the URL path.
"""

from __future__ import annotations

import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

import batchkit as bk
from batchkit._exceptions import ConfigError
from batchkit.cli._cost import register
from batchkit.cost import clear_refresh, load_catalog, plan_refresh, write_refresh
from batchkit.cost._refresh import REFRESH_FILE

DATA = Path(__file__).resolve().parent / "price_refresh_data"
LITELLM = DATA / "litellm_prices_sample.json"
GENAI = DATA / "genai_prices_sample.json"


def _invoke(*args: str) -> Result:
    group = click.Group("batchkit")
    register(group)
    return CliRunner().invoke(group, list(args), env={"COLUMNS": "240"}, catch_exceptions=False)


def _litellm() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(LITELLM.read_text())
    return data


def _per_million(value: float) -> float:
    return round(value * 1_000_000, 9)


def test_litellm_plan_maps_ids_and_counts_the_diff() -> None:
    snapshot = load_catalog({})
    source = _litellm()
    plan = plan_refresh(str(LITELLM), as_of="2026-01-02")
    assert plan.format == "litellm" and plan.as_of == "2026-01-02"
    # Every mapped row exists in the snapshot under batchkit's provider:model name.
    assert set(plan.rows) == {
        "openai:gpt-4o-mini", "openai:gpt-4o", "openai:gpt-4o-2024-05-13",
        "anthropic:claude-haiku-4-5", "gemini:gemini-2.5-flash", "vertex:gemini-2.5-flash",
        "openai:text-embedding-3-small", "cohere:embed-english-v3.0"}
    assert set(plan.rows) <= set(snapshot.rows)
    # Changed rows are exactly those whose per-token price differs from the snapshot.
    for key in plan.rows:
        model = key.partition(":")[2]
        entry = source.get(model) or source[f"{key.partition(':')[0]}/{model}"]
        differs = _per_million(entry["input_cost_per_token"]) != snapshot.get(key).input
        if differs:
            assert plan.changed[key]["input"][1] == _per_million(entry["input_cost_per_token"])
    assert set(plan.changed) == {"openai:gpt-4o", "openai:gpt-4o-2024-05-13",
                                 "gemini:gemini-2.5-flash"}
    assert plan.changed["gemini:gemini-2.5-flash"] == {"cached_input": (0.075, 0.03)}
    assert len(plan.unchanged) == len(plan.rows) - len(plan.changed)
    # Embeddings keep no output price even though LiteLLM writes 0.0 for it.
    assert "output" not in plan.rows["openai:text-embedding-3-small"]
    # sample_spec, an image model and an openrouter model are not batchkit's.
    assert (plan.skipped, plan.not_added, plan.added) == (3, 2, [])
    assert plan.summary().startswith("3 rows changed, 5 unchanged, 0 added, 3 unknown models")


def test_refresh_keeps_batch_rules_and_marks_rows() -> None:
    plan = plan_refresh(str(LITELLM), as_of="2026-01-02")
    path = write_refresh(plan)
    assert path.parent == Path(os.environ["BATCHKIT_HOME"]) and path.name == REFRESH_FILE
    catalog = load_catalog()
    gpt4o = catalog.get("openai:gpt-4o")
    assert (gpt4o.input, gpt4o.output, gpt4o.origin) == (2.0, 8.0, "refresh")
    assert gpt4o.source == f"litellm file {LITELLM}" and gpt4o.as_of == "2026-01-02"
    # The batch price is the provider's rule applied to the new standard price...
    rule = catalog.rule("openai")
    batch = gpt4o.rates(rule, batch=True)
    assert batch is not None and batch.input == 2.0 * (1 - rule.batch_discount)
    # ...and a published batch price whose standard price changed is dropped, the other kept.
    dated = catalog.get("openai:gpt-4o-2024-05-13")
    assert dated.input == 4.0 and dated.batch_input is None
    assert dated.batch_output == load_catalog({}).get("openai:gpt-4o-2024-05-13").batch_output
    # Rows the file does not list keep the snapshot's figures and origin.
    untouched = catalog.get("openai:gpt-4.1")
    assert untouched.origin == "snapshot" and untouched == load_catalog({}).get("openai:gpt-4.1")
    # The shipped snapshot itself is never edited.
    assert load_catalog({}).get("openai:gpt-4o").input == 2.5
    # Estimates use the refreshed price.
    request = bk.ChatRequest(custom_id="a", messages=[{"role": "user", "content": "hi"}],
                             max_tokens=10)
    est = bk.estimate([request], "openai:gpt-4o")
    assert est.price_source == gpt4o.source and est.price_as_of == "2026-01-02"


def test_batchkit_toml_still_wins_over_the_refresh(tmp_path: Path) -> None:
    write_refresh(plan_refresh(str(LITELLM)))
    (tmp_path / "batchkit.toml").write_text('[prices."openai:gpt-4o"]\ninput = 3.0\n')
    row = load_catalog().get("openai:gpt-4o")
    assert (row.input, row.output, row.origin) == (3.0, 8.0, "batchkit.toml")


def test_add_new_adds_rows_with_their_kind_and_limits() -> None:
    plan = plan_refresh(str(LITELLM), add_new=True)
    assert sorted(plan.added) == ["groq:llama-9-test", "openai:gpt-9-preview"]
    assert plan.not_added == 0
    write_refresh(plan)
    row = load_catalog().get("openai:gpt-9-preview")
    assert (row.input, row.output, row.kind, row.origin) == (1.0, 4.0, "chat", "refresh")
    assert row.max_output_tokens == 32768 and row.tokenizer == "tiktoken:o200k_base"


def test_genai_prices_match_clauses_dates_and_tiers() -> None:
    data = json.loads(GENAI.read_text())
    plan = plan_refresh(str(GENAI), as_of="2025-06-01")
    assert plan.format == "genai-prices"
    # claude-haiku-4-5 is found through the family's match clause, the tier's base is used,
    # and the model's own prices_checked date becomes the row's as-of.
    haiku = plan.rows["anthropic:claude-haiku-4-5"]
    family = data[1]["models"][0]
    assert haiku["input"] == family["prices"]["input_mtok"]["base"]
    assert haiku["as_of"] == family["prices_checked"] and haiku["as_of_basis"] == "source"
    # gpt-4o: the dated price in force on as_of wins; the time-of-day price is ignored.
    assert "openai:gpt-4o" in plan.unchanged
    early = plan_refresh(str(GENAI), as_of="2024-09-01")
    assert early.changed["openai:gpt-4o"]["input"] == (2.5, 5.0)
    # Vertex is not refreshed from Google's Gemini-API list; the other provider is skipped.
    assert not any(key.startswith("vertex:") for key in plan.rows)
    assert plan.skipped == 1 and plan.not_added == 1


def test_cli_refresh_lists_rows_then_prices_shows_them() -> None:
    result = _invoke("prices", "--refresh", str(LITELLM), "--as-of", "2026-01-02")
    assert result.exit_code == 0, result.output
    assert "3 rows changed, 5 unchanged, 0 added, 3 unknown models skipped" in result.output
    assert "openai:gpt-4o" in result.output and REFRESH_FILE in result.output

    listing = _invoke("prices", "--provider", "openai", "--json")
    rows = {r["key"]: r for r in json.loads(listing.output)["models"]}
    assert rows["openai:gpt-4o"]["origin"] == "refresh"
    assert rows["openai:gpt-4.1"]["origin"] == "snapshot"
    table = _invoke("prices", "--provider", "openai")
    assert "refresh" in table.output and "snapshot" in table.output

    cleared = _invoke("prices", "--clear-refresh")
    assert cleared.exit_code == 0 and "deleted" in cleared.output
    assert load_catalog().get("openai:gpt-4o").origin == "snapshot"
    assert clear_refresh() is False


def test_cli_refresh_json_and_errors(tmp_path: Path) -> None:
    result = _invoke("prices", "--refresh", str(GENAI), "--add-new", "--json")
    data = json.loads(result.output)
    assert data["format"] == "genai-prices" and data["added"] == ["openai:gpt-next"]
    assert data["changed"]["anthropic:claude-haiku-4-5"]["output"] == [5.0, 6.0]

    junk = tmp_path / "junk.json"
    junk.write_text('{"hello": 1}')
    bad = _invoke("prices", "--refresh", str(junk))
    assert bad.exit_code != 0 and "neither LiteLLM" in bad.output
    missing = _invoke("prices", "--refresh", str(tmp_path / "nope.json"))
    assert missing.exit_code != 0 and "cannot read" in missing.output


def test_a_damaged_refresh_file_says_how_to_recover() -> None:
    path = write_refresh(plan_refresh(str(LITELLM)))
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="--clear-refresh"):
        load_catalog()
    assert load_catalog({}).get("openai:gpt-4o").origin == "snapshot"


@pytest.fixture
def served() -> Iterator[str]:
    """The LiteLLM fixture on a loopback HTTP server, with a Last-Modified date."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = LITELLM.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Last-Modified", "Tue, 03 Mar 2026 10:00:00 GMT")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/model_prices.json"
    finally:
        server.shutdown()
        server.server_close()


def test_refresh_from_a_url_dates_rows_by_last_modified(served: str) -> None:
    plan = plan_refresh(served)
    assert plan.as_of == "2026-03-03" and plan.source == served
    assert plan.rows["openai:gpt-4o"]["source"] == f"litellm file {served}"
