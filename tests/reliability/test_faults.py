"""HTTP faults survived through the real SDKs: rate limits, 5xx, timeouts, resets, cut downloads,
corrupted lines. Each test counts the vendor batches created (never more than one per shard) and
the results (every request exactly once).

The figures in the README's RELIABILITY section come from this module and test_kill_points.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import batchkit as bk
from batchkit.testing import emulate
from batchkit.testing._server import EndpointFaults

from ..conformance.targets import TARGETS, Target

N = 30


@dataclass(frozen=True)
class Paths:
    """Where each kind of call goes on a vendor's emulator (path prefixes inside its app)."""

    create: str
    reads: str
    download: str
    download_suffix: str


VENDOR_PATHS = {
    "openai": Paths(create="/v1/batches", reads="/v1/batches", download="/v1/files/",
                    download_suffix="/content"),
    "anthropic": Paths(create="/v1/messages/batches", reads="/v1/messages/batches",
                       download="/v1/messages/batches/", download_suffix="/results"),
    "mistral": Paths(create="/v1/batch/jobs", reads="/v1/batch/jobs", download="/v1/files/",
                     download_suffix="/content"),
    # Groq stands for the three adapters on the shared Stainless-SDK base (Azure, Together).
    "groq": Paths(create="/openai/v1/batches", reads="/openai/v1/batches",
                  download="/openai/v1/files/", download_suffix="/content"),
}
CASES = [t for t in TARGETS if t.name in VENDOR_PATHS]


@pytest.fixture(params=CASES, ids=[t.name for t in CASES])
def vendor(request: pytest.FixtureRequest) -> Iterator[tuple[Target, Any, EndpointFaults, Paths]]:
    t: Target = request.param
    with t.environment() as handle:
        yield t, handle, handle.apps[t.name].endpoint_faults, VENDOR_PATHS[t.name]


def chats(n: int = N) -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"q-{i}", max_tokens=20,
                           messages=[{"role": "user", "content": f"question {i}"}])
            for i in range(n)]


def run_and_count(t: Target, handle: Any, **submit: Any) -> bk.ResultSet:
    """Run a 3-shard job; assert one vendor batch per shard and every request exactly once."""
    job = bk.submit(chats(), t.chat, shard_size=10, **submit)
    results = job.wait().results()
    assert [t.created(handle, s.key) for s in job.shards] == [1] * len(job.shards)
    assert [r.custom_id for r in results] == [f"q-{i}" for i in range(N)]
    return results


ARM: dict[str, Callable[[EndpointFaults, Paths], None]] = {
    "429 Retry-After on create x2": lambda f, p: f.add(
        429, method="POST", path_prefix=p.create, times=2, retry_after=0.01),
    "500 on create": lambda f, p: f.add(500, method="POST", path_prefix=p.create),
    "502 on create": lambda f, p: f.add(502, method="POST", path_prefix=p.create),
    "503 on create x3": lambda f, p: f.add(503, method="POST", path_prefix=p.create, times=3),
    "connection reset on create": lambda f, p: f.add(
        None, method="POST", path_prefix=p.create, drop=True),
    # The batch is created, then the answer is cut off: only a look-up by key avoids a second.
    "create answered, response lost": lambda f, p: f.add(
        None, method="POST", path_prefix=p.create, truncate=True),
    "429 on 30% of reads": lambda f, p: f.add(
        429, method="GET", path_prefix=p.reads, rate=0.3, seed=1, retry_after=0),
    "503 on 30% of reads": lambda f, p: f.add(503, method="GET", path_prefix="/", rate=0.3,
                                              seed=2),
    "connection reset on 20% of reads": lambda f, p: f.add(
        None, method="GET", path_prefix="/", drop=True, rate=0.2, seed=3),
    "download cut off half way x2": lambda f, p: f.add(
        None, method="GET", path_prefix=p.download, path_suffix=p.download_suffix,
        truncate=True, times=2),
}


@pytest.mark.parametrize("fault", list(ARM))
def test_fault_is_survived_with_one_batch_per_shard(
    vendor: tuple[Target, Any, EndpointFaults, Paths], fault: str
) -> None:
    t, handle, faults, paths = vendor
    ARM[fault](faults, paths)
    results = run_and_count(t, handle)
    assert results.counts() == {"succeeded": N}
    assert faults.hits >= 1, "the fault never fired: the test proved nothing"


def test_read_timeouts_are_retried(vendor: tuple[Target, Any, EndpointFaults, Paths]) -> None:
    t, handle, faults, paths = vendor
    faults.add(None, method="GET", path_prefix=paths.reads, delay=1.5, times=2)
    results = run_and_count(t, handle, options={"timeout": 0.5})
    assert results.counts() == {"succeeded": N}
    assert faults.hits == 2


def test_corrupted_result_lines_become_errored_results(
    vendor: tuple[Target, Any, EndpointFaults, Paths],
) -> None:
    t, _, faults, paths = vendor
    faults.add(None, method="GET", path_prefix=paths.download, path_suffix=paths.download_suffix,
               corrupt_lines=0.2, rate=1.0, seed=4)
    job = bk.submit(chats(), t.chat, shard_size=10)
    results = job.wait().results()
    assert [r.custom_id for r in results] == [f"q-{i}" for i in range(N)]
    errored = [r for r in results if not r.ok]
    codes = Counter(r.error.code for r in errored if r.error)
    # A cut line whose id is still readable is that request's malformed_line; one whose id is
    # gone is kept in unmatched and its request is missing_result. Never dropped, never twice.
    assert set(codes) <= {"malformed_line", "missing_result"}
    assert 0 < len(errored) < N
    assert codes["missing_result"] == len(results.unmatched)


def test_a_create_that_keeps_failing_is_journaled_for_later(
    vendor: tuple[Target, Any, EndpointFaults, Paths],
) -> None:
    t, handle, faults, paths = vendor
    faults.add(503, method="POST", path_prefix=paths.create, times=5)
    with pytest.raises(bk.ProviderError, match="journaled") as info:
        bk.submit(chats(10), t.chat)
    assert "Traceback" not in str(info.value) and "\n" not in str(info.value)
    (record,) = bk.list_jobs()
    results = bk.resume(record.id).wait().results()
    assert results.counts() == {"succeeded": 10}
    assert [t.created(handle, s.key) for s in bk.get_job(record.id).shards] == [1]


def test_item_failures_are_retried_into_success() -> None:
    """20 % of requests hit a 429 or 5xx item error the first time they run; retry=3 recovers
    them (the emulator's retryable item faults; every vendor runs them in
    test_faults_every_vendor.py)."""
    with emulate(providers=["openai"]) as handle:
        plan = handle.apps["openai"].retryable_items
        plan.arm(0.2, seed=5)
        job = bk.submit(chats(), "openai:gpt-4o-mini", shard_size=10, retry=3)
        results = job.wait().results()
        created = [t.created(handle, s.key) for t in CASES[:1] for s in job.shards]
    retried = [r.custom_id for r in results if r.attempts > 1]
    assert [r.custom_id for r in results] == [f"q-{i}" for i in range(N)]
    assert results.counts() == {"succeeded": N}
    assert 0 < len(retried) == plan.hits < N
    assert all(r.attempts == 2 for r in results if r.custom_id in retried)
    assert created == [1] * len(job.shards) and len(job.shards) > 3


def test_emulator_faults_really_break_an_unprotected_client() -> None:
    """Control: the same cut download, read without batchkit's retry, does fail."""
    import openai

    with emulate(providers=["openai"]) as handle:
        client = openai.OpenAI(api_key="sk-test", base_url=f"{handle.url}/openai/v1",
                               max_retries=0)
        uploaded = client.files.create(file=("x.jsonl", b'{"a": 1}\n' * 2000), purpose="batch")
        handle.apps["openai"].endpoint_faults.add(None, method="GET", path_prefix="/v1/files/",
                                                  truncate=True)
        with pytest.raises(Exception, match=r"Connection error|peer closed|incomplete"):
            client.files.content(uploaded.id).read()
