"""Which mode a job would run in, and what that mode costs: ``estimate(..., mode=...)``.

Why here, beside the estimate: ``mode="auto"`` picks real time for a small job or one with a
deadline shorter than the batch window, and batch otherwise (``batchkit._realtime``); a user
deciding between them needs to see that choice, why it was made, and both prices before
anything is sent. The choice is made by the same function ``bk.submit`` uses, so the estimate
can never disagree with the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .._requests import Request
from ._estimate import DEFAULT_MAX_TOKENS, Estimate, Prices, compare
from ._exact import DEFAULT_EXACT_SAMPLE

__all__ = ["ModeChoice", "choose", "estimate"]


@dataclass(frozen=True)
class ModeChoice:
    """The mode a job would run in (``batch`` or ``realtime``), what was asked, and why."""

    asked: str
    mode: str
    reason: str
    cost_expected: float | None
    cost_max: float | None

    def __str__(self) -> str:
        return f"{self.mode} ({self.reason})"

    def to_dict(self) -> dict[str, Any]:
        return {"asked": self.asked, "mode": self.mode, "reason": self.reason,
                "cost_expected": self.cost_expected, "cost_max": self.cost_max}


def choose(result: Estimate, mode: str, *, deadline_s: float | None = None,
           options: Mapping[str, Any] | None = None) -> ModeChoice:
    """The mode ``bk.submit(..., mode=mode, deadline_s=...)`` would run ``result``'s job in."""
    from .._realtime import (
        DEFAULT_BATCH_WINDOW_S,
        DEFAULT_REALTIME_BELOW,
        check_mode,
        choose_mode,
    )
    from .._registry import make_adapter

    opts = dict(options or {})
    adapter = make_adapter(result.provider, opts)
    check_mode(mode, adapter, opts)
    chosen = choose_mode(mode, adapter, result.requests, opts, deadline_s)
    below = int(opts.get("realtime_below", DEFAULT_REALTIME_BELOW))
    window = float(opts.get("batch_window_s", DEFAULT_BATCH_WINDOW_S))
    if mode != "auto":
        reason = "asked for"
    elif not adapter.supports_realtime:
        reason = f"{adapter.name} has no real-time path"
    elif result.requests <= below:
        reason = f"{result.requests:,} requests <= realtime_below ({below:,})"
    elif chosen == "realtime":
        reason = f"deadline {deadline_s:g} s < batch window ({window:g} s)"
    else:
        late = "no deadline" if deadline_s is None else f"deadline {deadline_s:g} s"
        reason = (f"{result.requests:,} requests > realtime_below ({below:,}), "
                  f"{late} within the batch window ({window:g} s)")
    if chosen == "realtime" or not result.batch_available:
        expected, upper = result.realtime_cost_expected, result.realtime_cost_max
    else:
        expected, upper = result.batch_cost_expected, result.batch_cost_max
    return ModeChoice(mode, chosen, reason, expected, upper)


def estimate(
    requests: Iterable[Request],
    provider: str = "openai:gpt-4o-mini",
    *,
    mode: str | None = None,
    deadline_s: float | None = None,
    options: Mapping[str, Any] | None = None,
    expected_output_tokens: int | None = None,
    prices: Prices = None,
    default_max_tokens: int = DEFAULT_MAX_TOKENS,
    exact: bool = False,
    exact_sample: int = DEFAULT_EXACT_SAMPLE,
) -> Estimate:
    """Tokens and batch vs real-time cost of ``requests`` on ``provider`` (``name:model``).

    ``expected_output_tokens`` is per request; ``prices`` is a :class:`Catalog` or a dict of
    overrides as in batchkit.toml's ``[prices]``. Unknown targets raise
    :class:`~batchkit.UnknownProviderError` naming close matches.

    ``mode`` (``"batch"``, ``"realtime"`` or ``"auto"``, with the job's ``deadline_s`` and
    ``options`` such as ``realtime_below``) adds :attr:`Estimate.mode`: the mode the job would
    run in, why, and its cost. A mode the provider cannot run is refused as ``bk.submit``
    refuses it.

    ``exact=True`` asks the vendor's count-tokens endpoint (where the adapter has one and a key
    is set) for the input tokens of up to ``exact_sample`` requests: a job that small is counted
    whole and marked exact; a larger one scales the approximation by the measured ratio. See
    :mod:`batchkit.cost._exact`.
    """
    result = compare(
        requests,
        [provider],
        expected_output_tokens=expected_output_tokens,
        prices=prices,
        default_max_tokens=default_max_tokens,
        exact=exact,
        exact_sample=exact_sample,
    ).estimates[0]
    if mode is None:
        return result
    return replace(result, mode=choose(result, mode, deadline_s=deadline_s, options=options))
