"""Write 20,000 embedding results (1,536 dimensions) to Parquet, and scan them as Arrow.

    python benchmarks/bench_arrow_out.py [--quick]      # 20,000 results (--quick: 2,000)

batchkit builds each record batch column by column and copies the vectors into one float32
block (a fixed-size list column). Baseline, measured in the same run on the same results: the
row-wise way (one dict per result with the vector as a Python list, ``Table.from_pylist``,
then the same ``ParquetWriter``), which is how batchkit's Parquet writer worked before and how
most hand-written exports do it. The results are built once in memory, so the timings are the
export alone.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

import batchkit as bk


def make_results(n: int, d: int) -> bk.ResultSet:
    rng = np.random.default_rng(7)
    return bk.ResultSet(
        bk.Result(f"doc-{i}", "succeeded", embedding=rng.standard_normal(d).astype(np.float32),
                  usage=bk.Usage(input_tokens=40), metadata={"title": f"T{i % 97}"})
        for i in range(n))


def row_wise(results: bk.ResultSet, path: Path) -> int:
    writer = None
    for start in range(0, len(results), 10_000):
        rows = [{"custom_id": r.custom_id, "status": r.status,
                 "input_tokens": r.usage.input_tokens if r.usage else None,
                 "metadata": orjson.dumps(r.metadata).decode(),
                 "embedding": None if r.embedding is None else r.embedding.tolist()}
                for r in results[start:start + 10_000]]
        table = pa.Table.from_pylist(rows)
        writer = writer or pq.ParquetWriter(str(path), table.schema)
        writer.write_table(table)
    if writer is not None:
        writer.close()
    return len(results)


def timed(label: str, run: Any) -> float:
    start = time.perf_counter()
    count = run()
    seconds = time.perf_counter() - start
    print(f"  {label:<52} {count / seconds:>10,.0f} results/s  ({seconds:.2f} s)")
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n, d = (2_000, 1_536) if args.quick else (20_000, 1_536)
    results = make_results(n, d)
    print(f"{n:,} results x {d} dimensions")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        ours = timed("batchkit to_parquet (column-wise, fixed-size list)",
                     lambda: results.to_parquet(out / "ours.parquet"))
        base = timed("baseline: rows as dicts + from_pylist (same writer)",
                     lambda: row_wise(results, out / "rows.parquet"))
        timed("batchkit to_arrow_reader, scanned to the end",
              lambda: sum(b.num_rows for b in results.to_arrow_reader()))
        assert np.array_equal(
            np.array(pq.read_table(out / "ours.parquet").column("embedding").to_pylist()[:5]),
            np.array(pq.read_table(out / "rows.parquet").column("embedding").to_pylist()[:5]))
    print(f"  ratio: {ours / base:.1f}x")


if __name__ == "__main__":
    main()
