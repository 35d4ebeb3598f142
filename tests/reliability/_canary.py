"""What the secrets tests share: the two emulated vendors reached outside sandbox mode, the
evidence a key could leak into, and how a job is submitted and recorded.

Every vendor key variable batchkit knows holds a canary (``sk-canary-...``, random per test; the
``evidence`` fixture in ``conftest.py``) and each emulator accepts only its canary (the ``server``
fixture): so the canary is what the SDKs really sent. ``Evidence`` gathers every text a key could
reach and, with every file under ``$BATCHKIT_HOME``, searches them for the canary and for any
16-character piece of its random part.
"""

from __future__ import annotations

import functools
import json
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import batchkit as bk
from batchkit._registry import available_providers, get_adapter_class
from batchkit.testing._server import Response
from batchkit.testing.emulators.anthropic import routes as anthropic_emulator
from batchkit.testing.emulators.openai import routes as openai_emulator


class InstantClock:
    """Job.wait's clock: sleeping only moves time, so polling at the vendor's pace is instant."""

    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class Vendor:
    """How one emulated vendor is reached and told apart, outside sandbox mode."""

    provider: str
    app_name: str
    key_env: str
    base_suffix: str
    create_path: str
    poll_path: str

    def error(self, status: int, message: str) -> Response:
        """The vendor's own error body."""
        if self.app_name == "openai":
            return openai_emulator.ApiError(status, message).response()
        return anthropic_emulator.ApiError(status, message).response()


OPENAI = Vendor("openai:gpt-4o-mini", "openai", "OPENAI_API_KEY", "/v1",
                "/v1/batches", "/v1/batches/")
ANTHROPIC = Vendor("anthropic:claude-haiku-4-5", "anthropic", "ANTHROPIC_API_KEY", "",
                   "/v1/messages/batches", "/v1/messages/batches/")
VENDORS = [pytest.param(OPENAI, id="openai"), pytest.param(ANTHROPIC, id="anthropic")]
ALWAYS = 1000
"""Times an injected fault repeats: more than every retry of the SDKs and batchkit together."""


@functools.cache
def _key_variables() -> frozenset[str]:
    """Every secret credential variable of every adapter installed (endpoints, buckets and
    project names are listed beside the keys, but they are not secrets)."""
    names = {OPENAI.key_env, ANTHROPIC.key_env}
    for name, installed, _extra in available_providers():
        if installed:
            try:
                names.update(get_adapter_class(name).credential_env)
            except ImportError:  # an adapter being written as this runs: its keys still count
                continue
    return frozenset(n for n in names if any(w in n for w in ("KEY", "SECRET", "TOKEN")))


@dataclass
class Evidence:
    """Everything a key could leak into, gathered as the test runs, searched at the end."""

    canaries: dict[str, str]
    home: Path
    caplog: pytest.LogCaptureFixture
    texts: dict[str, str] = field(default_factory=dict)
    raised: int = 0

    def add(self, where: str, text: str) -> None:
        self.texts[f"{where} #{len(self.texts)}"] = text

    def expect(self, error: type[BaseException], call: Callable[[], object]) -> BaseException:
        """Run ``call``, which must raise ``error``; keep its whole traceback as evidence."""
        with pytest.raises(error) as info:
            call()
        exc = info.value
        self.raised += 1
        self.add(f"{type(exc).__name__} traceback",
                 "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        self.add(f"{type(exc).__name__} repr", repr(exc))
        return exc

    def pieces(self) -> set[str]:
        """The canaries and every 16-character piece of their random parts."""
        found = set(self.canaries.values())
        for canary in self.canaries.values():
            tail = canary.rsplit("-", 1)[1]
            found.update(tail[i:i + 16] for i in range(len(tail) - 15))
        return found

    def assert_clean(self) -> None:
        pieces = self.pieces()
        self.add("log records", self.caplog.text)
        files = [p for p in self.home.rglob("*") if p.is_file()]
        assert any(p.name.startswith("jobs.db") for p in files)
        leaks = [where for where, text in self.texts.items() if any(p in text for p in pieces)]
        leaks += [str(path) for path in files
                  if any(p.encode() in path.read_bytes() for p in pieces)]
        assert not leaks, f"a key was found in: {leaks}"


def _options(server: Any, vendor: Vendor) -> dict[str, str]:
    return {"base_url": server.base_url(vendor.app_name) + vendor.base_suffix}


def _requests(n: int = 4) -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"q{i}", max_tokens=50,
                           messages=[{"role": "user", "content": f"question {i}"}])
            for i in range(n)]


def _submit(server: Any, vendor: Vendor, n: int = 4) -> bk.Job:
    return bk.submit(_requests(n), vendor.provider, options=_options(server, vendor),
                     clock=InstantClock())


def _record_job(evidence: Evidence, job: bk.Job, results: bk.ResultSet | None = None) -> None:
    evidence.add("job repr", repr(job))
    evidence.add("adapter repr", repr(job._adapter))
    evidence.add("shards repr", repr(job.shards))
    evidence.add("list_jobs repr", repr(bk.list_jobs()))
    if results is not None:
        evidence.add("results repr", repr(results) + "".join(repr(r) for r in results))
        evidence.add("results dicts", json.dumps([r.to_dict() for r in results], default=str))

