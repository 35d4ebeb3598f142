"""Vertex result files: named after the object name made safe, inside ``dest``, private (0600),
written by the storage client into a file batchkit opened."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import batchkit as bk
from batchkit.providers.base import ShardInput
from batchkit.providers.vertex.adapter import VertexAdapter
from batchkit.testing._emulate import EmulatorHandle

HOSTILE_NAMES = ["..\\..\\evil", "evil name;$(x)", "x" * 400, ".."]


def test_hostile_object_names_stay_inside_dest(handle: EmulatorHandle, gcs: Any,
                                               tmp_path: Path) -> None:
    adapter = VertexAdapter("gemini-2.5-flash")
    payload = tmp_path / "shard.jsonl"
    requests = [bk.ChatRequest(custom_id=f"r{i}", messages=[{"role": "user", "content": "x"}])
                for i in range(3)]
    payload.write_bytes(b"".join(adapter.encode(r, adapter.vendor_id(r.custom_id)) + b"\n"
                                 for r in requests))
    name = adapter.submit(ShardInput(job_id="bk_job", index=0, key="bk_job-0000", group="chat",
                                     payload_path=payload, request_count=3))
    while not (status := adapter.poll(name)).state.is_terminal:
        pass
    directory = status.raw["outputInfo"]["gcsOutputDirectory"]
    bucket, _, prefix = directory.removeprefix("gs://").partition("/")
    for odd in HOSTILE_NAMES:
        gcs.bucket(bucket).blob(f"{prefix}/{odd}.jsonl").upload_from_string(b"{}\n")
    dest = tmp_path / "downloads" / "here"
    dest.mkdir(parents=True)
    before = set(tmp_path.rglob("*"))
    paths = adapter.fetch_results(name, status, dest)
    assert len(paths) == 1 + len(HOSTILE_NAMES)
    assert set(tmp_path.rglob("*")) - before == set(paths)
    assert all(p.parent == dest and len(p.name) < 255 for p in paths)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in paths)
    assert sum(p.read_bytes().count(b"\n") for p in paths) == 3 + len(HOSTILE_NAMES)
