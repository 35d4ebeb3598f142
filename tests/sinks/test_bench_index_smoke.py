"""benchmarks/bench_index.py runs at toy size (so it cannot rot); nothing here is timed."""

from __future__ import annotations

from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent.parent / "benchmarks"


def test_index_benchmark_builds_the_same_table_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bench_index

    rows = bench_index.run(60, repeat=1)
    assert len(rows) == 2 and "DIFFER" not in rows[0].what
    assert rows[0].value.endswith("/s") and rows[1].value.endswith(" MB")
