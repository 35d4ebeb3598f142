"""Gemini result files: named after the batch id made safe, inside ``dest``, private (0600)."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import batchkit as bk
from batchkit.providers.base import ShardInput
from batchkit.providers.gemini.adapter import GeminiAdapter
from batchkit.testing import emulate
from batchkit.testing._server import Request, Response

# The SDK accepts only ``batches/<one segment>`` (anything else is refused before a request),
# so what can reach a file name is one segment: odd characters, a Windows path, a huge length.
HOSTILE_IDS = ["batches/..\\..\\evil", "batches/evil name;$(x)", "batches/" + "x" * 400]


@pytest.fixture
def handle() -> Iterator[Any]:
    with emulate(providers=["gemini"]) as h:
        yield h


@pytest.mark.parametrize("inline_max_bytes", [0, 1_000_000], ids=["file", "inline"])
def test_a_hostile_batch_id_names_a_private_file_inside_dest(
        handle: Any, tmp_path: Path, inline_max_bytes: int) -> None:
    adapter = GeminiAdapter("gemini-2.5-flash", {"inline_max_bytes": inline_max_bytes})
    payload = tmp_path / "shard.jsonl"
    requests = [bk.ChatRequest(custom_id=f"r{i}", messages=[{"role": "user", "content": "x"}])
                for i in range(3)]
    payload.write_bytes(b"".join(adapter.encode(r, r.custom_id) + b"\n" for r in requests))
    real_id = adapter.submit(ShardInput(job_id="bk_j", index=0, key="bk_j-0000", group="chat",
                                        payload_path=payload, request_count=3))
    while not (status := adapter.poll(real_id)).state.is_terminal:
        pass
    app = handle.apps["gemini"]
    answer = app.handle

    def any_batch_name_is_the_real_one(request: Request) -> Response:
        if request.method == "GET" and request.path.startswith("/v1beta/batches/"):
            request.path = "/v1beta/" + real_id
        return answer(request)

    app.handle = any_batch_name_is_the_real_one
    for n, hostile in enumerate(HOSTILE_IDS):
        dest = tmp_path / "downloads" / str(n) / "here"
        dest.mkdir(parents=True)
        before = set(tmp_path.rglob("*"))
        (path,) = adapter.fetch_results(hostile, status, dest)
        assert set(tmp_path.rglob("*")) - before == {path}
        assert path.parent == dest and len(path.name) < 255
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_bytes().count(b"\n") == 3
