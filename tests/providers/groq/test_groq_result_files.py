"""Groq result files (the shared file-and-batch download of Azure, Groq and Together): named
after the batch id made safe, inside ``dest``, private (0600)."""

from __future__ import annotations

import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import batchkit as bk
from batchkit.providers.base import ShardInput
from batchkit.providers.groq.adapter import GroqAdapter
from batchkit.testing._emulate import EmulatorHandle, emulate

HOSTILE_IDS = ["../../evil", "/tmp/batchkit-evil-absolute", "a/../../../evil", "x" * 400]


@pytest.fixture(autouse=True)
def _no_groq_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GROQ_API_KEY", "GROQ_BASE_URL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def emu() -> Iterator[EmulatorHandle]:
    with emulate(providers=["groq"]) as handle:
        yield handle


def test_a_hostile_batch_id_names_private_files_inside_dest(emu: EmulatorHandle,
                                                            tmp_path: Path) -> None:
    emu.apps["groq"].fault("g1", "http_error", status_code=500)
    adapter = GroqAdapter("llama-3.1-8b-instant")
    requests = [bk.ChatRequest(custom_id=f"g{i}", messages=[{"role": "user", "content": "hi"}])
                for i in range(3)]
    payload = tmp_path / "shard.jsonl"
    payload.write_bytes(b"".join(adapter.encode(r, r.custom_id) + b"\n" for r in requests))
    remote_id = adapter.submit(ShardInput(job_id="job-r", index=0, key="job-r-0000",
                                          group="chat", payload_path=payload, request_count=3,
                                          journaled_at=time.time()))
    status = adapter.poll(remote_id)
    while not status.state.is_terminal:
        status = adapter.poll(remote_id)
    assert status.raw["output_file_id"] and status.raw["error_file_id"]
    for n, hostile in enumerate(HOSTILE_IDS):
        dest = tmp_path / "downloads" / str(n) / "here"
        dest.mkdir(parents=True)
        before = set(tmp_path.rglob("*"))
        paths = adapter.fetch_results(hostile, status, dest)
        assert len(paths) == 2
        assert set(tmp_path.rglob("*")) - before == set(paths)
        assert all(p.parent == dest and len(p.name) < 255 for p in paths)
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in paths)
        assert sum(p.read_bytes().count(b"\n") for p in paths) == 3
    assert not list(Path("/tmp").glob("batchkit-evil-absolute*"))
    adapter.close()
