"""The benchmark scripts run (at toy size), so they cannot rot; nothing here is timed."""

from __future__ import annotations

from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(autouse=True)
def _benchmarks_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))


def test_encode_writes_the_same_lines_as_the_cookbook() -> None:
    import bench_encode

    rows = bench_encode.run(200, repeat=1)
    assert len(rows) == 8 and not any("DIFFER" in row.what for row in rows)


def test_convert_bench_writes_the_loop_lines_for_both_targets() -> None:
    import bench_convert

    rows = bench_convert.run(100)
    assert len(rows) == 4 and not any("DIFFER" in row.what for row in rows)


def test_neutral_bench_writes_the_loop_lines_on_both_versions() -> None:
    import bench_neutral

    rows = bench_neutral.run(100, repeat=1, rounds=1)
    assert "DIFFER" not in rows[0].what and len(rows) in (3, 6)


def test_decode_gives_the_cookbook_matrix() -> None:
    import bench_decode

    rows = bench_decode.run(50, repeat=1, dims=8)
    assert len(rows) == 6 and not any("DIFFER" in row.what for row in rows)
    assert "lazy=True" in rows[-2].what and "Results kept" in rows[-1].what
    assert all("4 shards" in row.what for row in rows[-2:])


def test_import_time_is_measured_against_its_floor() -> None:
    import bench_import

    rows = bench_import.run(1)
    assert [row.baseline.split(" ")[0] for row in rows] == ["import", "python", "pydantic"]
    assert all(row.value.endswith(" ms") for row in rows)


def test_memory_runs_its_subprocesses() -> None:
    import bench_memory

    rows = bench_memory.run(500, naive=False)
    # the peak, then one row per planner structure (custom ids, dedupe table)
    assert rows[0].value.endswith("MB peak") and len(rows) == 3


def test_emulator_job_accounts_for_every_request() -> None:
    import bench_emulator

    rows = bench_emulator.run(200)
    assert "(200 ok)" in rows[0].what



def test_run_all_writes_its_table_between_the_readme_markers() -> None:
    import run_all
    from _bench import Row

    table = run_all.table_text([Row("x", "what", "1/s", "base 2/s", "0.5x", ">= 1x", False)])
    readme = f"# Title\n\nbefore\n{run_all.START}\nold table\n{run_all.END}\nafter\n"
    written = run_all.with_table(readme, table, "how it was made")
    assert written.startswith("# Title\n\nbefore\n") and written.endswith("\nafter\n")
    assert "old table" not in written and "| what " in written and ">= 1x (MISSED)" in written
    assert run_all.with_table(written, table, "how it was made") == written  # idempotent
    with pytest.raises(SystemExit, match="needs one"):
        run_all.with_table("# no markers\n", table, "how")


def test_the_readme_has_one_block_for_the_generated_table() -> None:
    import run_all

    readme = (BENCHMARKS.parent / "README.md").read_text()
    assert readme.count(run_all.START) == 1 and readme.count(run_all.END) == 1
