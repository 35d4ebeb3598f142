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
import pytest

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
    and count the batches the emulator holds whose requests are exactly that payload's (a retry
    shard may begin with the same request as the shard it retries, so the first id is not enough).
    """
    job_id, _, index = key.rpartition("-")
    payload = batchkit_home() / "jobs" / job_id / f"shard-{index}.payload.jsonl"
    with payload.open("rb") as fh:
        ids = [orjson.loads(line)["custom_id"] for line in fh if line.strip()]
    batches = handle.apps["anthropic"].batches.values()
    return sum(1 for b in batches if [r.custom_id for r in b.requests] == ids)


@contextlib.contextmanager
def _bedrock_environment() -> Iterator[Any]:
    """The Bedrock and S3 emulators, with the per-job minimum of 100 records lowered to 1 on
    both sides: the suite's jobs are smaller than that quota (its own tests cover it)."""
    with contextlib.ExitStack() as stack:
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        patch.setenv("BATCHKIT_BEDROCK_MIN_RECORDS", "1")
        handle = stack.enter_context(emulate(providers=["bedrock"]))
        handle.apps["bedrock"].min_records = 1
        yield handle


def _azure_created(handle: Any, key: str) -> int:
    """Azure batches carry the shard key in their metadata (``batchkit_key``)."""
    return int(handle.apps["azure"].batches_created_with("batchkit_key", key))


def _bedrock_created(handle: Any, key: str) -> int:
    """Bedrock jobs carry the shard key (as batchkit's job name) in ``jobName``."""
    from batchkit.providers.bedrock.codec import job_name

    return int(handle.apps["bedrock"].jobs_named(job_name(key)))


def _cohere_created(handle: Any, key: str) -> int:
    """Cohere batches and embed jobs carry the shard key as their name."""
    return int(handle.apps["cohere"].jobs_created_with(key))


def _gemini_created(handle: Any, key: str) -> int:
    """Gemini batches carry the shard key in their display name (``batchkit:<key>``)."""
    return int(handle.apps["gemini"].batches_with_display_name(f"batchkit:{key}"))


def _groq_created(handle: Any, key: str) -> int:
    """Groq batches carry the shard key in their metadata (``batchkit_key``)."""
    return int(handle.apps["groq"].batches_created_with("batchkit_key", key))


def _mistral_created(handle: Any, key: str) -> int:
    """Mistral jobs carry the shard key in their metadata (``batchkit_key``)."""
    return int(handle.apps["mistral"].jobs_created_with("batchkit_key", key))


def _together_created(handle: Any, key: str) -> int:
    """Together batches carry no metadata: count the creates whose input file bears the name
    the adapter uploads the shard under."""
    from batchkit.providers.together.codec import upload_name

    return int(handle.apps["together"].batches_created_from(upload_name(key)))


def _vertex_created(handle: Any, key: str) -> int:
    from batchkit.providers.vertex.codec import KEY_LABEL, label_value

    return int(handle.apps["vertex"].jobs_with_label(KEY_LABEL, label_value(key)))


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
    Target(
        name="azure",
        chat="azure:gpt-4o-mini",
        embed=None,
        environment=lambda: emulate(providers=["azure"]),
        created=_azure_created,
    ),
    Target(
        name="bedrock",
        chat="bedrock:anthropic.claude-3-5-haiku-20241022-v1:0",
        embed="bedrock:amazon.titan-embed-text-v2:0",
        environment=_bedrock_environment,
        created=_bedrock_created,
        embed_dimensions=256,
    ),
    Target(
        name="cohere",
        chat="cohere:command-r-08-2024",
        embed="cohere:embed-english-v3.0",
        environment=lambda: emulate(providers=["cohere"]),
        created=_cohere_created,
        embed_dimensions=1024,
    ),
    Target(
        name="gemini",
        chat="gemini:gemini-2.5-flash",
        embed="gemini:gemini-embedding-001",
        environment=lambda: emulate(providers=["gemini"]),
        created=_gemini_created,
        embed_dimensions=64,
    ),
    Target(
        name="groq",
        chat="groq:llama-3.1-8b-instant",
        embed=None,
        environment=lambda: emulate(providers=["groq"]),
        created=_groq_created,
    ),
    Target(
        name="mistral",
        chat="mistral:mistral-small-latest",
        embed="mistral:codestral-embed",
        environment=lambda: emulate(providers=["mistral"]),
        created=_mistral_created,
        embed_dimensions=256,
    ),
    Target(
        name="together",
        chat="together:openai/gpt-oss-20b",
        embed=None,
        environment=lambda: emulate(providers=["together"]),
        created=_together_created,
    ),
    Target(
        name="vertex",
        chat="vertex:gemini-2.5-flash",
        embed="vertex:text-embedding-005",
        environment=lambda: emulate(providers=["vertex"]),
        created=_vertex_created,
        embed_dimensions=64,
    ),
]
