"""Price one job on several vendors before sending it, chart it, then check the estimate.

``bk.compare`` counts the job's tokens once per tokenizer and prices it on every target from
batchkit's dated price catalog: batch and real-time, an *expected* figure and an *upper bound*
from each request's ``max_tokens``. The job here is the spam classifier of
``spam_classification.py`` (20 emails into a pydantic ``SpamLabel``); the last column scales
it to a million such emails. The chart (``batchkit[plot]``, i.e. matplotlib) shows batch
against real-time cost per target. The same from the shell:

    batchkit compare examples/data/emails.jsonl -p openai:gpt-4o-mini -p ... --plot chart.png

Pricing sends nothing and needs no key. With ``--sandbox`` the job then runs on the cheapest
target with a batch route, against batchkit's emulator, and the actual cost (from the usage the
vendor reported) is printed beside the estimate; ``--run`` does that for real (set that
vendor's key).

    python examples/cost_comparison.py --sandbox
"""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from pathlib import Path

import matplotlib.pyplot as plt
from spam_model import SpamLabel  # examples/spam_model.py, beside this script

import batchkit as bk
from batchkit.testing import emulate

EMAILS = Path(__file__).parent / "data" / "emails.jsonl"
TARGETS = [
    "openai:gpt-4o-mini", "openai:gpt-4.1-nano", "anthropic:claude-haiku-4-5",
    "gemini:gemini-2.5-flash-lite", "vertex:gemini-2.0-flash", "mistral:mistral-small-latest",
    "groq:llama-3.1-8b-instant", "cohere:command-r-08-2024",
]


def usd(value: float | None) -> str:
    return "-" if value is None else f"${value:.6f}"


def chart(comparison: bk.Comparison, path: Path) -> None:
    """Horizontal bars: expected batch cost beside expected real-time cost, per target."""
    names = [e.provider for e in comparison]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1.5))
    rows = range(len(names))
    ax.barh([y - 0.2 for y in rows], [e.batch_cost_expected or 0 for e in comparison], 0.4,
            label="batch")
    ax.barh([y + 0.2 for y in rows], [e.realtime_cost_expected or 0 for e in comparison], 0.4,
            label="real time")
    ax.set_yticks(list(rows), names)
    ax.invert_yaxis()
    ax.set_xlabel(f"expected cost of {comparison.estimates[0].requests} requests, USD")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", action="append", help="provider:model (repeatable)")
    parser.add_argument("--expected-output", type=int, default=40, help="tokens per reply")
    parser.add_argument("--chart", type=Path, default=Path("out/cost_comparison.png"))
    parser.add_argument("--sandbox", action="store_true", help="run the cheapest on emulators")
    parser.add_argument("--run", action="store_true", help="run the cheapest for real")
    args = parser.parse_args()

    requests = list(bk.read_requests(EMAILS, response_model=SpamLabel))
    comparison = bk.compare(requests, args.provider or TARGETS,
                            expected_output_tokens=args.expected_output)
    scale = 1_000_000 / len(requests)
    print(f"{'provider:model':<32} {'input tok':>9} {'batch':>10} {'(max)':>10} "
          f"{'real time':>10} {'per 1M emails':>14}")
    for e in comparison:  # cheapest first
        tokens = f"{e.input_tokens}{'' if e.input_exact else '~'}"
        per_million = None if e.cost_expected is None else e.cost_expected * scale
        print(f"{e.provider:<32} {tokens:>9} {usd(e.batch_cost_expected):>10} "
              f"{usd(e.batch_cost_max):>10} {usd(e.realtime_cost_expected):>10} "
              f"{'-' if per_million is None else f'${per_million:,.2f}':>14}")
    for note in comparison.notes:
        print(f"  * {note}")
    args.chart.parent.mkdir(parents=True, exist_ok=True)
    chart(comparison, args.chart)
    print(f"chart written to {args.chart}")

    if not (args.sandbox or args.run):
        return
    cheapest = next(e for e in comparison if e.batch_available)
    print(f"\nrunning the job on {cheapest.provider} ...")
    with emulate(providers=[cheapest.provider.split(":")[0]]) if args.sandbox else nullcontext():
        results = bk.run(requests, provider=cheapest.provider)
    print(f"{len(results)} results {results.counts()}; actual cost {usd(results.cost_usd)} "
          f"(estimated {usd(cheapest.batch_cost_expected)}, at most "
          f"{usd(cheapest.batch_cost_max)})")


if __name__ == "__main__":
    main()
