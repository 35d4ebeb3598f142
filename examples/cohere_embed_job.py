"""A Cohere Embed Job over a Wikipedia-like sample, with kept and optional fields, float and int8.

Cohere's Embed Jobs API runs over an uploaded ``embed-input`` dataset. Metadata travels with the
text when the dataset names it: ``keep_fields`` must be on every row (validation fails
otherwise), ``optional_fields`` may be missing on some (here ``url`` is absent on some rows).
batchkit uploads the dataset, waits for Cohere's validation, creates the job, and reads the
output dataset back into one Result per row, in input order, with every embedding type asked
for: ``results.embeddings()`` is the float32 matrix, ``results.embeddings(kind="int8")`` the
int8 one (a quarter of the memory, for vector stores that take int8).

``examples/data/wiki_sample.jsonl`` is a made-up encyclopedia, 200 paragraphs shaped like the
sample in Cohere's Embed Jobs guide. Offline, against batchkit's Cohere emulator:

    python examples/cohere_embed_job.py --sandbox

For real, set ``CO_API_KEY`` and drop ``--sandbox`` (embed jobs take the v3.0 embed models).
"""

from __future__ import annotations

import argparse
import json
from contextlib import nullcontext
from pathlib import Path

import numpy as np

import batchkit as bk
from batchkit.testing import emulate

SAMPLE = Path(__file__).parent / "data" / "wiki_sample.jsonl"
OPTIONS = {
    "embedding_types": ["float", "int8"],
    "keep_fields": ["title", "wiki_id"],     # on every row: Cohere refuses a row without them
    "optional_fields": ["url"],              # missing on some rows: Cohere skips it there
    "input_type": "search_document",         # one input type per embed job
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", default="cohere:embed-english-v3.0")
    parser.add_argument("--sandbox", action="store_true", help="run against local emulators")
    parser.add_argument("--out", type=Path, default=Path("out/cohere"))
    args = parser.parse_args()

    with SAMPLE.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    # Everything but the id and the text is metadata; rows without a url simply lack the key.
    requests = [
        bk.EmbedRequest(custom_id=f"para-{row['id']}", text=row["text"],
                        metadata={k: v for k, v in row.items() if k not in ("id", "text")})
        for row in rows
    ]
    with emulate(providers=["cohere"]) if args.sandbox else nullcontext():
        results = bk.run(requests, provider=args.provider, options=OPTIONS, progress=True)

    print(f"\n{len(results)} paragraphs: {results.counts()}")
    floats = results.embeddings()                 # float32, row i <-> requests[i]
    int8s = results.embeddings(kind="int8")
    print(f"float matrix {floats.shape} {floats.dtype} ({floats.nbytes:,} bytes), "
          f"int8 matrix {int8s.shape} {int8s.dtype} ({int8s.nbytes:,} bytes)")

    # What Cohere kept: each output record (``Result.raw``) carries the kept fields on every row
    # and the optional ones where the input had them (null elsewhere). ``Result.metadata`` is
    # always the caller's own, restored by batchkit whatever the vendor kept.
    kept = all(r.raw["title"] == r.metadata["title"] for r in results)
    without_url = [r.custom_id for r in results if r.raw.get("url") is None]
    print(f"kept title on every record: {kept}; records without the optional url: "
          f"{len(without_url)} (e.g. {', '.join(without_url[:3])})")

    # int8 vectors rank neighbours almost exactly as the float ones do.
    def top5(m: np.ndarray) -> list[int]:
        m = m.astype(np.float32)
        m /= np.linalg.norm(m, axis=1, keepdims=True)
        return [int(i) for i in np.argsort(-(m @ m[0]))[1:6]]

    print(f"top-5 neighbours of row 0: float {top5(floats)}, int8 {top5(int8s)}")

    args.out.mkdir(parents=True, exist_ok=True)
    results.to_npy(args.out / "float.npy")
    results.to_npy(args.out / "int8.npy", kind="int8")
    print(f"wrote {args.out}/float.npy and int8.npy")


if __name__ == "__main__":
    main()
