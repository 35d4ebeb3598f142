"""What a job would cost, before it is sent, and what a finished request did cost.

An estimate has two output figures because nobody knows the output length in advance: an
*upper bound* from each request's ``max_tokens`` (the vendor cannot bill more), and an *expected*
figure from the caller or a stated default. Budgets are checked against the upper bound
(:mod:`._billing`, beside the cost of finished requests).

Requests are read once, as a stream: :func:`compare` counts every request with each distinct
tokenizer among the targets in the same pass, so a file of millions never sits in memory and is
never read twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._exceptions import InvalidRequestError
from .._requests import ChatRequest, Request
from .._validate import A_KIND, SERVES
from ._catalog import BatchRule, Catalog, PriceRow, Rates, load_catalog, per_million
from ._exact import DEFAULT_EXACT_SAMPLE, ExactInput, Reservoir, measure
from ._tokens import TokenCount, counter_for

if TYPE_CHECKING:
    from ._mode import ModeChoice

__all__ = [
    "DEFAULT_EXPECTED_OUTPUT_TOKENS",
    "DEFAULT_MAX_TOKENS",
    "Comparison",
    "Estimate",
    "as_money",
    "catalog_for",
    "compare",
]

DEFAULT_MAX_TOKENS = 4096
"""Output bound assumed for a chat request without ``max_tokens`` (lowered to the model's own
output limit where the catalog knows it). Set ``max_tokens`` for a bound that means something."""
DEFAULT_EXPECTED_OUTPUT_TOKENS = 256
"""Expected output per chat request when the caller gives none (never above the request's bound)."""

Prices = Catalog | Mapping[str, Mapping[str, Any]] | None


@dataclass(frozen=True)
class Estimate:
    """Tokens and cost of a job on one ``provider:model``; costs in USD, None when unknown."""

    provider: str
    requests: int
    input_tokens: int
    input_exact: bool
    token_method: str
    output_tokens_max: int
    output_tokens_expected: int
    batch_cost_max: float | None
    batch_cost_expected: float | None
    realtime_cost_max: float | None
    realtime_cost_expected: float | None
    price_source: str
    price_as_of: str
    notes: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    exact_counted: int = 0
    """Requests whose input the vendor's count-tokens endpoint counted (``exact=True``)."""
    exact_ratio: float | None = None
    """Vendor count / approximation on that sample, when it scaled a larger job's figure."""
    exact_summary: str = ""
    """What ``exact=True`` did for this target (counted, scaled, or why not); also in notes."""
    mode: ModeChoice | None = None
    """The mode the job would run in and why, when asked for (``estimate(..., mode=...)``)."""

    @property
    def batch_available(self) -> bool:
        return self.batch_cost_max is not None

    @property
    def cost_expected(self) -> float | None:
        """Expected cost of the cheapest way to run it: batch where offered, else real time."""
        return self.batch_cost_expected if self.batch_available else self.realtime_cost_expected

    @property
    def cost_max(self) -> float | None:
        return self.batch_cost_max if self.batch_available else self.realtime_cost_max

    def __repr__(self) -> str:
        exact = "exact" if self.input_exact else f"approx, {self.token_method}"
        return (
            f"<Estimate {self.provider}: {self.requests:,} requests, "
            f"{self.input_tokens:,} input tokens ({exact}), output ≤ {self.output_tokens_max:,} "
            f"(expected {self.output_tokens_expected:,}); batch "
            f"{_span(self.batch_cost_expected, self.batch_cost_max)}, real-time "
            f"{_span(self.realtime_cost_expected, self.realtime_cost_max)}"
            f"{'' if self.mode is None else f'; runs {self.mode}'}>"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "requests": self.requests,
            "input_tokens": self.input_tokens,
            "input_exact": self.input_exact,
            "token_method": self.token_method,
            "output_tokens_max": self.output_tokens_max,
            "output_tokens_expected": self.output_tokens_expected,
            "batch_available": self.batch_available,
            "batch_cost_max": self.batch_cost_max,
            "batch_cost_expected": self.batch_cost_expected,
            "realtime_cost_max": self.realtime_cost_max,
            "realtime_cost_expected": self.realtime_cost_expected,
            "price_source": self.price_source,
            "price_as_of": self.price_as_of,
            "notes": list(self.notes),
            "conflicts": list(self.conflicts),
            "exact_counted": self.exact_counted,
            "exact_ratio": self.exact_ratio,
            "exact_summary": self.exact_summary,
            "mode": self.mode.to_dict() if self.mode is not None else None,
        }


@dataclass(frozen=True)
class Comparison:
    """Estimates of one job on several targets, cheapest expected cost first."""

    estimates: tuple[Estimate, ...]
    notes: tuple[str, ...] = field(default=())

    def __iter__(self) -> Iterator[Estimate]:
        return iter(self.estimates)

    def __len__(self) -> int:
        return len(self.estimates)

    def __getitem__(self, provider: str) -> Estimate:
        for e in self.estimates:
            if e.provider == provider:
                return e
        raise KeyError(provider)

    @property
    def cheapest(self) -> Estimate | None:
        first = self.estimates[0]
        return first if first.cost_expected is not None else None

    def __repr__(self) -> str:
        rows = "; ".join(f"{e.provider} {as_money(e.cost_expected)}" for e in self.estimates)
        return f"<Comparison {len(self.estimates)} targets: {rows}>"

    def to_dict(self) -> dict[str, Any]:
        return {"estimates": [e.to_dict() for e in self.estimates], "notes": list(self.notes)}


def as_money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.4f}"


def _span(expected: float | None, upper: float | None) -> str:
    if upper is None:
        return "n/a"
    return f"{as_money(expected)} (≤ {as_money(upper)})"


class _Tally:
    """Running sums for one target while the requests stream past."""

    def __init__(self, row: PriceRow, rule: BatchRule, default_max: int, expected: int | None):
        self.row, self.rule = row, rule
        limit = row.max_output_tokens
        self.default_max = min(default_max, limit) if limit else default_max
        self.expected = expected
        self.expected_each = DEFAULT_EXPECTED_OUTPUT_TOKENS if expected is None else expected
        self.requests = self.input = self.out_max = self.out_expected = 0
        self.without_max = self.over_limit = self.tool_or_schema = 0
        self.exact = True
        self.method = ""
        self.exact_counted = 0
        self.exact_ratio: float | None = None
        self.exact_notes: list[str] = []

    def add(self, request: Request, count: TokenCount, plain_exact: bool) -> None:
        """Add one request's ``count``; ``plain_exact`` says if its tokenizer is exact for text."""
        if request.kind != SERVES[self.row.kind]:
            raise InvalidRequestError(
                f"{A_KIND[request.kind]} request cannot run on {self.row.key} (a "
                f"{self.row.kind} model)",
                custom_id=request.custom_id,
            )
        self.requests += 1
        self.input += count.tokens
        self.method = count.method
        if not count.exact:
            self.exact = False
            if plain_exact:
                self.tool_or_schema += 1
        if not isinstance(request, ChatRequest):
            return
        bound = request.max_tokens
        if bound is None:
            self.without_max += 1
            bound = self.default_max
        elif self.row.max_output_tokens and bound > self.row.max_output_tokens:
            self.over_limit += 1
        self.out_max += bound
        self.out_expected += min(self.expected_each, bound)

    def apply_exact(self, measured: ExactInput | None, why: str | None) -> None:
        """Replace the approximate input figure with the vendor's count (the whole job was
        counted) or with the approximation scaled by the vendor's ratio on a sample."""
        if measured is None or measured.approx_tokens == 0:
            self.exact_notes.extend([why] if why else [])
            return
        self.exact_counted = measured.counted
        if measured.counted >= self.requests:
            self.input, self.exact, self.tool_or_schema = measured.vendor_tokens, True, 0
            self.method = measured.source
            self.exact_notes.append(f"input tokens: all {self.requests:,} requests counted by "
                                    f"the {measured.source}")
            return
        self.exact_ratio = measured.ratio
        self.input = round(self.input * measured.ratio)
        self.exact_notes.append(
            f"input tokens: a random sample of {measured.counted:,} of {self.requests:,} "
            f"requests counted by the {measured.source}; the approximation ({self.method}) "
            f"scaled by their ratio {measured.ratio:.3f}")
        self.method = f"{self.method} x {measured.ratio:.3f}, sampled"

    def _cost(self, rates: Rates | None, output: int) -> float | None:
        if rates is None:
            return None
        return per_million(self.input, rates.input) + per_million(output, rates.output)

    def result(self) -> Estimate:
        row, rule = self.row, self.rule
        batch = row.rates(rule, batch=True)
        realtime = row.rates(rule, batch=False)
        notes = ["no prompt caching assumed (all input billed at the plain input rate)"]
        notes += self.exact_notes
        if not self.exact:
            notes.append(f"input tokens are approximate ({self.method})")
        if self.tool_or_schema:
            notes.append(
                f"{self.tool_or_schema:,} requests carry tools, schemas or images (approximate)"
            )
        if self.without_max:
            notes.append(
                f"{self.without_max:,} requests have no max_tokens: "
                f"{self.default_max:,} output tokens assumed as their bound"
            )
        if self.over_limit:
            notes.append(
                f"{self.over_limit:,} requests ask for more than {row.key}'s "
                f"{row.max_output_tokens:,} output-token limit"
            )
        if self.expected is None and row.kind == "chat":
            notes.append(
                f"expected output: {DEFAULT_EXPECTED_OUTPUT_TOKENS} tokens per request (default)"
            )
        if not row.known:
            notes.append(f"price unknown for {row.key}")
        elif not row.batch:
            notes.append(f"{row.key} has no batch route: only the real-time price applies")
        if rule.min_requests_per_batch and self.requests < rule.min_requests_per_batch:
            notes.append(f"{row.key} takes batches of {rule.min_requests_per_batch:,} requests "
                         f"or more: a job of {self.requests:,} would be refused")
        if rule.max_requests_per_batch and self.requests > rule.max_requests_per_batch:
            shards = math.ceil(self.requests / rule.max_requests_per_batch)
            notes.append(
                f"split into {shards} batches "
                f"({rule.max_requests_per_batch:,} requests each at most)"
            )
        return Estimate(
            provider=row.key,
            requests=self.requests,
            input_tokens=self.input,
            input_exact=self.exact,
            token_method=self.method or counter_for(row.tokenizer).method,
            output_tokens_max=self.out_max,
            output_tokens_expected=self.out_expected,
            batch_cost_max=self._cost(batch, self.out_max),
            batch_cost_expected=self._cost(batch, self.out_expected),
            realtime_cost_max=self._cost(realtime, self.out_max),
            realtime_cost_expected=self._cost(realtime, self.out_expected),
            price_source=row.source,
            price_as_of=row.as_of,
            notes=tuple(notes),
            conflicts=row.conflicts + rule.conflicts,
            exact_counted=self.exact_counted,
            exact_ratio=self.exact_ratio,
            exact_summary=" ".join(self.exact_notes),
        )


def catalog_for(prices: Prices) -> Catalog:
    return prices if isinstance(prices, Catalog) else load_catalog(prices)


def _run(requests: Iterable[Request], tallies: list[_Tally], sample: Reservoir | None) -> None:
    """One pass over the requests; each is tokenized once per distinct tokenizer (and offered
    to ``sample``, for exact counts afterwards)."""
    counters = {t.row.tokenizer: counter_for(t.row.tokenizer) for t in tallies}
    groups = [
        (counters[spec], [t for t in tallies if t.row.tokenizer == spec]) for spec in counters
    ]
    for request in requests:
        if sample is not None:
            sample.offer(request)
        for counter, group in groups:
            count = counter.count(request)
            for tally in group:
                tally.add(request, count, counter.exact)


class RunningEstimate:
    """An estimate built one request at a time.

    For callers that stream requests somewhere else at the same time (the job planner checks a
    budget while it writes shards), so the requests are read once and never held.
    """

    def __init__(
        self,
        provider: str,
        *,
        expected_output_tokens: int | None = None,
        prices: Prices = None,
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> None:
        catalog = catalog_for(prices)
        row = catalog.get(provider)
        self._tally = _Tally(row, catalog.rule(row.provider), default_max_tokens,
                             expected_output_tokens)
        self._counter = counter_for(row.tokenizer)

    def add(self, request: Request) -> None:
        self._tally.add(request, self._counter.count(request), self._counter.exact)

    def result(self) -> Estimate:
        return self._tally.result()


def compare(
    requests: Iterable[Request],
    providers: Sequence[str],
    *,
    expected_output_tokens: int | None = None,
    prices: Prices = None,
    default_max_tokens: int = DEFAULT_MAX_TOKENS,
    exact: bool = False,
    exact_sample: int = DEFAULT_EXACT_SAMPLE,
) -> Comparison:
    """Estimate the same job on every target in one pass; cheapest expected cost first.

    ``exact`` and ``exact_sample`` as in :func:`estimate`, for every target whose offline count
    is approximate (the same sample of requests for all of them).
    """
    if not providers:
        raise ValueError("compare() needs at least one 'provider:model'")
    catalog = catalog_for(prices)
    rows = [catalog.get(key) for key in dict.fromkeys(providers)]
    tallies = [
        _Tally(row, catalog.rule(row.provider), default_max_tokens, expected_output_tokens)
        for row in rows
    ]
    sample = Reservoir(exact_sample) if exact else None
    _run(requests, tallies, sample)
    if sample is not None:
        for tally in tallies:
            if not tally.exact:
                tally.apply_exact(*measure(tally.row.key, tally.row.tokenizer, sample.items))
    estimates = sorted((t.result() for t in tallies), key=_sort_key)
    return Comparison(tuple(estimates), tuple(_differences(tallies, estimates)))


def _sort_key(e: Estimate) -> tuple[int, float]:
    cost = e.cost_expected
    return (1, 0.0) if cost is None else (0, cost)


_CACHE_WORDS = {
    "stack": "cache discount stacks with batch",
    "standard": "cached tokens keep the standard cached rate",
    "batch_input": "no cache credit in batch",
}


def _differences(tallies: list[_Tally], estimates: list[Estimate]) -> list[str]:
    """What differs between the targets, beyond the price: the caveats a reader must weigh."""
    notes: list[str] = []
    rules = {t.rule.provider: t.rule for t in tallies}
    discounts = {f"{r.batch_discount:.0%}" for r in rules.values()}
    if len(discounts) > 1:
        listed = ", ".join(f"{p} {r.batch_discount:.0%}" for p, r in rules.items())
        notes.append(f"batch discounts differ: {listed}")
    by_rule: dict[str, list[str]] = {}
    for p, r in rules.items():
        by_rule.setdefault(r.cached_input_in_batch, []).append(p)
    if len(by_rule) > 1:
        listed = "; ".join(f"{_CACHE_WORDS[c]} ({', '.join(ps)})" for c, ps in by_rule.items())
        notes.append(f"caching in batch differs: {listed}")
    unknown = [e.provider for e in estimates if e.cost_expected is None]
    if unknown:
        notes.append(f"price unknown (listed last): {', '.join(unknown)}")
    no_batch = [
        e.provider for e in estimates if not e.batch_available and e.cost_expected is not None
    ]
    if no_batch:
        notes.append(f"no batch route, real-time price shown: {', '.join(no_batch)}")
    approx = [e.provider for e in estimates if not e.input_exact]
    if approx:
        notes.append(f"approximate token counts: {', '.join(approx)}")
    bounds = {e.output_tokens_max for e in estimates if e.output_tokens_max}
    if len(bounds) > 1:
        notes.append("output upper bounds differ because models have different output limits")
    for t in tallies:
        if t.rule.min_requests_per_batch and t.requests < t.rule.min_requests_per_batch:
            notes.append(f"{t.row.key}: needs {t.rule.min_requests_per_batch:,} requests or "
                         "more per batch; this job would be refused")
        if t.rule.max_requests_per_batch and t.requests > t.rule.max_requests_per_batch:
            limit = t.rule.max_requests_per_batch
            notes.append(f"{t.row.key}: more than {limit:,} requests, so several batches")
    return notes
