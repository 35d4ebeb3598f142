"""Refreshing the price catalog from a maintained dataset, into an override file.

``batchkit prices --refresh SOURCE`` reads one of two public datasets, from a path or a URL:

* LiteLLM's ``model_prices_and_context_window.json``: one object keyed by model id, prices in
  USD per *token* (``input_cost_per_token``, ``output_cost_per_token``,
  ``cache_read_input_token_cost``, ``cache_creation_input_token_cost``), the vendor in
  ``litellm_provider``, the kind in ``mode``, and provider-prefixed ids (``gemini/...``);
* pydantic genai-prices' ``prices/data.json`` (or ``data_slim.json``): a list of providers,
  each with ``models`` whose ``match`` clauses say which ids they cover and whose ``prices``
  are USD per million tokens (``input_mtok``, ``output_mtok``, ``cache_read_mtok``,
  ``cache_write_mtok``), possibly tiered or dated (``ConditionalPrice``).

Only standard prices are taken. Batch prices stay computed from batchkit's own batch rule per
vendor (the vendors' statements; LiteLLM halves everything, genai-prices has no batch field),
and a row's published batch price is dropped when the standard price it belongs to changes.

The result is written to ``$BATCHKIT_HOME/prices-refresh.json``; the shipped snapshot is never
edited, and deleting that file (``--clear-refresh``) returns to it. Rows keep the file as their
source and its date as their as-of date.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from .._exceptions import ConfigError
from ._catalog import PriceRow, load_catalog
from ._refresh_file import REFRESH_FILE, refresh_path

__all__ = ["REFRESH_FILE", "RefreshPlan", "clear_refresh", "plan_refresh",
           "write_refresh"]

_MAX_BYTES = 64 * 1024 * 1024
_PRICE_FIELDS = ("input", "output", "cached_input", "cache_write")
_BATCH_OF = {"input": "batch_input", "output": "batch_output",
             "cached_input": "batch_cached_input"}
"""A published batch price belongs to one standard price; when that changes, it is dropped."""

# LiteLLM's ``litellm_provider`` values for batchkit's providers, and the id prefixes it uses.
_LITELLM_PROVIDERS = {
    "openai": "openai", "azure": "azure", "anthropic": "anthropic", "cohere": "cohere",
    "cohere_chat": "cohere", "gemini": "gemini", "vertex_ai-language-models": "vertex",
    "vertex_ai-embedding-models": "vertex", "bedrock": "bedrock", "bedrock_converse": "bedrock",
    "mistral": "mistral", "groq": "groq", "together_ai": "together",
}
_LITELLM_PREFIXES = {"openai", "azure", "anthropic", "cohere", "cohere_chat", "gemini",
                     "vertex_ai", "bedrock", "mistral", "groq", "together_ai"}
_LITELLM_FIELDS = {"input": "input_cost_per_token", "output": "output_cost_per_token",
                   "cached_input": "cache_read_input_token_cost",
                   "cache_write": "cache_creation_input_token_cost"}
# genai-prices provider ids for batchkit's providers. Its ``google`` prices are the Gemini API's;
# Vertex rows are left alone (their cached-input price differs, per the research notes).
_GENAI_PROVIDERS = {"openai": "openai", "azure": "azure", "anthropic": "anthropic",
                    "cohere": "cohere", "gemini": "google", "bedrock": "aws",
                    "mistral": "mistral", "groq": "groq", "together": "together"}
_GENAI_FIELDS = {"input": "input_mtok", "output": "output_mtok", "cached_input": "cache_read_mtok",
                 "cache_write": "cache_write_mtok"}


@dataclass(frozen=True)
class SourceRow:
    """One dataset entry, already in batchkit's words (USD per 1M tokens)."""

    key: str
    kind: str
    prices: dict[str, float]
    max_output_tokens: int | None = None
    as_of: str | None = None
    """The entry's own check date, where the dataset has one (genai-prices' prices_checked)."""


@dataclass
class RefreshPlan:
    """What a refresh would write, and how it differs from the catalog in use."""

    source: str
    format: str
    as_of: str
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: dict[str, dict[str, tuple[float | None, float]]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    not_added: int = 0
    """Models of batchkit's providers the catalog lacks, left out without ``add_new``."""
    skipped: int = 0
    """Entries for providers batchkit has no adapter for, or without a usable price."""

    def summary(self) -> str:
        text = (f"{len(self.changed)} rows changed, {len(self.unchanged)} unchanged, "
                f"{len(self.added)} added, {self.skipped} unknown models skipped")
        if self.not_added:
            text += f", {self.not_added} new models not added (pass --add-new)"
        return text


# -- reading ---------------------------------------------------------------------------------


def _read(source: str) -> tuple[Any, str]:
    """The parsed file and its date (Last-Modified for a URL, else the file's mtime)."""
    if re.match(r"^https?://", source):
        try:
            with urllib.request.urlopen(source, timeout=60) as response:
                data = response.read(_MAX_BYTES + 1)
                modified = response.headers.get("Last-Modified")
        except OSError as exc:
            raise ConfigError(f"cannot fetch {source}: {exc}") from None
        stamp = parsedate_to_datetime(modified).date() if modified else date.today()
    else:
        path = Path(source).expanduser()
        try:
            with open(path, "rb") as fh:
                data = fh.read(_MAX_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"cannot read {source}: {exc.strerror or exc}") from None
        stamp = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc).date()
    if len(data) > _MAX_BYTES:
        raise ConfigError(f"{source} is larger than {_MAX_BYTES // (1024 * 1024)} MB")
    try:
        return json.loads(data), stamp.isoformat()
    except ValueError as exc:
        raise ConfigError(f"{source} is not JSON: {exc}") from None


def _format_of(data: Any) -> str:
    if isinstance(data, list) and all(isinstance(p, dict) and "models" in p for p in data):
        return "genai-prices"
    if isinstance(data, dict) and any(isinstance(v, dict) and "litellm_provider" in v
                                      for v in data.values()):
        return "litellm"
    raise ConfigError("the file is neither LiteLLM's model_prices_and_context_window.json nor "
                      "genai-prices' data.json")


def _per_million(value: Any) -> float | None:
    return round(float(value) * 1_000_000, 9) if isinstance(value, (int, float)) else None


def _litellm_rows(data: Mapping[str, Any]) -> Iterator[SourceRow | None]:
    """One row per usable entry; None for an entry batchkit cannot use (counted as skipped)."""
    for name, entry in data.items():
        provider = _LITELLM_PROVIDERS.get(str(entry.get("litellm_provider"))) \
            if isinstance(entry, dict) else None
        mode = entry.get("mode") if isinstance(entry, dict) else None
        if provider is None or mode not in ("chat", "embedding"):
            yield None
            continue
        assert isinstance(entry, dict)
        head, sep, rest = name.partition("/")
        model = rest if sep and head in _LITELLM_PREFIXES else name
        prices = {ours: p for ours, theirs in _LITELLM_FIELDS.items()
                  if (p := _per_million(entry.get(theirs))) is not None
                  and not (mode == "embedding" and ours == "output")}
        if "input" not in prices:
            yield None
            continue
        limit = entry.get("max_output_tokens")
        yield SourceRow(f"{provider}:{model}", mode, prices,
                        limit if isinstance(limit, int) else None)


def _matches(clause: Any, name: str) -> bool:
    """genai-prices' ``match`` clauses: equals, starts_with, ends_with, contains, regex, or,
    and (its schema's ``Clause*`` types)."""
    if not isinstance(clause, dict):
        return False
    if "or" in clause:
        return any(_matches(c, name) for c in clause["or"])
    if "and" in clause:
        return all(_matches(c, name) for c in clause["and"])
    tests: dict[str, Callable[[str], bool]] = {
        "equals": lambda v: name == v, "starts_with": name.startswith,
        "ends_with": name.endswith, "contains": lambda v: v in name,
        "regex": lambda v: re.search(v, name) is not None,
    }
    return any(test(str(clause[k])) for k, test in tests.items() if k in clause)


def _genai_prices(model: Mapping[str, Any], as_of: str) -> dict[str, float]:
    """The model's prices in force on ``as_of``: later dated prices win; time-of-day
    (off-peak) prices are ignored; a tiered price gives its base tier."""
    prices = model.get("prices")
    if isinstance(prices, list):
        chosen: Any = prices[0].get("prices") if prices else {}
        for conditional in prices:
            constraint = conditional.get("constraint")
            if constraint is None or str(constraint.get("start_date", "9999")) <= as_of:
                chosen = conditional.get("prices")
        prices = chosen
    out = {}
    for ours, theirs in _GENAI_FIELDS.items():
        value = (prices or {}).get(theirs)
        if isinstance(value, dict):
            value = value.get("base")
        if isinstance(value, (int, float)):
            out[ours] = float(value)
    return out


def _genai_rows(data: list[Any], catalog_keys: set[str], as_of: str) -> Iterator[SourceRow | None]:
    """Rows for the catalog's own models (found by id, else by ``match``), then one per other
    model of a provider batchkit knows."""
    by_id = {str(p.get("id")): p for p in data}
    used: set[int] = set()
    for key in sorted(catalog_keys):
        provider, _, model = key.partition(":")
        entry = by_id.get(_GENAI_PROVIDERS.get(provider, ""))
        models = (entry.get("models") or []) if entry else []
        found = next((m for m in models if m.get("id") == model), None) or \
            next((m for m in models if _matches(m.get("match"), model)), None)
        if found is not None:
            used.add(id(found))
            yield _genai_row(key, found, as_of)
    ours = {v: k for k, v in _GENAI_PROVIDERS.items()}
    for entry in data:
        mine = ours.get(str(entry.get("id")))
        for model in entry.get("models") or []:
            if mine is None:
                yield None
            elif id(model) not in used and f"{mine}:{model.get('id')}" not in catalog_keys:
                yield _genai_row(f"{mine}:{model.get('id')}", model, as_of)


def _genai_row(key: str, model: Mapping[str, Any], as_of: str) -> SourceRow | None:
    prices = _genai_prices(model, as_of)
    if "input" not in prices:
        return None
    kind = "embedding" if "output" not in prices and "embed" in key else "chat"
    if kind == "chat" and "output" not in prices:
        return None
    checked = model.get("prices_checked")
    return SourceRow(key, kind, prices, as_of=str(checked) if checked else None)


# -- planning and writing --------------------------------------------------------------------


def plan_refresh(source: str, *, as_of: str | None = None, add_new: bool = False) -> RefreshPlan:
    """Read ``source`` and work out the rows to write, against the catalog in use now."""
    data, file_date = _read(source)
    fmt = _format_of(data)
    stamp = as_of or file_date
    basis = "given" if as_of else "file date"
    catalog = load_catalog({})
    keys = set(catalog.rows)
    where = source if re.match(r"^https?://", source) else str(Path(source).expanduser().resolve())
    plan = RefreshPlan(source=where, format=fmt, as_of=stamp)
    rows = _litellm_rows(data) if fmt == "litellm" else _genai_rows(data, keys, stamp)
    for row in rows:
        if row is None:
            plan.skipped += 1
        elif row.key in plan.rows:
            continue  # the dataset lists the same model twice (aliases): the first one counts
        elif row.key in keys:
            _update(plan, row, catalog.rows[row.key], stamp, basis)
        elif add_new:
            plan.rows[row.key] = _entry(row, plan, stamp, basis, new=True)
            plan.added.append(row.key)
        else:
            plan.not_added += 1
    return plan


def _entry(row: SourceRow, plan: RefreshPlan, stamp: str, basis: str, *,
           new: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {**row.prices, "source": f"{plan.format} file {plan.source}",
                             "as_of": row.as_of or stamp,
                             "as_of_basis": "source" if row.as_of else basis}
    if new:
        entry["kind"] = row.kind
        if row.max_output_tokens:
            entry["max_output_tokens"] = row.max_output_tokens
    return entry


def _update(plan: RefreshPlan, row: SourceRow, current: PriceRow, stamp: str,
            basis: str) -> None:
    if current.kind == "embedding":  # an embedding has no output price (LiteLLM writes 0.0)
        row = replace(row, prices={k: v for k, v in row.prices.items() if k != "output"})
    entry = _entry(row, plan, stamp, basis, new=False)
    diff = {name: (getattr(current, name), value) for name, value in row.prices.items()
            if getattr(current, name) != value}
    for name in diff:
        batch = _BATCH_OF.get(name)
        if batch and getattr(current, batch) is not None:
            entry[batch] = None
    if diff:
        plan.changed[row.key] = diff
    else:
        plan.unchanged.append(row.key)
    plan.rows[row.key] = entry


def write_refresh(plan: RefreshPlan) -> Path:
    """Write the override file atomically (a crash never leaves half of one)."""
    path = refresh_path()
    body = {"schema": 1, "source": plan.source, "format": plan.format, "as_of": plan.as_of,
            "written": date.today().isoformat(), "models": plan.rows}
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(body, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(part, path)
    return path


def clear_refresh() -> bool:
    """Delete the override file; True if there was one."""
    try:
        refresh_path().unlink()
    except FileNotFoundError:
        return False
    return True
