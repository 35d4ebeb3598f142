"""Build a searchable index from documents, update it after an edit, and query it.

``bk.index`` chunks the 200 paragraphs of ``data/wiki_sample.jsonl``, embeds them through the
batch API (``input_type=search_document``) and upserts them into a vector store with stable ids
(``<document id>#<chunk>``) and each document's other fields as metadata. Run it again after
editing the corpus and only the changed chunks are bought; removed documents' chunks are
deleted. ``dry_run=True`` shows what a run would embed, and what it would cost, before it does.

Offline, against batchkit's emulator of the vendor's batch API (no key, no network; the
emulator's vectors depend only on the text, so a query equal to a paragraph finds it):

    python examples/build_search_index.py --sandbox

The default sink is LanceDB in ``out/index`` (``batchkit[lancedb]``); ``--sink
qdrant://out/qdrant`` or ``chroma://out/chroma`` use the other engines. For real, set
``CO_API_KEY`` and drop ``--sandbox`` (Cohere's Embed Jobs guide names the v3.0 models: if
``embed-v4.0`` is refused, ``--provider cohere:embed-english-v3.0``).
"""

from __future__ import annotations

import argparse
import json
from contextlib import nullcontext
from pathlib import Path

import batchkit as bk
from batchkit.testing import emulate

SAMPLE = Path(__file__).parent / "data" / "wiki_sample.jsonl"


def load_documents() -> list[dict]:
    with SAMPLE.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return [{"id": f"wiki-{r['id']}", "text": r["text"], "title": r["title"],
             "paragraph": r["paragraph_id"], "url": r.get("url")} for r in rows]


def show(step: str, report: bk.IndexReport) -> None:
    print(f"{step}: {report.chunks} chunks ({report.unchanged} unchanged, {report.new} new, "
          f"{report.changed} changed); embedded {report.to_embed}, deleted {report.deleted}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", default="cohere:embed-v4.0")
    parser.add_argument("--sink", default="lancedb://out/index")
    parser.add_argument("--sandbox", action="store_true", help="run against local emulators")
    args = parser.parse_args()
    docs = load_documents()

    with emulate(providers=[args.provider.split(":")[0]]) if args.sandbox else nullcontext():
        show("build", bk.index(docs, args.sink, args.provider))

        # Edit three paragraphs and drop two documents, then look before buying anything.
        for doc in docs[10:13]:
            doc["text"] += " (Revised after a survey in 2024.)"
        removed = [doc["id"] for doc in docs[-2:]]
        docs = docs[:-2]
        plan = bk.index(docs, args.sink, args.provider, dry_run=True)
        cost = plan.estimate.batch_cost_expected if plan.estimate else 0.0
        print(f"dry run: would embed {plan.to_embed} chunks (about ${cost or 0:.2g}), "
              f"delete {plan.deleted} (the chunks of {', '.join(removed)})")
        show("update", bk.index(docs, args.sink, args.provider))
        show("re-run", bk.index(docs, args.sink, args.provider))

        query = docs[42]["text"]
        hits = bk.search(args.sink, query, args.provider, k=3)
    print(f"nearest to {query[:50]!r}...:")
    for hit in hits:
        print(f"  {hit.id} {hit.metadata['title']!r} (paragraph {hit.metadata['paragraph']}, "
              f"cosine {hit.score:.3f})")


if __name__ == "__main__":
    main()
