"""OpenAI's per-batch limits in the planner, checked offline with bk.encode (nothing sent)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import batchkit as bk


def _chats(n: int) -> Iterator[bk.ChatRequest]:
    for i in range(n):
        yield bk.ChatRequest(custom_id=f"c{i}", messages=[{"role": "user", "content": f"q {i}"}])


def _line_counts(paths: list[Path]) -> list[int]:
    counts = []
    for path in paths:
        with open(path, "rb") as fh:
            counts.append(sum(1 for _ in fh))
    return counts


def test_120k_requests_become_three_shards_of_at_most_50k(tmp_path: Path) -> None:
    paths = bk.encode(_chats(120_000), "openai:gpt-4o-mini", tmp_path)
    assert _line_counts(paths) == [50_000, 50_000, 20_000]
    with open(paths[2], "rb") as fh:
        first = json.loads(fh.readline())
    assert first["custom_id"] == "c100000" and first["url"] == "/v1/chat/completions"


def test_byte_limit_cuts_shards_before_the_request_limit(tmp_path: Path) -> None:
    big = "x" * 3_000_000  # about 3 MB per line: 200 MB holds 66 of them
    requests = (bk.ChatRequest(custom_id=f"b{i}", messages=[{"role": "user", "content": big}])
                for i in range(140))
    # gpt-4.1: a context window of 1M tokens can hold a 3 MB text; gpt-4o-mini's 128k cannot,
    # and planning refuses such a line before any limit on the file is reached.
    paths = bk.encode(requests, "openai:gpt-4.1", tmp_path)
    sizes = [p.stat().st_size for p in paths]
    assert len(paths) == 3 and all(size <= 200_000_000 for size in sizes)
    assert sum(_line_counts(paths)) == 140


def test_embedding_inputs_limit(tmp_path: Path) -> None:
    requests = (bk.EmbedRequest(custom_id=f"e{i}", text=f"chunk {i}") for i in range(50_001))
    paths = bk.encode(requests, "openai:text-embedding-3-small", tmp_path)
    assert _line_counts(paths) == [50_000, 1]
