"""Cohere result files: named after the job id made safe, inside ``dest``, private (0600)."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import batchkit as bk
from batchkit._requests import Request
from batchkit.providers.base import Adapter
from batchkit.testing import emulate

HOSTILE_IDS = ["../../evil", "/tmp/batchkit-evil-absolute", "a/../../../evil", "x" * 400]


@pytest.fixture
def handle() -> Iterator[Any]:
    with emulate(providers=["cohere"]) as h:
        yield h


def _private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(("requests", "model"), [
    ([bk.EmbedRequest(custom_id=f"e{i}", text=f"text {i}") for i in range(3)],
     "cohere:embed-english-v3.0"),
    ([bk.ChatRequest(custom_id=f"c{i}", messages=[{"role": "user", "content": "hi"}])
      for i in range(3)], "cohere:command-r-08-2024"),
], ids=["embed-job", "batch"])
def test_a_hostile_job_id_names_a_private_file_inside_dest(
        handle: Any, tmp_path: Path, requests: list[Request], model: str) -> None:
    job = bk.submit(requests, model)
    assert len(job.wait().results()) == 3
    (shard,) = job.shards
    assert shard.remote_id is not None and shard.result_paths
    assert all(_private(Path(p)) for p in shard.result_paths)
    kind = shard.remote_id.split(":", 1)[0] + ":"
    adapter: Adapter = job._adapter
    status = adapter.poll(shard.remote_id)
    for n, hostile in enumerate(HOSTILE_IDS):
        dest = tmp_path / "downloads" / str(n) / "here"
        dest.mkdir(parents=True)
        before = set(tmp_path.rglob("*"))
        (path,) = adapter.fetch_results(kind + hostile, status, dest)
        assert set(tmp_path.rglob("*")) - before == {path}
        assert path.parent == dest and len(path.name) < 255 and _private(path)
        assert path.read_bytes().count(b"\n") == 3
    assert not list(Path("/tmp").glob("batchkit-evil-absolute*"))
