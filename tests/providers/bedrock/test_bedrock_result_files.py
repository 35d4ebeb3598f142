"""Bedrock result files: named after the job id and S3 object name made safe, inside ``dest``,
private (0600), written by boto3 into a file batchkit opened."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import orjson

import batchkit as bk
from batchkit._registry import make_adapter

from .conftest import CLAUDE

BUCKET = "batchkit-sandbox"
HOSTILE_NAMES = ["..\\..\\evil", "evil name;$(x)", "x" * 400, ".."]


def _private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


def test_hostile_object_names_and_job_ids_stay_inside_dest(handle: Any, tmp_path: Path) -> None:
    requests = [bk.ChatRequest(custom_id=f"m{i}", max_tokens=20,
                               messages=[{"role": "user", "content": f"mail {i}"}])
                for i in range(100)]
    job = bk.submit(requests, CLAUDE)
    assert len(job.wait().results()) == 100
    (shard,) = job.shards
    assert shard.result_paths and all(_private(Path(p)) for p in shard.result_paths)
    arn = str(shard.remote_id)
    adapter = make_adapter(CLAUDE)
    status = adapter.poll(arn)
    row = orjson.dumps({"recordId": "stray", "modelInput": {},
                        "error": {"errorCode": 500, "errorMessage": "x"}}) + b"\n"
    s3 = handle.apps["s3"]
    folder = f"batchkit/{job.id}/shard-0000/{arn.rsplit('/', 1)[-1]}/"
    for name in HOSTILE_NAMES:
        s3.put_object(BUCKET, f"{folder}{name}.jsonl.out", row)
    dest = tmp_path / "downloads" / "here"
    dest.mkdir(parents=True)
    before = set(tmp_path.rglob("*"))
    paths = adapter.fetch_results(arn, status, dest)
    assert len(paths) == 1 + len(HOSTILE_NAMES)
    assert set(tmp_path.rglob("*")) - before == set(paths)
    assert all(p.parent == dest and len(p.name) < 255 and _private(p) for p in paths)
    assert sum(p.read_bytes().count(b"\n") for p in paths) == 100 + len(HOSTILE_NAMES)

    # A job id (the ARN's last part) that is not a plain name: its folder is read, its text
    # never becomes a path.
    odd_id = "..\\" + "y" * 300
    s3.put_object(BUCKET, f"batchkit/{job.id}/shard-0000/{odd_id}/out.jsonl.out", row)
    dest = tmp_path / "downloads" / "odd"
    dest.mkdir()
    before = set(tmp_path.rglob("*"))
    (path,) = adapter.fetch_results(arn.rsplit("/", 1)[0] + "/" + odd_id, status, dest)
    assert set(tmp_path.rglob("*")) - before == {path}
    assert path.parent == dest and len(path.name) < 255 and _private(path)
    adapter.close()
