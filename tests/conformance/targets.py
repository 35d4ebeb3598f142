"""Conformance targets: how to run each provider in a test, and how to count its batches.

Adding a vendor to the conformance suite is one entry here. ``environment`` starts whatever the
provider needs (its emulator) and yields a handle; ``created`` asks that environment how many
vendor batches exist for an idempotency key, which is how "nothing paid twice" is checked
without trusting batchkit's own bookkeeping.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from batchkit._config import batchkit_home
from batchkit.testing import emulate, fake_submissions


@dataclass(frozen=True)
class Target:
    name: str
    chat: str
    embed: str | None
    environment: Callable[[], contextlib.AbstractContextManager[Any]]
    created: Callable[[Any, str], int]
    slow_options: dict[str, Any] = field(default_factory=dict)
    """Options that keep a batch running long enough to cancel it."""
    embed_dimensions: int | None = None


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield None


def _openai_created(handle: Any, key: str) -> int:
    return int(handle.apps["openai"].batches_created_with("batchkit_key", key))


def _anthropic_created(handle: Any, key: str) -> int:
    """Anthropic batches carry no key: find the shard's payload from its key (``<job>-<index>``)
    and count the creates whose first request is that payload's first request."""
    job_id, _, index = key.rpartition("-")
    payload = batchkit_home() / "jobs" / job_id / f"shard-{index}.payload.jsonl"
    with payload.open("rb") as fh:
        first_id = orjson.loads(fh.readline())["custom_id"]
    return int(handle.apps["anthropic"].batches_created_with(first_id))


TARGETS = [
    Target(
        name="fake",
        chat="fake:m",
        embed="fake:m",
        environment=_nothing,
        created=lambda _handle, key: fake_submissions().get(key, 0),
        slow_options={"states": ["running"] * 20},
        embed_dimensions=8,
    ),
    Target(
        name="openai",
        chat="openai:gpt-4o-mini",
        embed="openai:text-embedding-3-small",
        environment=lambda: emulate(providers=["openai"]),
        created=_openai_created,
        embed_dimensions=64,
    ),
    Target(
        name="anthropic",
        chat="anthropic:claude-haiku-4-5",
        embed=None,
        environment=lambda: emulate(providers=["anthropic"]),
        created=_anthropic_created,
    ),
]
