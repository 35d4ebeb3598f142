"""What a job costs: token counts, a dated price catalog with sources, estimates and comparisons.

This package holds vendor *knowledge* (prices, batch rules, tokenizers) as data and plain
functions; it imports no vendor SDK (exact counts, asked for with ``exact=True``, go through the
adapters' ``count_input_tokens``). tiktoken is optional and imported lazily: without it, or
without its cached encoding files, counts fall back to a documented approximation, flagged.

    >>> from batchkit.cost import estimate, compare
    >>> estimate(requests, "openai:gpt-4o-mini")                       # doctest: +SKIP
    >>> compare(requests, ["openai:gpt-4o-mini", "gemini:gemini-2.5-flash"])  # doctest: +SKIP
"""

from ._billing import check_budget, cost_of_usage, usage_pricer
from ._catalog import PROVIDERS, BatchRule, Catalog, PriceRow, Rates, load_catalog
from ._estimate import (
    DEFAULT_EXPECTED_OUTPUT_TOKENS,
    DEFAULT_MAX_TOKENS,
    Comparison,
    Estimate,
    RunningEstimate,
    compare,
)
from ._exact import DEFAULT_EXACT_SAMPLE
from ._mode import ModeChoice, estimate
from ._refresh import RefreshPlan, clear_refresh, plan_refresh, write_refresh
from ._tokens import (
    TokenCount,
    TokenCounter,
    count_chat_tokens,
    count_text_tokens,
    counter_for,
    openai_encoding_for_model,
)

__all__ = [
    "DEFAULT_EXACT_SAMPLE",
    "DEFAULT_EXPECTED_OUTPUT_TOKENS",
    "DEFAULT_MAX_TOKENS",
    "PROVIDERS",
    "BatchRule",
    "Catalog",
    "Comparison",
    "Estimate",
    "ModeChoice",
    "PriceRow",
    "Rates",
    "RefreshPlan",
    "RunningEstimate",
    "TokenCount",
    "TokenCounter",
    "check_budget",
    "clear_refresh",
    "compare",
    "cost_of_usage",
    "count_chat_tokens",
    "count_text_tokens",
    "counter_for",
    "estimate",
    "load_catalog",
    "openai_encoding_for_model",
    "plan_refresh",
    "usage_pricer",
    "write_refresh",
]
