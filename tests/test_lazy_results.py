"""``job.results(lazy=True)``: a ResultSet streamed from the job's files on every walk."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pyarrow.parquet as pq
import pytest

import batchkit as bk
from batchkit._clock import Backoff
from batchkit._results import gc_paused

FAST = Backoff(initial=0.001, maximum=0.001)


def finished_job(n: int = 40) -> bk.Job:
    reqs = [bk.EmbedRequest(custom_id=f"d{i}", text=f"doc {i}", metadata={"n": i})
            for i in range(n)]
    options = {"max_requests": 15, "errors": {"d3": "invalid_input"}, "missing": ["d17"]}
    return bk.submit(reqs, "fake:m", options=options).wait(backoff=FAST)


def test_lazy_set_equals_the_in_memory_one() -> None:
    job = finished_job()
    eager, lazy = job.results(), job.results(lazy=True)
    assert lazy.lazy and not eager.lazy
    assert len(lazy) == len(eager) == 40
    assert [(r.custom_id, r.status) for r in lazy] == [(r.custom_id, r.status) for r in eager]
    assert lazy.counts() == eager.counts() == {"succeeded": 38, "errored": 2}
    assert lazy.cost_usd == pytest.approx(eager.cost_usd)
    assert lazy.usage == eager.usage
    ok = bk.ResultSet([r for r in eager if r.ok])
    assert len(ok.embeddings()) == 38
    assert [r.custom_id for r in lazy.errors()] == ["d3", "d17"]
    assert "streamed from disk" in repr(lazy)


def test_every_walk_reads_again_and_keeps_nothing() -> None:
    lazy = finished_job().results(lazy=True)
    first, second = list(lazy), list(lazy)
    assert [r.custom_id for r in first] == [r.custom_id for r in second]
    assert all(a is not b for a, b in zip(first, second, strict=True))
    assert lazy._results is None  # nothing was cached on the set between walks


def test_indexing_and_slicing_walk_to_the_position() -> None:
    job = finished_job()
    eager, lazy = job.results(), job.results(lazy=True)
    for i in (0, 14, 15, 39, -1, -40):
        assert lazy[i].custom_id == eager[i].custom_id
    for i in (40, -41):
        with pytest.raises(IndexError):
            lazy[i]
    window = lazy[10:20:3]
    assert not window.lazy
    assert [r.custom_id for r in window] == [r.custom_id for r in eager[10:20:3]]


def test_lazy_outputs_match(tmp_path: Path) -> None:
    job = finished_job(20)
    lazy = job.results(lazy=True)
    assert lazy.to_jsonl(tmp_path / "r.jsonl") == 20
    assert lazy.to_parquet(tmp_path / "r.parquet") == 20
    assert pq.read_table(tmp_path / "r.parquet").num_rows == 20
    lines = (tmp_path / "r.jsonl").read_bytes().splitlines()
    assert [orjson.loads(x)["metadata"]["n"] for x in lines] == list(range(20))
    with pytest.raises(ValueError, match="'d3' has no 'float' embedding"):
        lazy.embeddings()


def test_unmatched_lines_are_filled_in_by_a_walk() -> None:
    job = finished_job(20)
    job.results()  # downloads the files into the job folder
    path = Path(job.shards[0].result_paths[0])  # type: ignore[index]
    with open(path, "ab") as fh:
        fh.write(orjson.dumps({"id": "nobody", "embedding": [0.0], "usage": {}}) + b"\n")
    lazy = job.results(lazy=True)
    assert lazy.unmatched == []
    assert len(list(lazy)) == 20
    assert len(lazy.unmatched) == 1


def test_unfinished_job_is_refused_at_once() -> None:
    reqs = [bk.EmbedRequest(custom_id="a", text="x")]
    job = bk.submit(reqs, "fake:m")
    with pytest.raises(bk.BatchkitError, match="call wait"):
        job.results(lazy=True)


def test_streamed_set_from_any_source() -> None:
    calls = []

    def source() -> Iterator[bk.Result]:
        calls.append(1)
        return iter([bk.Result(f"r{i}", "succeeded", embedding=np.ones(3, np.float32) * i)
                     for i in range(5)])

    rs = bk.ResultSet.streamed(source, 5)
    assert rs.embeddings().shape == (5, 3) and rs.embeddings()[4, 0] == 4
    assert rs[2].custom_id == "r2"
    assert len(calls) == 3


def test_gc_pause_restores_the_collector() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a caller's own choice is left alone
    finally:
        gc.enable()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError
    assert gc.isenabled()
