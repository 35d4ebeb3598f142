"""SIGKILL a real job at each step, against the vendor emulators, resume it, and count.

A child process runs ``submit -> wait -> results`` through the real SDK and kills itself at one
step; the emulator lives in this (parent) process, so it outlives the child the way a vendor
outlives a crashed client. The parent then resumes the job and checks, from the emulator's own
books, that each shard has exactly one vendor batch, and that every request has exactly one
result.

The steps: after the journal is written (before any vendor call), after the file upload, after
the vendor created the batch but before batchkit recorded its id, during polling, during the
download, and during decoding. Every provider in the registry is killed at every step on each
request kind it has (chat, and embeddings where the vendor has them): a new vendor is covered
by its conformance target; the sweep beyond the first three vendors is marked ``slow`` (CI still
runs it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

import batchkit as bk
from batchkit._registry import available_providers

from ..conformance.targets import TARGETS, Target

N = 25
SHARD_SIZE = 10

# The SDK call that uploads a shard's file, for vendors that upload before they create (Gemini
# and Mistral send jobs this small inline: no upload to kill after).
UPLOAD_CALL = {
    "openai": ("openai.resources.files", "Files", "create"),
    "azure": ("openai.resources.files", "Files", "create"),
    "groq": ("groq.resources.files", "Files", "create"),
    "together": ("together.resources.files", "FilesResource", "upload"),
    "vertex": ("google.cloud.storage.blob", "Blob", "upload_from_file"),
    "bedrock": ("boto3.s3.transfer", "S3Transfer", "upload_file"),
    "cohere": ("cohere.datasets.client", "DatasetsClient", "create"),
}

CHILD = textwrap.dedent(
    """
    import importlib, os, signal, sys, threading
    import batchkit as bk
    from batchkit._registry import get_adapter_class

    point, kind, provider = sys.argv[1], sys.argv[2], sys.argv[3]
    n, shard_size, upload = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6:]

    def die():
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    def wrap(owner, name, *, before=False, nth=1):
        original = getattr(owner, name)
        calls, lock = [0], threading.Lock()
        def wrapped(*args, **kwargs):
            with lock:  # shards are sent and polled from several threads at once
                calls[0] += 1
                mine = calls[0]
            if before and mine == nth:
                die()
            out = original(*args, **kwargs)
            if not before and mine == nth:
                die()
            return out
        setattr(owner, name, wrapped)

    adapter = get_adapter_class(provider.partition(":")[0])
    if point == "after_journal":
        wrap(adapter, "submit", before=True)
    elif point == "after_upload":
        module, cls, name = upload
        wrap(getattr(importlib.import_module(module), cls), name)
    elif point == "after_create":
        wrap(adapter, "submit", nth=2)
    elif point == "during_polling":
        wrap(adapter, "poll", nth=3)
    elif point == "during_download":
        wrap(adapter, "fetch_results", nth=2)
    elif point == "during_decoding":
        wrap(adapter, "decode", nth=12)

    if kind == "chat":
        requests = [bk.ChatRequest(custom_id=f"k-{i}", max_tokens=20,
                                   messages=[{"role": "user", "content": f"question {i}"}])
                    for i in range(n)]
    else:
        requests = [bk.EmbedRequest(custom_id=f"k-{i}", text=f"passage {i}") for i in range(n)]
    job = bk.submit(requests, provider, shard_size=shard_size)
    job.wait()
    job.results()
    print("finished without being killed")
    """
)

POINTS = ["after_journal", "after_upload", "after_create", "during_polling", "during_download",
          "during_decoding"]
# The fake provider has no vendor process to outlive the child; every other one is killed.
VENDORS = [t for t in TARGETS if t.name != "fake" and t.name in
           {name for name, _, _ in available_providers()}]
FIRST_SWEEP = {"openai", "anthropic", "cohere"}
"""The vendors killed before every vendor was (the rest of the sweep is marked slow)."""
CASES = [
    pytest.param(t, kind, point, id=f"{t.name}-{kind}-{point}",
                 marks=() if t.name in FIRST_SWEEP else (pytest.mark.slow,))
    for t in VENDORS
    for kind in (["chat", "embed"] if t.embed else ["chat"])
    for point in POINTS
    if point != "after_upload" or t.name in UPLOAD_CALL
]


def test_every_registered_vendor_is_killed() -> None:
    """A provider added to the registry without a conformance target would escape the sweep."""
    registered = {name for name, _, _ in available_providers()} - {"fake"}
    assert registered <= {t.name for t in VENDORS}


@pytest.fixture
def environment(request: pytest.FixtureRequest) -> Iterator[Any]:
    t: Target = request.node.callspec.params["target"]
    with t.environment() as handle:
        yield handle


@pytest.mark.parametrize(("target", "kind", "point"), CASES)
def test_kill_resume_exactly_once(
    target: Target, kind: str, point: str, environment: Any
) -> None:
    provider = target.chat if kind == "chat" else target.embed
    upload = list(UPLOAD_CALL.get(target.name, ()))
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, point, kind, str(provider), str(N), str(SHARD_SIZE),
         *upload],
        env=dict(os.environ), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert "finished" not in proc.stdout
    (record,) = bk.list_jobs()

    job = bk.resume(record.id).wait()
    results = job.results()

    shards = job.shards
    assert len(shards) == 3
    assert [target.created(environment, s.key) for s in shards] == [1, 1, 1]
    assert [r.custom_id for r in results] == [f"k-{i}" for i in range(N)]
    assert results.counts() == {"succeeded": N}
    assert results.unmatched == []
