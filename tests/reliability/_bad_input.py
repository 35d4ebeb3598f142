"""What the bad-input tests share: the vendors they name, how a case is written, and the checks
that nothing was sent or kept.

Each case goes in through the Python API (``bk.submit`` / ``bk.encode`` / ``bk.estimate``), a
request file (neutral JSONL, OpenAI batch JSONL, CSV) or the CLI, with the OpenAI and Anthropic
emulators serving as the vendors. Every case must raise one of batchkit's own errors (never a
pydantic, JSON, Unicode or vendor one), whose message is a single line naming the request
(custom_id and/or line) and the rule; and afterwards the emulators must have seen no upload and
no batch, the store must hold no job and ``$BATCHKIT_HOME/jobs`` no job folder. The cases live in
``test_bad_input_api.py`` and ``test_bad_input_files.py``; the emulators and ``ctx`` fixtures in
``conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import batchkit as bk

OPENAI = "openai:gpt-4o-mini"
OPENAI_EMBED = "openai:text-embedding-3-small"  # a CSV of texts is embeddings
ANTHROPIC = "anthropic:claude-haiku-4-5"


class Label(BaseModel):
    label: str


def user(text: str = "hi") -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def chat(cid: str = "a", **fields: Any) -> bk.ChatRequest:
    fields.setdefault("messages", user())
    return bk.ChatRequest(custom_id=cid, **fields)


@dataclass
class Ctx:
    """What a case may use: a scratch folder (not under BATCHKIT_HOME) and monkeypatch."""

    tmp: Path
    monkeypatch: pytest.MonkeyPatch

    @property
    def out(self) -> Path:
        return self.tmp / "encoded"

    def file(self, content: bytes, suffix: str = ".jsonl") -> Path:
        path = self.tmp / f"requests{suffix}"
        path.write_bytes(content)
        return path


@dataclass(frozen=True)
class Case:
    id: str
    call: Callable[[Ctx], object]
    error: type[Exception]
    needles: tuple[str, ...]


def case(id: str, call: Callable[[Ctx], object], needles: tuple[str, ...],
         error: type[Exception] = bk.InvalidRequestError) -> Any:
    return pytest.param(Case(id, call, error, needles), id=id)


def _traffic(handle: Any) -> dict[str, int]:
    openai, anthropic = handle.apps["openai"], handle.apps["anthropic"]
    return {"openai uploads": openai.uploads, "openai files": len(openai.files),
            "openai creates": openai.creates, "openai batches": len(openai.batches),
            "anthropic creates": anthropic.creates, "anthropic batches": len(anthropic.batches)}


def _assert_one_line(message: str, needles: tuple[str, ...]) -> None:
    assert message and "\n" not in message.strip(), message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


def _assert_nothing_kept(home: Path, encoded: Path) -> None:
    assert bk.list_jobs() == []
    jobs = home / "jobs"
    assert not jobs.exists() or list(jobs.iterdir()) == []
    assert not encoded.exists() or list(encoded.iterdir()) == []


def assert_refused_before_anything_is_sent(bad: Case, emulators: Any, ctx: Ctx,
                                           tmp_path: Path) -> None:
    """The check of every API and file case: batchkit's own one-line error, no traffic, no job."""
    before = _traffic(emulators)
    with pytest.raises(bk.BatchkitError) as info:
        bad.call(ctx)
    assert type(info.value) is bad.error, repr(info.value)
    _assert_one_line(str(info.value), bad.needles)
    assert _traffic(emulators) == before
    _assert_nothing_kept(tmp_path / "bkhome", ctx.out)
