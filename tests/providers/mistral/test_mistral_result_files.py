"""Mistral result files: named after the job id made safe, inside ``dest``, private (0600)."""

from __future__ import annotations

import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import batchkit as bk
from batchkit.providers.base import RemoteStatus, ShardInput
from batchkit.providers.mistral.adapter import MistralAdapter
from batchkit.testing._emulate import EmulatorHandle, emulate

HOSTILE_IDS = ["../../evil", "/tmp/batchkit-evil-absolute", "a/../../../evil", "x" * 400]


@pytest.fixture
def emu() -> Iterator[EmulatorHandle]:
    with emulate(providers=["mistral"]) as handle:
        yield handle


def _finished(adapter: MistralAdapter, folder: Path) -> tuple[str, RemoteStatus]:
    """A real job run to the end, with one request failed so both files exist."""
    requests = [bk.ChatRequest(custom_id=f"m{i}", messages=[{"role": "user", "content": "hi"}])
                for i in range(3)]
    payload = folder / "shard.jsonl"
    payload.write_bytes(b"".join(adapter.encode(r, r.custom_id) + b"\n" for r in requests))
    remote_id = adapter.submit(ShardInput(job_id="job-r", index=0, key="job-r-0000",
                                          group="chat", payload_path=payload, request_count=3,
                                          journaled_at=time.time()))
    for _ in range(20):
        status = adapter.poll(remote_id)
        if status.state.is_terminal:
            return remote_id, status
    raise AssertionError("the job never finished")


def test_a_hostile_job_id_names_private_files_inside_dest(emu: EmulatorHandle,
                                                          tmp_path: Path) -> None:
    emu.apps["mistral"].fault("m1", "http_error", status_code=500)
    adapter = MistralAdapter("mistral-small-latest")
    _, status = _finished(adapter, tmp_path)
    for n, hostile in enumerate(HOSTILE_IDS):
        dest = tmp_path / "downloads" / str(n) / "here"
        dest.mkdir(parents=True)
        before = set(tmp_path.rglob("*"))
        paths = adapter.fetch_results(hostile, status, dest)
        assert len(paths) == 2
        assert set(tmp_path.rglob("*")) - before == set(paths)
        assert all(p.parent == dest and len(p.name) < 255 for p in paths)
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in paths)
    assert not list(Path("/tmp").glob("batchkit-evil-absolute*"))


def test_inline_results_are_private_too(emu: EmulatorHandle, tmp_path: Path) -> None:
    emu.apps["mistral"].results_inline_only = True
    adapter = MistralAdapter("mistral-small-latest")
    remote_id, status = _finished(adapter, tmp_path)
    (path,) = adapter.fetch_results(remote_id, status, tmp_path / "out")
    assert path.parent == tmp_path / "out" and path.read_bytes().count(b"\n") == 3
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
