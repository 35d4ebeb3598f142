"""Query a job's results in DuckDB: a partitioned Parquet dataset, read where it was written.

Embeds 200 wiki paragraphs, writes the results as a Hive-partitioned Parquet dataset
(``status=succeeded/part-0.parquet``; embeddings as fixed-size float32 lists) and asks
DuckDB three questions of it with no loading step: rows and tokens per status, paragraphs per
article (metadata is JSON text), and the nearest paragraphs to one of them by cosine similarity.
DuckDB sees a Parquet list column as ``FLOAT[]``: cast it to ``FLOAT[256]`` for its array
functions (from ``ResultSet.to_arrow_reader()`` it is ``FLOAT[256]`` already). ``--out`` may
be a folder or a URL: ``s3://bucket/results/`` with ``batchkit[io]`` (under ``--sandbox`` it
goes to the emulated S3). The same dataset opens in Polars
(``pl.scan_parquet(".../**/*.parquet", hive_partitioning=True)``) and Spark
(``spark.read.parquet``).

Offline, against batchkit's emulators (no key, no network; the emulator's vectors are random,
so the neighbours are not meaningful there):

    python examples/results_in_duckdb.py --sandbox

For real, set ``OPENAI_API_KEY`` and drop ``--sandbox``. Needs pyarrow and duckdb.
"""

from __future__ import annotations

import argparse
import json
from contextlib import nullcontext
from pathlib import Path

import duckdb

import batchkit as bk
from batchkit.testing import emulate

SAMPLE = Path(__file__).parent / "data" / "wiki_sample.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", default="openai:text-embedding-3-small")
    parser.add_argument("--sandbox", action="store_true", help="run against local emulators")
    parser.add_argument("--out", default="out/results", help="a folder or an fsspec URL")
    args = parser.parse_args()

    with SAMPLE.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    requests = [bk.EmbedRequest(custom_id=f"wiki-{row['id']}", text=row["text"], dimensions=256,
                                metadata={"title": row["title"]}) for row in rows]
    vendor = args.provider.split(":")[0]
    emulators = [vendor, "bedrock"] if args.out.startswith("s3://") else [vendor]
    with emulate(providers=emulators) if args.sandbox else nullcontext():
        job = bk.submit(requests, args.provider).wait(progress=True)
        written = job.results(lazy=True).to_parquet_dataset(args.out)
        print(f"wrote {written} rows to {args.out}")
        if args.out.startswith("s3://"):
            return  # DuckDB reads S3 through its httpfs extension, configured apart
    con = duckdb.connect()
    con.sql(f"CREATE VIEW results AS SELECT * FROM read_parquet("
            f"'{args.out}/**/*.parquet', hive_partitioning = true)")

    print("\nper status:")
    for status, count, tokens in con.sql(
            "SELECT status, count(*), sum(input_tokens) FROM results "
            "GROUP BY status ORDER BY status").fetchall():
        print(f"  {status}: {count} rows, {tokens} input tokens")

    print("\nparagraphs per article (top 3):")
    for title, count in con.sql(
            "SELECT json_extract_string(metadata, '$.title') AS title, count(*) AS n "
            "FROM results GROUP BY title ORDER BY n DESC, title LIMIT 3").fetchall():
        print(f"  {title}: {count}")

    print("\nnearest to wiki-0:")
    for custom_id, score in con.sql(
            "SELECT r.custom_id, array_cosine_similarity(r.embedding::FLOAT[256], "
            "q.embedding::FLOAT[256]) AS score FROM results r, "
            "(SELECT embedding FROM results WHERE custom_id = 'wiki-0') q "
            "WHERE r.embedding IS NOT NULL ORDER BY score DESC LIMIT 3").fetchall():
        print(f"  {custom_id}  {score:.3f}")


if __name__ == "__main__":
    main()
