"""Embed texts with metadata for a vector database: a float32 numpy matrix and a Parquet file.

The point is bookkeeping: row ``i`` of the matrix is ``results[i]`` (results come back in input
order, one per request), so ``ids[i]`` and ``metadata[i]`` line up with ``matrix[i]`` without any
joining. A request that failed would leave a hole in the matrix, so the failures are set apart
first (``ResultSet.embeddings()`` refuses a hole rather than shifting every row after it).
The Parquet file has one row per request with ``custom_id``, ``metadata`` (JSON text) and
``embedding``: load it into pandas, DuckDB or a vector store as it is.

Offline, against batchkit's emulator of the vendor's batch API (no key, no network; the
emulator's vectors are random unit vectors, so the neighbours below are meaningless there):

    python examples/embeddings_to_vectors.py --sandbox

For real, set ``OPENAI_API_KEY`` and drop ``--sandbox``. Parquet needs ``batchkit[parquet]``.
"""

from __future__ import annotations

import argparse
import json
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

import batchkit as bk
from batchkit.testing import emulate

SAMPLE = Path(__file__).parent / "data" / "wiki_sample.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", default="openai:text-embedding-3-small")
    parser.add_argument("--sandbox", action="store_true", help="run against local emulators")
    parser.add_argument("--dimensions", type=int, default=256, help="shortened vector size")
    parser.add_argument("--out", type=Path, default=Path("out/vectors"))
    args = parser.parse_args()

    with SAMPLE.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    requests = [
        bk.EmbedRequest(
            custom_id=f"wiki-{row['id']}",
            text=row["text"],
            input_type="search_document",
            dimensions=args.dimensions,
            metadata={"title": row["title"], "paragraph": row["paragraph_id"],
                      "url": row.get("url")},
        )
        for row in rows
    ]
    vendor = args.provider.split(":")[0]
    with emulate(providers=[vendor]) if args.sandbox else nullcontext():
        results = bk.run(requests, provider=args.provider, progress=True)

    failed = results.errors()
    for r in failed:
        print(f"  no vector for {r.custom_id}: {r.status} {r.error}")
    ok = bk.ResultSet(r for r in results if r.ok)
    matrix = ok.embeddings()                 # (n, d) float32, row i <-> ok[i]
    ids = [r.custom_id for r in ok]
    metadata = [r.metadata for r in ok]
    print(f"\n{len(results)} texts -> matrix {matrix.shape} {matrix.dtype}; {len(failed)} failed")
    print(f"row 0 is {ids[0]} ({metadata[0]['title']!r}, paragraph {metadata[0]['paragraph']})")

    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "vectors.npy", matrix)
    (args.out / "ids.json").write_text(json.dumps(ids))
    written = ok.to_parquet(args.out / "vectors.parquet")

    # Read the Parquet file back: same rows, same order, same vectors as the matrix.
    table = pq.read_table(args.out / "vectors.parquet", columns=["custom_id", "metadata",
                                                                 "embedding"])
    assert table.column("custom_id").to_pylist() == ids
    assert np.array_equal(np.asarray(table.column("embedding")[0].as_py(), np.float32), matrix[0])
    print(f"wrote {args.out}/vectors.npy, ids.json and vectors.parquet ({written} rows, "
          f"columns {table.column_names})")

    # A nearest-neighbour lookup, as a vector database would do it (cosine similarity).
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    scores = unit @ unit[0]
    for i in np.argsort(-scores)[1:4]:
        print(f"  near {ids[0]}: {ids[i]} {metadata[i]['title']!r} (cosine {scores[i]:.3f})")


if __name__ == "__main__":
    main()
