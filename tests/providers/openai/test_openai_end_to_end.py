"""OpenAI end to end: bk.submit through the real openai SDK against the emulator.

The emulator injects, by custom_id: 10 % replies that are not valid JSON, 5 % HTTP 400 rows and
2 % expired requests (which make the chat batch end ``expired``). Every one of the 800 requests
must come back once, in input order, with the status, error code and parse error injected.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from pydantic import BaseModel

import batchkit as bk
from batchkit.cli import cli
from batchkit.testing import emulate


class Verdict(BaseModel):
    spam: bool
    confidence: float
    reason: str


@pytest.fixture
def openai_emulator() -> Iterator[Any]:
    with emulate(providers=["openai"]) as handle:
        yield handle.apps["openai"]


def _requests() -> list[bk.ChatRequest | bk.EmbedRequest]:
    chats: list[bk.ChatRequest | bk.EmbedRequest] = [
        bk.ChatRequest(custom_id=f"mail-{i}", response_model=Verdict, max_tokens=100,
                       messages=[{"role": "system", "content": "Is this spam?"},
                                 {"role": "user", "content": f"email body {i}"}],
                       metadata={"row": i})
        for i in range(500)
    ]
    embeds: list[bk.ChatRequest | bk.EmbedRequest] = [
        bk.EmbedRequest(custom_id=f"chunk-{i}", text=f"chunk of text {i}", dimensions=256,
                        metadata={"row": 500 + i})
        for i in range(300)
    ]
    mixed = chats + embeds
    random.Random(11).shuffle(mixed)
    return mixed


def test_800_requests_every_fault_accounted_for(openai_emulator: Any, tmp_path: Path) -> None:
    requests = _requests()
    chat_ids = [r.custom_id for r in requests if isinstance(r, bk.ChatRequest)]
    rng = random.Random(5)
    picked = rng.sample(chat_ids, 85)
    invalid_json, http_400, expired = set(picked[:50]), set(picked[50:75]), set(picked[75:])
    for cid in invalid_json:
        openai_emulator.fault(cid, "invalid_json")
    for cid in http_400:
        openai_emulator.fault(cid, "http_error", status_code=400)
    for cid in expired:
        openai_emulator.fault(cid, "expired")

    # A chat model answers the chats and an embedding model the chunks: one job each.
    job = bk.submit([r for r in requests if r.kind == "chat"], "openai:gpt-4o-mini")
    embed_job = bk.submit([r for r in requests if r.kind == "embed"],
                          "openai:text-embedding-3-small")
    assert [s.group for s in job.shards + embed_job.shards] == ["chat", "embed"]
    job.wait()
    embed_job.wait()
    assert [s.state for s in job.shards + embed_job.shards] == [
        bk.JobState.EXPIRED, bk.JobState.COMPLETED]
    by_id = {r.custom_id: r for r in [*job.results(), *embed_job.results()]}
    results = bk.ResultSet([by_id[r.custom_id] for r in requests])

    assert len(results) == 800
    assert [r.custom_id for r in results] == [r.custom_id for r in requests]
    assert [r.metadata["row"] for r in results] == [r.metadata["row"] for r in requests]
    for r in results:
        if r.custom_id in invalid_json:
            assert r.status == "succeeded" and r.parsed is None and r.parse_error, r
        elif r.custom_id in http_400:
            assert r.status == "errored" and r.error and r.error.http_status == 400, r
            assert r.error.retryable is False
        elif r.custom_id in expired:
            assert r.status == "expired" and r.error and r.error.code == "batch_expired", r
        elif r.custom_id.startswith("mail-"):
            assert r.status == "succeeded" and isinstance(r.parsed, Verdict), r
            assert r.usage and r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    # 415 parsed chats + 50 unparsable chats (paid for, so succeeded) + 300 embeddings
    assert results.counts() == {"succeeded": 765, "errored": 25, "expired": 10}
    assert len(results.split()[0]) == 415
    embeds = bk.ResultSet([r for r in results if r.custom_id.startswith("chunk-")])
    matrix = embeds.embeddings()
    assert matrix.shape == (300, 256) and matrix.dtype == np.float32


def test_offline_decode_of_downloaded_files_matches_the_job(
    openai_emulator: Any, tmp_path: Path
) -> None:
    requests = [r for r in _requests() if isinstance(r, bk.ChatRequest)][:60]
    openai_emulator.fault(requests[3].custom_id, "http_error", status_code=400)
    openai_emulator.fault(requests[4].custom_id, "invalid_json")
    job = bk.submit(requests, "openai:gpt-4o-mini").wait()
    from_job = job.results()
    files = [Path(p) for s in job.shards for p in (s.result_paths or [])]
    assert len(files) == 2  # output file and error file, both downloaded
    offline = bk.decode(files, "openai:gpt-4o-mini", requests)
    assert [r.to_dict() for r in offline] == [r.to_dict() for r in from_job]


def test_cli_sandbox_run_with_no_key_and_no_network(tmp_path: Path) -> None:
    path = tmp_path / "emails.jsonl"
    path.write_text("".join(
        json.dumps({"custom_id": f"e{i}", "messages": [{"role": "user", "content": f"hi {i}"}]})
        + "\n" for i in range(15)))
    out = tmp_path / "results.jsonl"
    result = CliRunner().invoke(cli, ["submit", str(path), "-p", "openai:gpt-4o-mini",
                                      "--sandbox", "--wait", "--results", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["state"] == "completed" and summary["results"] == {"succeeded": 15}
    assert [json.loads(x)["custom_id"] for x in out.read_text().splitlines()] == [
        f"e{i}" for i in range(15)]
