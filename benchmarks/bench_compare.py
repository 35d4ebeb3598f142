"""How long ``compare`` takes over 8 targets for a 10,000-request file (a figure, not a test).

    python benchmarks/bench_compare.py [N_REQUESTS]

The time includes reading and validating the file, since that is what ``batchkit compare`` does;
the best of three runs is printed to damp noise.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import orjson

from batchkit import read_requests
from batchkit.cost import compare

TARGETS = [
    "openai:gpt-4o-mini",
    "azure:gpt-4o-mini",
    "anthropic:claude-haiku-4-5",
    "gemini:gemini-2.5-flash",
    "vertex:gemini-2.5-flash",
    "bedrock:amazon.nova-lite-v1:0",
    "mistral:mistral-small-latest",
    "groq:llama-3.1-8b-instant",
]


def write_file(path: Path, n: int) -> None:
    with open(path, "wb") as fh:
        for i in range(n):
            line = {
                "custom_id": f"email-{i}",
                "messages": [
                    {"role": "system", "content": "Classify the email as spam or ham."},
                    {
                        "role": "user",
                        "content": f"Email {i}: Dear customer, your invoice #{i} "
                        "is attached. Please pay within 30 days to avoid a late fee.",
                    },
                ],
                "max_tokens": 5,
            }
            fh.write(orjson.dumps(line) + b"\n")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "requests.jsonl"
        write_file(path, n)
        compare([], TARGETS)  # load encodings and the catalog outside the timing
        times = []
        for _ in range(3):
            start = time.perf_counter()
            result = compare(read_requests(path), TARGETS)
            times.append(time.perf_counter() - start)
    best = min(times)
    exact = sum(e.input_exact for e in result)
    print(
        f"compare over {len(TARGETS)} targets, {n:,} requests from JSONL: "
        f"best {best:.2f} s of 3 ({n / best:,.0f} requests/s); "
        f"{exact} targets counted exactly"
    )
    print(
        f"cheapest: {result.estimates[0].provider} "
        f"${result.estimates[0].cost_expected or 0:,.4f} expected (batch)"
    )


if __name__ == "__main__":
    main()
