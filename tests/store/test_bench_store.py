"""The store benchmark runs (at toy size) on both backends, so it cannot rot; nothing is timed."""

from __future__ import annotations

from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent.parent / "benchmarks"


def test_store_benchmark_measures_both_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bench_store

    rows = bench_store.run(5)
    assert [r.what.split(",")[0] for r in rows] == ["PostgreSQL store"] * 2
    assert all(r.value.endswith("calls/s") and r.baseline.startswith("SQLite") for r in rows)
