"""Fixtures for the cost tests: request files (tiktoken's encodings ship inside batchkit)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import pytest


def chat_line(i: int) -> dict[str, object]:
    """A short classification request, the shape of a typical batch job."""
    return {
        "custom_id": f"email-{i}",
        "messages": [
            {"role": "system", "content": "Label the email as spam or ham. Answer with one word."},
            {"role": "user", "content": f"Email {i}: Congratulations, you won a prize #{i}!"},
        ],
        "max_tokens": 5,
    }


@pytest.fixture
def write_requests(tmp_path: Path) -> Callable[[int], Path]:
    """Write ``n`` neutral JSONL chat requests and return the file."""

    def write(n: int) -> Path:
        path = tmp_path / f"requests-{n}.jsonl"
        with open(path, "wb") as fh:
            for i in range(n):
                fh.write(orjson.dumps(chat_line(i)) + b"\n")
        return path

    return write
