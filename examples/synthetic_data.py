"""Generate a synthetic data set in bulk: fake product reviews, one request per seed topic.

Synthetic data is the batch API's home ground: thousands of independent prompts, nobody waiting,
half the price. Each request names a seed topic (a product category) and a star rating, asks for
one review as a pydantic ``ProductReview``, and carries the seed as ``metadata`` (kept beside the
result, never sent), so each generated row says where it came from. Rows that came back and fit
the model are written to JSONL; anything else is counted and reported, never silently dropped.

Offline, against batchkit's emulator of the vendor's batch API (no key, no network):

    python examples/synthetic_data.py --sandbox --count 30

For real, set the vendor's key (``OPENAI_API_KEY``) and drop ``--sandbox``. Sampling stays on
(no ``temperature=0``), so identical prompts would still give different reviews.
"""

from __future__ import annotations

import argparse
import json
from contextlib import nullcontext
from pathlib import Path

from pydantic import BaseModel, Field

import batchkit as bk
from batchkit.testing import emulate

TOPICS = [
    "wireless earbuds", "espresso machine", "hiking boots", "robot vacuum", "yoga mat",
    "electric kettle", "children's picture book", "mechanical keyboard", "air fryer",
    "camping tent", "smart watch", "office chair",
]
PERSONAS = ["a busy parent", "a student on a budget", "a retired engineer", "a frequent traveller"]


class ProductReview(BaseModel):
    product_name: str = Field(description="A plausible, made-up product name")
    title: str = Field(description="The review's headline, under 80 characters")
    body: str = Field(description="Two to four sentences in the reviewer's own voice")
    pros: list[str]
    cons: list[str]
    would_recommend: bool


def seed_requests(count: int) -> list[bk.ChatRequest]:
    """One request per (topic, stars, persona) seed, cycling through the lists."""
    requests = []
    for i in range(count):
        topic, stars, persona = TOPICS[i % len(TOPICS)], 1 + i % 5, PERSONAS[i % len(PERSONAS)]
        prompt = (f"Write a realistic {stars}-star customer review of a {topic}, "
                  f"written by {persona}. Invent the product.")
        requests.append(bk.ChatRequest(
            custom_id=f"review-{i:05d}",
            messages=[{"role": "system", "content": "You write varied, realistic test data."},
                      {"role": "user", "content": prompt}],
            response_model=ProductReview,
            max_tokens=400,
            metadata={"topic": topic, "stars": stars, "persona": persona},
        ))
    return requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", default="openai:gpt-4o-mini")
    parser.add_argument("--sandbox", action="store_true", help="run against local emulators")
    parser.add_argument("--count", type=int, default=30, help="how many reviews to generate")
    parser.add_argument("--out", type=Path, default=Path("out/synthetic_reviews.jsonl"))
    args = parser.parse_args()

    requests = seed_requests(args.count)
    try:  # priced before anything is sent
        print(bk.estimate(requests, args.provider))
    except bk.UnknownProviderError as exc:  # a model the price catalog does not know yet
        print(exc)
    vendor = args.provider.split(":")[0]
    with emulate(providers=[vendor]) if args.sandbox else nullcontext():
        results = bk.run(requests, provider=args.provider, progress=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with args.out.open("w", encoding="utf-8") as fh:
        for r in results:
            if r.parsed is None:
                print(f"  skipped {r.custom_id}: {r.error or r.parse_error}")
                continue
            row = {"id": r.custom_id, **r.metadata, **r.parsed.model_dump()}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            written += 1
    print(f"\n{len(results)} requests: {results.counts()}")
    print(f"wrote {written} reviews to {args.out}")
    for r in results[:3]:
        if r.parsed is not None:
            print(f"  [{r.metadata['topic']}, {r.metadata['stars']}*] {r.parsed.title}")


if __name__ == "__main__":
    main()
