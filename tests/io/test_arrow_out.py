"""Arrow out: ``to_arrow`` / ``to_arrow_reader`` / ``to_polars`` / a partitioned Parquet dataset,
read back by DuckDB and Polars themselves (not by our own reader)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pytest

import batchkit as bk
from batchkit._clock import Backoff

FAST = Backoff(initial=0.001, maximum=0.001)
SRC = Path(bk.__file__).parent


def finished_job(n: int = 30) -> bk.Job:
    reqs = [bk.EmbedRequest(custom_id=f"d{i}", text=f"doc {i}", metadata={"n": i})
            for i in range(n)]
    options = {"max_requests": 12, "errors": {"d4": "invalid_input"}}
    return bk.submit(reqs, "fake:m", options=options).wait(backoff=FAST)


def test_to_arrow_has_one_row_per_result_and_fixed_size_vectors() -> None:
    results = finished_job().results()
    table = results.to_arrow()
    width = len(results[0].embedding)  # type: ignore[arg-type]
    assert table.num_rows == 30
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), width)
    assert table.column("custom_id").to_pylist() == [r.custom_id for r in results]
    assert table.column("status").to_pylist()[4] == "errored"
    assert table.column("embedding").to_pylist()[4] is None
    assert np.allclose(table.column("embedding").to_pylist()[7], results[7].embedding)


def test_a_lazy_set_streams_batches_equal_to_the_eager_table() -> None:
    job = finished_job()
    reader = job.results(lazy=True).to_arrow_reader(batch_rows=7)
    batches = list(reader)
    assert [b.num_rows for b in batches] == [7, 7, 7, 7, 2]
    assert pa.Table.from_batches(batches).equals(job.results().to_arrow())


def test_to_polars_keeps_the_vector_width() -> None:
    frame = finished_job().results().to_polars()
    assert isinstance(frame, pl.DataFrame) and frame.height == 30
    assert frame.schema["embedding"] == pl.Array(pl.Float32, 8)
    assert frame.filter(pl.col("status") == "succeeded").height == 29


def test_duckdb_reads_the_partitioned_dataset_and_the_stream(tmp_path: Path) -> None:
    results = finished_job().results(lazy=True)
    assert results.to_parquet_dataset(tmp_path / "ds") == 30
    folders = sorted(p.name for p in (tmp_path / "ds").iterdir())
    assert folders == ["status=errored", "status=succeeded"]
    glob = str(tmp_path / "ds" / "**" / "*.parquet")
    rows = duckdb.sql(
        f"SELECT status, count(*) AS n, max(array_length(embedding)) AS width "
        f"FROM read_parquet('{glob}', hive_partitioning=true) GROUP BY status ORDER BY status"
    ).fetchall()
    assert rows == [("errored", 1, None), ("succeeded", 29, 8)]
    probe = results[9].embedding.tolist()  # type: ignore[union-attr]
    con = duckdb.connect()  # DuckDB scans the stream, batch by batch
    con.register("results", results.to_arrow_reader(batch_rows=5))
    nearest = con.sql(
        "SELECT custom_id FROM results WHERE embedding IS NOT NULL ORDER BY "
        f"array_cosine_similarity(embedding, {probe}::FLOAT[8]) DESC LIMIT 2").fetchall()
    assert nearest[0] == ("d9",)


def test_polars_scans_the_dataset(tmp_path: Path) -> None:
    finished_job().results().to_parquet_dataset(tmp_path / "ds", partition_by=["status"])
    frame = pl.scan_parquet(tmp_path / "ds" / "**" / "*.parquet", hive_partitioning=True)
    assert frame.select(pl.len()).collect().item() == 30


def test_vectors_of_another_width_are_refused_naming_the_request() -> None:
    vec = np.ones(4, np.float32)
    mixed = bk.ResultSet([bk.Result("a", "succeeded", embedding=vec),
                          bk.Result("b", "succeeded", embedding=np.ones(3, np.float32))])
    with pytest.raises(ValueError, match="custom_id 'b' has an embedding of 3 dimensions"):
        mixed.to_arrow()


def test_a_first_batch_without_vectors_gives_a_variable_list() -> None:
    chat = bk.ResultSet([bk.Result(f"c{i}", "succeeded", text="hi") for i in range(3)])
    assert chat.to_arrow().schema.field("embedding").type == pa.list_(pa.float32())


def test_unknown_partition_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot partition by 'shard'"):
        finished_job(3).results().to_parquet_dataset(tmp_path / "ds", partition_by=["shard"])
    assert not (tmp_path / "ds").exists()


def test_export_does_not_import_results_at_run_time() -> None:
    """The old circle: _results imported _export inside methods, _export imported _results."""
    for name in ("_export.py", "_arrow.py", "_storage.py"):
        tree = ast.parse((SRC / name).read_text())
        run_time = [node for node in tree.body if isinstance(node, ast.ImportFrom)]
        assert all(node.module != "_results" for node in run_time), name


def test_tool_calls_and_reasoning_reach_the_arrow_columns() -> None:
    from batchkit._tools import ToolCall

    call = ToolCall("c1", "Invoice", {"number": "7"}, '{"number": "7"}')
    results = bk.ResultSet([
        bk.Result("a", "succeeded", tool_calls=[call], reasoning="thought", refusal=None,
                  finish_reason="tool_calls", vendor_finish_reason="tool_use",
                  usage=bk.Usage(3, 4, reasoning_tokens=2)),
        bk.Result("b", "succeeded", text="plain"),
    ])
    table = results.to_arrow()
    rows = table.to_pylist()
    assert json.loads(rows[0]["tool_calls"])[0]["arguments"] == {"number": "7"}
    assert (rows[0]["reasoning"], rows[0]["vendor_finish_reason"], rows[0]["reasoning_tokens"]) \
        == ("thought", "tool_use", 2)
    assert rows[1]["tool_calls"] is None and rows[1]["reasoning_tokens"] is None
