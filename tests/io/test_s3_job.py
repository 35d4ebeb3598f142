"""A job whose input and output are ``s3://`` URLs on the S3 emulator, in flat memory.

Needs s3fs (the ``io`` extra). s3fs pins botocore through aiobotocore, so it may live in its own
environment (see the README's "Object storage, Arrow and Airflow"); without it this module skips.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import batchkit as bk
from batchkit._clock import Backoff
from batchkit._export import write_jsonl
from batchkit._storage import BLOCK_SIZE, filesystem
from batchkit.testing import emulate
from tests._subprocess import keyless_env

pytest.importorskip("s3fs")

FAST = Backoff(initial=0.001, maximum=0.001)
BUCKET = "batchkit-sandbox"
CHILD = Path(__file__).with_name("_s3_job.py")


def request_lines(n: int, text_bytes: int = 40) -> bytes:
    return b"".join(json.dumps({"custom_id": f"r{i}", "text": f"{i} " + "x" * text_bytes})
                    .encode() + b"\n" for i in range(n))


def test_a_job_reads_and_writes_s3_urls() -> None:
    with emulate(providers=["bedrock"]) as handle:
        s3 = handle.apps["s3"]
        s3.put_object(BUCKET, "in/requests.jsonl", request_lines(25))
        job = bk.submit(bk.read_requests(f"s3://{BUCKET}/in/requests.jsonl"), "fake:m")
        results = job.wait(backoff=FAST).results(lazy=True)
        assert results.to_jsonl(f"s3://{BUCKET}/out/results.jsonl") == 25
        assert results.to_parquet_dataset(f"s3://{BUCKET}/out/ds") == 25
        lines = (s3.get_object(BUCKET, "out/results.jsonl") or b"").splitlines()
        fs, path = filesystem(f"s3://{BUCKET}/out/ds")
        table = pq.read_table(path, filesystem=fs)
        keys = s3.keys(BUCKET, "out/ds/")
    assert [json.loads(x)["custom_id"] for x in lines] == [f"r{i}" for i in range(25)]
    assert sorted(table.column("custom_id").to_pylist()) == sorted(f"r{i}" for i in range(25))
    assert keys == ["out/ds/status=succeeded/part-0.parquet"]


def test_a_failed_export_to_s3_leaves_no_object_and_no_open_upload() -> None:
    big = bk.Result("a", "succeeded", text="x" * (BLOCK_SIZE + 1))  # forces a multipart upload

    def failing() -> Iterator[bk.Result]:
        yield big
        raise RuntimeError("the job's files went away")

    with emulate(providers=["bedrock"]) as handle:
        s3 = handle.apps["s3"]
        with pytest.raises(RuntimeError, match="went away"):
            write_jsonl(failing(), f"s3://{BUCKET}/out/half.jsonl")
        assert s3.operations["UploadPart"] >= 1  # a part had gone up before the failure
        assert s3.keys(BUCKET, "out/") == [] and s3.uploads == {}


def test_memory_stays_flat_as_the_s3_input_grows(tmp_path: Path) -> None:
    """Peak RSS of a child running the whole job (read s3:// -> submit -> collect -> write
    s3://) on 8x as many 7 kB requests grows by far less than the extra bytes; reading the whole
    object would grow by at least them. What may grow: the job's own tables, a few hundred bytes
    a request, and nothing else; the planner's window of rows (about 11 MB of 7 kB rows) is the
    same in both runs. (Varying the row size instead would scale that window with it.)"""
    counts, text_bytes = {"small": 2_500, "large": 20_000}, 7_000
    peaks, inputs = {}, {}
    with emulate(providers=["bedrock"]) as handle:
        s3 = handle.apps["s3"]
        for name, count in counts.items():
            data = request_lines(count, text_bytes=text_bytes)
            inputs[name] = len(data)
            s3.put_object(BUCKET, f"{name}.jsonl", data)
            del data
            before = s3.operations["GetObject"]
            env = keyless_env(tmp_path / name, BATCHKIT_SANDBOX=handle.url)
            run = subprocess.run(
                [sys.executable, str(CHILD), f"s3://{BUCKET}/{name}.jsonl",
                 f"s3://{BUCKET}/{name}-out.jsonl"],
                env=env, capture_output=True, text=True, timeout=240, check=False)
            assert run.returncode == 0, run.stderr[-2000:]
            report = json.loads(run.stdout.splitlines()[-1])
            assert report["requests"] == report["written"] == count
            peaks[name] = report["peak_rss_kib"] * 1024
            reads = s3.operations["GetObject"] - before
            assert reads >= inputs[name] // BLOCK_SIZE  # ranged reads, block by block
        out = (s3.get_object(BUCKET, "large-out.jsonl") or b"").splitlines()
    assert len(out) == counts["large"]
    extra_input = inputs["large"] - inputs["small"]
    growth = peaks["large"] - peaks["small"]
    print(f"input {inputs['small'] >> 20} -> {inputs['large'] >> 20} MiB; peak RSS "
          f"{peaks['small'] >> 20} -> {peaks['large'] >> 20} MiB")
    assert growth < extra_input / 4, (growth, extra_input)
