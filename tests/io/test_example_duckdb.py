"""``examples/results_in_duckdb.py`` runs as a reader would run it, and DuckDB's answers match
the dataset it wrote (read back here with pyarrow, not with the example's own queries)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.dataset as ds

from tests.test_examples import DATA, run_example


def test_duckdb_example_counts_and_neighbours(tmp_path: Path) -> None:
    out = run_example(tmp_path, "results_in_duckdb.py")
    table = ds.dataset(tmp_path / "out" / "results", partitioning="hive").to_table()
    sample = [json.loads(line) for line in (DATA / "wiki_sample.jsonl").open(encoding="utf-8")]
    assert table.num_rows == len(sample)
    assert sorted(table.column("custom_id").to_pylist()) == sorted(
        f"wiki-{row['id']}" for row in sample)
    tokens = sum(table.column("input_tokens").to_pylist())
    assert f"succeeded: {len(sample)} rows, {tokens} input tokens" in out
    per_title = Counter(row["title"] for row in sample)
    for title, count in sorted(per_title.items(), key=lambda kv: (-kv[1], kv[0]))[:3]:
        assert f"  {title}: {count}\n" in out
    assert "wiki-0  1.000" in out  # a vector is its own nearest neighbour
