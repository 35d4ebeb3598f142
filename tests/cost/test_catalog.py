"""The price catalog: every row sourced and dated, batch rules as the vendors state them."""

from __future__ import annotations

import datetime as dt

import pytest

from batchkit import ConfigError, UnknownProviderError
from batchkit.cost import PROVIDERS, load_catalog


def test_catalog_covers_every_provider_with_enough_rows() -> None:
    catalog = load_catalog()
    assert len(catalog) >= 25
    assert {row.provider for row in catalog} == set(PROVIDERS)
    assert set(catalog.rules) == set(PROVIDERS)
    kinds = {(row.provider, row.kind) for row in catalog}
    for provider in ("openai", "cohere", "mistral", "vertex"):
        assert (provider, "embedding") in kinds


def test_every_row_and_rule_has_a_source_and_a_date() -> None:
    catalog = load_catalog()
    today = dt.date.today()
    for item in [*catalog, *catalog.rules.values()]:
        assert item.source.strip(), item
        assert dt.date.fromisoformat(item.as_of) <= today, item
        assert item.as_of_basis in ("source", "research"), item


@pytest.mark.parametrize("key", sorted(load_catalog().rows))
def test_batch_prices_are_not_above_standard(key: str) -> None:
    catalog = load_catalog()
    row = catalog.get(key)
    rule = catalog.rule(row.provider)
    batch, standard = row.rates(rule, batch=True), row.rates(rule, batch=False)
    if batch is None or standard is None:
        assert not row.known or not row.batch
        return
    assert 0 <= rule.batch_discount < 1
    assert batch.input <= standard.input and batch.output <= standard.output
    assert (
        batch.cached_input <= standard.cached_input or rule.cached_input_in_batch == "batch_input"
    )
    assert batch.cached_input <= batch.input


def test_vendor_batch_rules() -> None:
    rules = load_catalog().rules
    assert rules["openai"].batch_discount == 0.5
    assert rules["anthropic"].batch_discount == 0.5
    assert rules["anthropic"].cached_input_in_batch == "stack"
    assert rules["gemini"].cached_input_in_batch == "standard"
    assert rules["groq"].batch_discount == 0.25  # console.groq.com/docs/batch at the as-of date
    assert rules["groq"].conflicts  # an earlier version said no discount
    assert rules["cohere"].batch_discount == 0.0


def test_rates_follow_each_rule() -> None:
    catalog = load_catalog()

    def batch(key: str) -> tuple[float, float, float, float]:
        row = catalog.get(key)
        rates = row.rates(catalog.rule(row.provider), batch=True)
        assert rates is not None
        return rates.input, rates.output, rates.cached_input, rates.cache_write

    # Anthropic: 50% on everything, stacking with the cache multipliers (0.1x read, 1.25x write).
    assert batch("anthropic:claude-haiku-4-5") == pytest.approx((0.5, 2.5, 0.05, 0.625))
    # Gemini: cached tokens keep the standard cached rate.
    assert batch("gemini:gemini-2.5-flash")[:3] == pytest.approx((0.15, 1.25, 0.075))
    # OpenAI: a published cached batch rate for gpt-5; none for gpt-4o, billed as batch input.
    assert batch("openai:gpt-5")[2] == pytest.approx(0.0625)
    assert batch("openai:gpt-4o")[:3] == pytest.approx((1.25, 5.0, 1.25))
    # A row with a published batch price wins over the rule.
    assert batch("openai:gpt-4o-2024-05-13")[:2] == pytest.approx((2.5, 7.5))
    # Cohere Embed Jobs: the ordinary embed price.
    assert batch("cohere:embed-english-v3.0")[0] == pytest.approx(0.10)


def test_rows_without_batch_route_or_price() -> None:
    catalog = load_catalog()
    v4 = catalog.get("cohere:embed-v4.0")
    assert v4.rates(catalog.rule("cohere"), batch=True) is None
    assert v4.rates(catalog.rule("cohere"), batch=False) is not None
    together = catalog.get("together:meta-llama/Llama-3.3-70B-Instruct-Turbo")
    assert not together.known and together.conflicts


def test_known_data_bug_is_corrected_and_noted() -> None:
    row = load_catalog().get("cohere:embed-multilingual-light-v3.0")
    assert row.input == 0.10
    assert any("1000x" in c for c in row.conflicts)


def test_unknown_model_lists_close_matches() -> None:
    with pytest.raises(UnknownProviderError, match="openai:gpt-4o-mini"):
        load_catalog().get("openai:gpt-4o-mni")


def test_unknown_provider_says_did_you_mean() -> None:
    with pytest.raises(UnknownProviderError, match="did you mean openai"):
        load_catalog().get("opnai:gpt-4o-mini")
    with pytest.raises(UnknownProviderError, match="provider:model"):
        load_catalog().get("gpt-4o-mini")


def test_overrides_change_add_and_reject() -> None:
    catalog = load_catalog(
        {
            "openai:gpt-4o-mini": {"input": 0.2, "output": 0.8},
            "openai:my-finetune": {"input": 1.0, "output": 2.0},
            "groq": {"batch_discount": 0.5},
        }
    )
    changed = catalog.get("openai:gpt-4o-mini")
    assert (changed.input, changed.output, changed.cached_input) == (0.2, 0.8, 0.075)
    assert changed.source.startswith("batchkit.toml")
    assert changed.as_of == dt.date.today().isoformat()
    added = catalog.get("openai:my-finetune")
    assert added.tokenizer == "tiktoken:o200k_base" and added.source == "batchkit.toml"
    assert catalog.rule("groq").batch_discount == 0.5
    assert load_catalog().get("openai:gpt-4o-mini").input == 0.15  # the built-in is untouched
    with pytest.raises(ConfigError, match="ouptut"):
        load_catalog({"openai:gpt-4o-mini": {"ouptut": 1.0}})
    with pytest.raises(ConfigError, match="unknown provider"):
        load_catalog({"openia": {"batch_discount": 0.5}})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"input": -1.0}, "input must be a price"),
        ({"kind": "embed"}, "kind must be"),
        ({"tokenizer": "sentencepiece"}, "tokenizer"),
    ],
)
def test_bad_override_values_are_rejected(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_catalog({"mistral:new-model": {"input": 1.0, "output": 1.0, **values}})
