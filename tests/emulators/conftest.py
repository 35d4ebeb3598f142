"""Fixtures for driving the real ``openai`` SDK against the loopback OpenAI emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from batchkit.testing._emulate import EmulatorHandle, emulate
from batchkit.testing.emulators.openai.routes import OpenAIEmulator

TERMINAL = ("completed", "failed", "expired", "cancelled")


@pytest.fixture
def emu() -> Iterator[EmulatorHandle]:
    with emulate(auto=True) as handle:
        yield handle


@pytest.fixture
def manual_emu() -> Iterator[EmulatorHandle]:
    with emulate(auto=False) as handle:
        yield handle


@pytest.fixture
def app(emu: EmulatorHandle) -> OpenAIEmulator:
    emulator: OpenAIEmulator = emu.apps["openai"]
    return emulator


@pytest.fixture
def client(emu: EmulatorHandle) -> openai.OpenAI:
    return sdk_client(emu)


def sdk_client(handle: EmulatorHandle, api_key: str = "sandbox", retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{handle.url}/openai/v1", api_key=api_key, max_retries=retries)


def raw_json(handle: EmulatorHandle, path: str) -> Any:
    """GET a path with plain httpx, so a test sees the exact body the emulator returned."""
    response = httpx.get(f"{handle.url}/openai{path}", headers={"Authorization": "Bearer sandbox"})
    response.raise_for_status()
    return response.json()


def chat_line(custom_id: str, text: str = "Hello", model: str = "gpt-4o-mini",
              **body: Any) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "messages": [{"role": "user", "content": text}], **body},
    }


def embed_line(custom_id: str, text: Any = "some text", model: str = "text-embedding-3-small",
               **body: Any) -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/embeddings",
            "body": {"model": model, "input": text, **body}}


def upload(client: openai.OpenAI, lines: list[Any], purpose: str = "batch",
           filename: str = "input.jsonl") -> str:
    """Upload ``lines`` (dicts become JSON lines; strings are written verbatim)."""
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    return client.files.create(file=(filename, text.encode()), purpose=purpose).id


def start(client: openai.OpenAI, lines: list[Any], endpoint: str = "/v1/chat/completions",
          **extra: Any) -> openai.types.Batch:
    file_id = upload(client, lines)
    return client.batches.create(input_file_id=file_id, endpoint=endpoint,
                                 completion_window="24h", **extra)


def poll(
    client: openai.OpenAI, batch_id: str, limit: int = 20
) -> tuple[openai.types.Batch, list[str]]:
    """Poll until terminal (auto clock); return the final batch and every status seen."""
    seen = []
    for _ in range(limit):
        batch = client.batches.retrieve(batch_id)
        seen.append(batch.status)
        if batch.status in TERMINAL:
            return batch, seen
    raise AssertionError(f"batch {batch_id} still {seen[-1]} after {limit} polls")


def run(client: openai.OpenAI, lines: list[Any], endpoint: str = "/v1/chat/completions",
        **extra: Any) -> openai.types.Batch:
    return poll(client, start(client, lines, endpoint, **extra).id)[0]


def rows(client: openai.OpenAI, file_id: str | None) -> dict[str, dict[str, Any]]:
    """The lines of a result file by custom_id (empty when the file id is null)."""
    if file_id is None:
        return {}
    parsed = [json.loads(line) for line in client.files.content(file_id).text.splitlines()]
    by_id = {row["custom_id"]: row for row in parsed}
    assert len(by_id) == len(parsed), "a custom_id appears twice in one result file"
    return by_id
