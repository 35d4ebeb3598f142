"""The price catalog: vendor prices as data, each row with its source and the date it was read.

Prices change more often than code, and the vendors disagree with the aggregators that copy
them, so nothing here is a constant: ``prices.json`` holds one row per ``provider:model`` and one
batch rule per provider, and users override or add rows from ``batchkit.toml``::

    [prices."openai:gpt-4o-mini"]
    input = 0.15
    output = 0.60

    [prices.groq]            # a provider rule, not a model
    batch_discount = 0.5

Batch prices are *computed* from the provider's rule (discount, and how cached tokens are billed
inside a batch) unless a row states a published batch price; that way a corrected rule fixes every
row of the vendor at once.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal

from .._config import load_config
from .._exceptions import ConfigError, UnknownProviderError
from .._validate import SERVES
from ._refresh_file import refreshed_rows

__all__ = [
    "PROVIDERS",
    "BatchRule",
    "Catalog",
    "PriceRow",
    "Rates",
    "load_catalog",
    "per_million",
]

PROVIDERS = (
    "openai", "azure", "anthropic", "cohere", "vertex",
    "gemini", "bedrock", "mistral", "groq", "together",
)  # fmt: skip

CachedInBatch = Literal["stack", "standard", "batch_input"]
"""How a vendor bills cached input tokens inside a batch:

* ``stack`` - the cached rate, then the batch discount on top (Anthropic);
* ``standard`` - the standard cached rate, no batch discount (Gemini API);
* ``batch_input`` - no cache credit: billed as ordinary batch input (where no rate is published).
"""
CacheWriteInBatch = Literal["stack", "input"]
"""How cache writes are billed in a batch: the write rate discounted (``stack``), or as input."""

_PER_MILLION = 1_000_000
_TOKENIZER_SCHEMES = ("tiktoken:", "tiktoken-approx:", "chars:")
_PRICE_FIELDS = ("input", "output", "cached_input", "cache_write", "batch_input", "batch_output",
                 "batch_cached_input")  # fmt: skip


@dataclass(frozen=True, slots=True)
class BatchRule:
    """A vendor's batch pricing rule, as the vendor states it."""

    provider: str
    batch_discount: float
    cached_input_in_batch: CachedInBatch
    cache_write_in_batch: CacheWriteInBatch
    source: str
    as_of: str
    as_of_basis: str = "research"
    max_requests_per_batch: int | None = None
    min_requests_per_batch: int | None = None
    """A vendor that refuses smaller batches (Bedrock: 100 records per job)."""
    user_named_models: bool = False
    """The model in ``provider:model`` is a name the user chose (a deployment), not one the
    catalog can list: planning never refuses it as unknown."""
    notes: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per 1M tokens for one way of running a model (batch or real-time)."""

    input: float
    output: float
    cached_input: float
    cache_write: float


@dataclass(frozen=True, slots=True)
class PriceRow:
    """One ``provider:model`` with its standard prices and where they came from.

    A price of ``None`` means unknown: estimates then say so instead of printing a made-up zero.
    """

    key: str
    kind: Literal["chat", "embedding", "moderation"]
    input: float | None
    output: float | None
    cached_input: float | None
    source: str
    as_of: str
    tokenizer: str
    as_of_basis: str = "research"
    cache_write: float | None = None
    batch_input: float | None = None
    batch_output: float | None = None
    batch_cached_input: float | None = None
    batch: bool = True
    """False where the vendor has no batch route for this model (e.g. Cohere chat)."""
    max_output_tokens: int | None = None
    """The most a reply may hold; planning refuses a larger ``max_tokens`` (None: unknown)."""
    max_input_tokens: int | None = None
    """The model's context window, where the vendor refuses (not truncates) longer input;
    planning refuses a request whose text cannot fit (see ``_validate``). None: unknown."""
    notes: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    origin: str = "snapshot"
    """Where the row's prices were last set: ``snapshot`` (shipped), ``refresh`` (``batchkit
    prices --refresh``) or ``batchkit.toml``. Set by the loader, never by a file."""

    def __post_init__(self) -> None:
        """Reject rows that would price silently wrong (a typo in batchkit.toml, say)."""
        where = f'[prices."{self.key}"]'
        if self.kind not in SERVES:
            raise ConfigError(f"{where}: kind must be 'chat', 'embedding' or 'moderation', not "
                              f"{self.kind!r}")
        if not self.tokenizer.startswith(_TOKENIZER_SCHEMES):
            raise ConfigError(
                f"{where}: tokenizer {self.tokenizer!r} is not one of "
                "tiktoken:<encoding>, tiktoken-approx:<encoding>, chars:<n>"
            )
        for name in _PRICE_FIELDS:
            value = getattr(self, name)
            if value is not None and (not isinstance(value, (int, float)) or value < 0):
                raise ConfigError(f"{where}: {name} must be a price >= 0, not {value!r}")

    @property
    def provider(self) -> str:
        return self.key.partition(":")[0]

    @property
    def model(self) -> str:
        return self.key.partition(":")[2]

    @property
    def known(self) -> bool:
        """True when every price an estimate of this kind needs is in the row."""
        return self.input is not None and (self.kind != "chat" or self.output is not None)

    def rates(self, rule: BatchRule, *, batch: bool) -> Rates | None:
        """The rates to bill with, or None if the price is unknown or there is no batch route.

        Missing cached or cache-write prices fall back to the input rate: that is what the
        vendor charges when it has no separate rate.
        """
        if not self.known or (batch and not self.batch):
            return None
        assert self.input is not None
        std_in, std_out = self.input, self.output or 0.0
        std_cached = self.cached_input if self.cached_input is not None else std_in
        std_write = self.cache_write if self.cache_write is not None else std_in
        if not batch:
            return Rates(std_in, std_out, std_cached, std_write)
        keep = 1.0 - rule.batch_discount
        b_in = self.batch_input if self.batch_input is not None else std_in * keep
        b_out = self.batch_output if self.batch_output is not None else std_out * keep
        if self.batch_cached_input is not None:
            b_cached = self.batch_cached_input
        elif self.cached_input is None or rule.cached_input_in_batch == "batch_input":
            b_cached = b_in
        elif rule.cached_input_in_batch == "stack":
            b_cached = self.cached_input * keep
        else:
            b_cached = self.cached_input
        if self.cache_write is not None and rule.cache_write_in_batch == "stack":
            b_write = self.cache_write * keep
        else:
            b_write = b_in
        return Rates(b_in, b_out, b_cached, b_write)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["notes"], out["conflicts"] = list(self.notes), list(self.conflicts)
        return out


@dataclass(frozen=True)
class Catalog:
    """Every known row and rule. Look rows up with :meth:`get`, which explains a miss."""

    rows: Mapping[str, PriceRow]
    rules: Mapping[str, BatchRule]
    about: str = field(default="", repr=False)

    def __iter__(self) -> Iterator[PriceRow]:
        return iter(self.rows.values())

    def __len__(self) -> int:
        return len(self.rows)

    def __contains__(self, key: object) -> bool:
        return key in self.rows

    def get(self, key: str) -> PriceRow:
        """The row for ``provider:model``; a clear error listing close matches otherwise."""
        provider, sep, model = key.partition(":")
        if not sep or not model:
            raise UnknownProviderError(
                f"{key!r} is not 'provider:model' (for example 'openai:gpt-4o-mini')"
            )
        if provider not in PROVIDERS:
            near = difflib.get_close_matches(provider, PROVIDERS, n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise UnknownProviderError(
                f"unknown provider {provider!r} in {key!r}{hint} (known: {', '.join(PROVIDERS)})"
            )
        row = self.rows.get(key)
        if row is not None:
            return row
        near = difflib.get_close_matches(key, list(self.rows), n=5, cutoff=0.5)
        hint = f" Close matches: {', '.join(near)}." if near else ""
        raise UnknownProviderError(
            f"no price for {key!r} in the catalog.{hint} Add one under "
            f'[prices."{key}"] in batchkit.toml (input = ..., output = ..., per 1M tokens).'
        )

    def rule(self, provider: str) -> BatchRule:
        try:
            return self.rules[provider]
        except KeyError:
            raise UnknownProviderError(f"no batch rule for provider {provider!r}") from None

    def for_provider(self, provider: str | None = None) -> list[PriceRow]:
        return [r for r in self.rows.values() if provider is None or r.provider == provider]


_ROW_FIELDS = {f.name for f in fields(PriceRow)} - {"key", "origin"}
_RULE_FIELDS = {f.name for f in fields(BatchRule)} - {"provider"}
_TUPLE_FIELDS = {"notes", "conflicts"}


def _clean(values: Mapping[str, Any], allowed: set[str], where: str) -> dict[str, Any]:
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ConfigError(
            f"[prices.{where}]: unknown key(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    return {k: tuple(v) if k in _TUPLE_FIELDS else v for k, v in values.items()}


def _default_tokenizer(key: str) -> str:
    """Tokenizer for a row the user adds: OpenAI-family models count exactly, others estimate."""
    from ._tokens import openai_encoding_for_model

    provider, _, model = key.partition(":")
    if provider in ("openai", "azure"):
        return f"tiktoken:{openai_encoding_for_model(model)}"
    return "chars:4"


def _new_row(key: str, values: dict[str, Any]) -> PriceRow:
    base: dict[str, Any] = {
        "kind": "chat",
        "input": None,
        "output": None,
        "cached_input": None,
        "source": "batchkit.toml",
        "as_of": date.today().isoformat(),
        "as_of_basis": "source",
        "tokenizer": _default_tokenizer(key),
    }
    return PriceRow(key=key, **{**base, **values})


@lru_cache(maxsize=1)
def _builtin() -> Catalog:
    raw = json.loads(resources.files(__package__).joinpath("prices.json").read_text("utf-8"))
    rules = {
        name: BatchRule(provider=name, **_clean(spec, _RULE_FIELDS, name))
        for name, spec in raw["providers"].items()
    }
    rows = {
        key: PriceRow(key=key, **_clean(spec, _ROW_FIELDS, f'"{key}"'))
        for key, spec in raw["models"].items()
    }
    return Catalog(
        rows=MappingProxyType(rows), rules=MappingProxyType(rules), about=raw.get("about", "")
    )


def load_catalog(overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Catalog:
    """The built-in catalog with ``overrides`` applied (the ``[prices]`` table of batchkit.toml).

    With ``overrides=None`` the user's environment applies, so every estimate and cost honours
    it: first the rows of ``batchkit prices --refresh`` (an override file in ``BATCHKIT_HOME``),
    then the ``[prices]`` table of batchkit.toml. Pass ``{}`` for the shipped snapshot alone.

    A key with a colon overrides or adds a model row (``"openai:gpt-4o-mini"``); a bare provider
    name overrides that provider's batch rule (``"groq"``). Unknown fields raise
    :class:`ConfigError`, since a misspelt ``ouptut`` would otherwise be silently ignored.
    """
    catalog = _builtin()
    if overrides is None:
        catalog = _with_rows(catalog, refreshed_rows())
        overrides = load_config().get("prices")
    if not overrides:
        return catalog
    rows, rules = dict(catalog.rows), dict(catalog.rules)
    for key, values in overrides.items():
        if ":" not in key:
            if key not in rules:
                raise ConfigError(f"[prices.{key}]: unknown provider; known: {', '.join(rules)}")
            rules[key] = replace(rules[key], **_clean(values, _RULE_FIELDS, key))
            continue
        if key.partition(":")[0] not in PROVIDERS:
            catalog.get(key)  # raises with a "did you mean"
        clean = _clean(values, _ROW_FIELDS, f'"{key}"')
        if key in rows:
            # The user's figures are dated today; the row's other facts keep their source.
            clean.setdefault("source", f"batchkit.toml (other fields: {rows[key].source})")
            clean.setdefault("as_of", date.today().isoformat())
            clean.setdefault("as_of_basis", "source")
            rows[key] = replace(rows[key], **clean, origin="batchkit.toml")
        else:
            rows[key] = replace(_new_row(key, clean), origin="batchkit.toml")
    return Catalog(rows=MappingProxyType(rows), rules=MappingProxyType(rules), about=catalog.about)


def _with_rows(catalog: Catalog, refreshed: Mapping[str, Mapping[str, Any]]) -> Catalog:
    """``catalog`` with the refresh file's rows laid over it (fields it names replace the
    row's; unknown models become new rows). A row for a provider batchkit lacks is skipped."""
    if not refreshed:
        return catalog
    rows = dict(catalog.rows)
    for key, values in refreshed.items():
        if key.partition(":")[0] not in PROVIDERS:
            continue
        clean = _clean(values, _ROW_FIELDS, f'"{key}" (refresh file)')
        row = replace(rows[key], **clean) if key in rows else _new_row(key, clean)
        rows[key] = replace(row, origin="refresh")
    return Catalog(rows=MappingProxyType(rows), rules=catalog.rules, about=catalog.about)


def per_million(tokens: int, price: float) -> float:
    """USD for ``tokens`` at ``price`` per 1M tokens."""
    return tokens * price / _PER_MILLION
