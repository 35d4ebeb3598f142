"""Parquet and .npy output, from a ResultSet and streamed from a job by the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import batchkit as bk
from batchkit._clock import Backoff
from batchkit.cli import cli

FAST = Backoff(initial=0.001, maximum=0.001)


def finished_embed_job(n: int = 25) -> bk.Job:
    reqs = [bk.EmbedRequest(custom_id=f"d{i}", text=f"doc {i}", metadata={"title": f"T{i}"})
            for i in range(n)]
    return bk.submit(reqs, "fake:m", options={"errors": {"d3": "invalid_input"}}).wait(
        backoff=FAST)


def test_parquet_has_one_row_per_request_in_order(tmp_path: Path) -> None:
    results = finished_embed_job().results()
    assert results.to_parquet(tmp_path / "r.parquet") == 25
    table = pq.read_table(tmp_path / "r.parquet").to_pylist()
    assert [row["custom_id"] for row in table] == [f"d{i}" for i in range(25)]
    assert table[3]["status"] == "errored" and table[3]["error_code"] == "invalid_input"
    assert table[3]["embedding"] is None
    assert orjson.loads(table[7]["metadata"]) == {"title": "T7"}
    assert np.allclose(table[7]["embedding"], results[7].embedding)


def test_npy_refuses_a_hole_and_saves_the_matrix(tmp_path: Path) -> None:
    results = finished_embed_job().results()
    with pytest.raises(ValueError, match="'d3' has no 'float' embedding"):
        results.to_npy(tmp_path / "bad.npy")
    ok = bk.ResultSet([r for r in results if r.ok])
    assert ok.to_npy(tmp_path / "m.npy") == 24
    assert np.array_equal(np.load(tmp_path / "m.npy"), ok.embeddings())


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".npy"])
def test_cli_results_streams_each_format(tmp_path: Path, suffix: str) -> None:
    reqs = [bk.EmbedRequest(custom_id=f"d{i}", text=f"doc {i}") for i in range(12)]
    job = bk.submit(reqs, "fake:m", options={"max_requests": 5}).wait(backoff=FAST)
    out = tmp_path / f"out{suffix}"
    result = CliRunner().invoke(cli, ["results", job.id, "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.output)["counts"] == {"succeeded": 12}
    if suffix == ".npy":
        assert np.load(out).shape == (12, 8)
    elif suffix == ".parquet":
        assert pq.read_table(out).num_rows == 12
    else:
        assert len(out.read_text().splitlines()) == 12
