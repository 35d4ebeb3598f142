"""Request files read from, and results written to, fsspec URLs: ``file://``, ``memory://`` and
``gs://`` on the Cloud Storage emulator (``s3://`` has its own module: it needs s3fs)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import fsspec
import numpy as np
import pyarrow.parquet as pq
import pytest

import batchkit as bk
from batchkit._clock import Backoff
from batchkit._export import write_jsonl
from batchkit._redact import redact
from batchkit.testing import emulate

FAST = Backoff(initial=0.001, maximum=0.001)
LINES = [{"custom_id": f"r{i}", "text": f"text {i}"} for i in range(6)]


def jsonl(rows: list[dict[str, object]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


@pytest.fixture
def memory() -> fsspec.AbstractFileSystem:
    fs = fsspec.filesystem("memory")
    fs.store.clear()
    return fs


def test_every_format_reads_from_a_url(memory: fsspec.AbstractFileSystem) -> None:
    memory.pipe("/in/plain.jsonl", jsonl(LINES))
    memory.pipe("/in/rows.csv", b"\xef\xbb\xbfcustom_id,text,lang\na,hello,en\nb,bonjour,fr\n")
    openai = [{"custom_id": "o1", "method": "POST", "url": "/v1/embeddings",
               "body": {"model": "m", "input": "hi"}}]
    memory.pipe("/in/openai.jsonl", jsonl(openai))
    assert [r.custom_id for r in bk.read_requests("memory://in/plain.jsonl")] == \
        [r["custom_id"] for r in LINES]
    rows = list(bk.read_requests("memory://in/rows.csv"))
    assert [(r.custom_id, r.metadata) for r in rows] == [("a", {"lang": "en"}),
                                                          ("b", {"lang": "fr"})]
    assert [r.custom_id for r in bk.read_requests("memory://in/openai.jsonl")] == ["o1"]


def test_a_bad_line_in_a_url_is_named_by_its_number(memory: fsspec.AbstractFileSystem) -> None:
    memory.pipe("/in/bad.jsonl", jsonl(LINES[:2]) + b"{not json\n")
    with pytest.raises(bk.InvalidRequestError, match="line 3") as caught:
        list(bk.read_requests("memory://in/bad.jsonl"))
    assert "\n" not in str(caught.value)


def test_a_missing_object_is_one_batchkit_error() -> None:
    with pytest.raises(bk.InvalidRequestError, match=r"cannot read 'memory://nowhere/x.jsonl'"):
        list(bk.read_requests("memory://nowhere/x.jsonl"))


def test_a_protocol_without_its_package_says_what_to_install() -> None:
    pytest.importorskip("fsspec")
    try:
        import adlfs  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("adlfs is installed here")
    with pytest.raises(bk.MissingDependencyError, match=r"az:// URLs need adlfs: pip install"):
        list(bk.read_requests("az://container/requests.jsonl"))


def test_results_go_to_file_urls_in_every_format(tmp_path: Path) -> None:
    reqs = [bk.EmbedRequest(custom_id=f"d{i}", text=f"doc {i}") for i in range(9)]
    results = bk.submit(reqs, "fake:m").wait(backoff=FAST).results(lazy=True)
    base = tmp_path.as_uri()
    assert results.to_jsonl(f"{base}/r.jsonl") == 9
    assert results.to_parquet(f"{base}/r.parquet") == 9
    assert results.to_npy(f"{base}/r.npy") == 9
    assert results.to_parquet_dataset(f"{base}/ds") == 9
    lines = (tmp_path / "r.jsonl").read_text().splitlines()
    assert [json.loads(x)["custom_id"] for x in lines] == [f"d{i}" for i in range(9)]
    assert pq.read_table(tmp_path / "r.parquet").column("custom_id").to_pylist() == \
        [f"d{i}" for i in range(9)]
    assert np.array_equal(np.load(tmp_path / "r.npy"), results.embeddings())
    assert pq.read_table(tmp_path / "ds").num_rows == 9


def test_a_job_reads_its_requests_from_gcs_in_the_sandbox(tmp_path: Path) -> None:
    pytest.importorskip("gcsfs")
    with emulate(providers=["vertex"]) as handle:
        gcs = handle.apps["gcs"]
        gcs.store.put("batchkit-sandbox", "jobs/in.jsonl", jsonl(LINES))
        job = bk.submit(bk.read_requests("gs://batchkit-sandbox/jobs/in.jsonl"), "fake:m")
        results = job.wait(backoff=FAST).results()
    assert [r.custom_id for r in results] == [r["custom_id"] for r in LINES]


def test_credentials_given_with_a_url_never_reach_a_message() -> None:
    password = "hunter2-" + "x" * 12
    with pytest.raises(bk.InvalidRequestError) as caught:
        list(bk.read_requests(f"ftp://bob:{password}@127.0.0.1:1/requests.jsonl"))
    message = str(caught.value)
    assert "cannot read 'ftp://127.0.0.1:1/requests.jsonl'" in message
    assert password not in message and "bob" not in message
    secret = "s3cr3t-" + "y" * 12
    with pytest.raises(bk.InvalidRequestError):
        list(bk.read_requests("memory://nowhere/y.jsonl", storage_options={"secret": secret}))
    assert redact(f"got {secret} and {password}") == "got *** and ***"


def test_results_go_to_gcs_in_the_sandbox() -> None:
    pytest.importorskip("gcsfs")
    reqs = [bk.EmbedRequest(custom_id=f"d{i}", text=f"doc {i}") for i in range(5)]
    with emulate(providers=["vertex"]) as handle:
        results = bk.submit(reqs, "fake:m").wait(backoff=FAST).results(lazy=True)
        assert results.to_jsonl("gs://batchkit-sandbox/out/results.jsonl") == 5
        stored = handle.apps["gcs"].store.get("batchkit-sandbox", "out/results.jsonl")
    assert len(stored.data.splitlines()) == 5


def failing_results() -> Iterator[bk.Result]:
    yield bk.Result("a", "succeeded", text="fine")
    raise RuntimeError("the job's files went away")


def test_a_failed_export_leaves_no_half_object(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="went away"):
        write_jsonl(failing_results(), f"{tmp_path.as_uri()}/half.jsonl")
    assert list(tmp_path.iterdir()) == []  # not the file, nor fsspec's temporary one
