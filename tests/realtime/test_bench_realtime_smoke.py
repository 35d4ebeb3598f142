"""The real-time benchmark runs (at toy size), so it cannot rot; nothing here is timed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_bench_realtime_runs_and_loses_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.delitem(sys.modules, "bench_realtime", raising=False)
    import bench_realtime

    rows = bench_realtime.run(12)
    answered = rows[0]
    assert answered.value == "12 (0 lost)"
    assert rows[3].what == "calls answered 429"
