"""What a finished request did cost, and the budget cap checked before a job is sent.

Kept apart from the estimates: these run on every result of every job (actual cost) and on
every submit with a budget, and read only the catalog and a Usage or an Estimate.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from .._exceptions import BudgetExceededError, ConfigError
from .._results import Usage
from ._catalog import load_catalog, per_million
from ._estimate import Estimate, Prices, as_money, catalog_for

__all__ = ["check_budget", "cost_of_usage", "usage_pricer"]

_PRICES_KEPT = 4096


def check_budget(estimate: Estimate, max_cost_usd: float, *, batch: bool = True) -> float:
    """Refuse a job whose upper-bound cost is over ``max_cost_usd``; return that bound.

    An unknown price also refuses: a cap that cannot be checked is not a cap.
    """
    bound = estimate.batch_cost_max if batch else estimate.realtime_cost_max
    mode = "batch" if batch else "real-time"
    if bound is None:
        priced = estimate.realtime_cost_max is not None
        why = "has no batch route" if batch and priced else "has no known price"
        raise BudgetExceededError(
            f"cannot check the ${max_cost_usd:,.2f} budget: {estimate.provider} {why} "
            f'(add a price under [prices."{estimate.provider}"] in batchkit.toml)'
        )
    if bound > max_cost_usd:
        expected = estimate.batch_cost_expected if batch else estimate.realtime_cost_expected
        raise BudgetExceededError(
            f"{estimate.provider}: {mode} cost could reach ${bound:,.4f} for "
            f"{estimate.requests:,} requests (upper bound from max_tokens; expected "
            f"{as_money(expected)}), "
            f"over the ${max_cost_usd:,.2f} budget. Lower max_tokens, pick a cheaper model, "
            "or raise the budget."
        )
    return bound


def usage_pricer(provider: str, *, batch: bool = True) -> Callable[[Usage], float | None]:
    """``usage -> USD`` for ``provider`` (``name:model``), catalog loaded once.

    Always None for a target the catalog has no price for, so pricing never fails a job.
    The prices of the last few thousand distinct usages are remembered: a job's rows mostly
    repeat a few token counts, and each is otherwise a catalog look-up and four products.
    """
    name, _, model = provider.partition(":")
    try:
        catalog = load_catalog()
        catalog.get(provider)
    except ConfigError:
        return lambda usage: None

    @functools.lru_cache(maxsize=_PRICES_KEPT)
    def price(usage: Usage) -> float | None:
        return cost_of_usage(name, model, usage, batch=batch, prices=catalog)

    return price


def cost_of_usage(
    provider: str, model: str, usage: Usage, *, batch: bool = True, prices: Prices = None
) -> float | None:
    """USD actually billed for ``usage``; None when the price is unknown.

    ``cached_input_tokens`` and ``cache_creation_input_tokens`` are taken as parts of
    ``input_tokens`` (as :class:`~batchkit.Usage` documents for cached tokens); each part is
    billed at its own rate under the vendor's batch rule.
    """
    catalog = catalog_for(prices)
    row = catalog.get(f"{provider}:{model}")
    rates = row.rates(catalog.rule(row.provider), batch=batch)
    if rates is None:
        return None
    cached, written = usage.cached_input_tokens, usage.cache_creation_input_tokens
    plain = max(0, usage.input_tokens - cached - written)
    return (
        per_million(plain, rates.input)
        + per_million(cached, rates.cached_input)
        + per_million(written, rates.cache_write)
        + per_million(usage.output_tokens, rates.output)
    )
