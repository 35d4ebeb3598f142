"""Bedrock's catalog rows: every one names a model batchkit can encode, and the batch prices
AWS lists are the ones an estimate bills (not the 50% rule applied on top of them)."""

from __future__ import annotations

import pytest

from batchkit.cost import load_catalog
from batchkit.providers.bedrock.families import family_of

_CATALOG_KIND = {"chat": "chat", "embed": "embedding"}
_BEDROCK = sorted(row.key for row in load_catalog() if row.provider == "bedrock")


@pytest.mark.parametrize("key", _BEDROCK)
def test_every_priced_bedrock_model_has_a_family(key: str) -> None:
    """A price for a model no family encodes would let planning accept a job it cannot build."""
    family = family_of(key.partition(":")[2])
    assert family is not None, key
    assert _CATALOG_KIND[family.kind] == load_catalog().get(key).kind, key


@pytest.mark.parametrize("key", [k for k in _BEDROCK if load_catalog().get(k).batch_input])
def test_listed_batch_prices_are_billed_as_listed(key: str) -> None:
    catalog = load_catalog()
    row = catalog.get(key)
    batch = row.rates(catalog.rule("bedrock"), batch=True)
    assert batch is not None
    assert (batch.input, batch.output) == (row.batch_input, row.batch_output or 0.0)


def test_the_non_claude_families_are_priced() -> None:
    """The families priced from AWS's pricing page: Llama, DeepSeek, Nova, Titan and Cohere
    embeddings (Titan Text and Mistral on Bedrock have no figure batchkit could read)."""
    families = {getattr(family_of(key.partition(":")[2]), "name", None) for key in _BEDROCK}
    for name in ("llama", "deepseek", "nova", "titan-embed-v2", "cohere-embed-v3",
                 "cohere-embed-v4"):
        assert name in families, (name, sorted(families))
