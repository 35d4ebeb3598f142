"""Every failure at once, on every endpoint of every vendor, through the real SDKs.

Each registered vendor (and each request kind it has: chat, and embeddings where the vendor has
them) runs a small 3-shard job while every app it talks to (the vendor's, and its storage
service's: S3 for Bedrock, Cloud Storage for Vertex) fails 20 % of all requests, each hit one of
429, 500, 503, a reset connection, an answer held past the client's read timeout, or a body cut
half way; and 20 % of the requests fail inside the batch with the vendor's own retryable item
error the first time they run. The job must come back exact: one vendor batch per shard (the
emulator's count), every request once, every one succeeded.

The vendor list comes from the registry, so a new vendor is covered by its conformance target.
The figures in the README's RELIABILITY section come from this module and test_kill_points.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import batchkit as bk
from batchkit._registry import available_providers

from ..conformance.targets import TARGETS, Target

N = 12
SHARD_SIZE = 4
RATE = 0.2
READ_TIMEOUT = 0.25
"""The client's read timeout (adapter option ``timeout``); a held answer outlasts it."""
HOLD = 0.6

REGISTERED = {name for name, _, _ in available_providers()} - {"fake"}
VENDORS = [t for t in TARGETS if t.name in REGISTERED]
FINAL_ITEM_ERRORS = {"together"}
"""Vendors whose failed rows cannot say "try again": Together writes every failed request as
``batch_client_error``, so its armed rows come back errored, each once, never retried."""
NO_ITEM_ERRORS = {("cohere", "embed")}
"""Paths whose result rows have no error shape: a Cohere embed job's records hold embeddings
only (a job that cannot embed a text fails as a whole), so no item fault can be written."""
CASES = [pytest.param(t, kind, id=f"{t.name}-{kind}")
         for t in VENDORS for kind in (["chat", "embed"] if t.embed else ["chat"])]


def test_every_registered_vendor_is_faulted() -> None:
    """A provider added to the registry without a conformance target would escape the suite."""
    assert {t.name for t in VENDORS} >= REGISTERED


def requests(kind: str) -> list[Any]:
    if kind == "chat":
        return [bk.ChatRequest(custom_id=f"q-{i}", max_tokens=20,
                               messages=[{"role": "user", "content": f"question {i}"}])
                for i in range(N)]
    return [bk.EmbedRequest(custom_id=f"q-{i}", text=f"passage {i}") for i in range(N)]


@pytest.fixture
def environment(request: pytest.FixtureRequest) -> Iterator[Any]:
    t: Target = request.node.callspec.params["target"]
    with t.environment() as handle:
        yield handle


@pytest.mark.parametrize(("target", "kind"), CASES)
def test_a_fifth_of_everything_failing_still_gives_an_exact_job(
    target: Target, kind: str, environment: Any
) -> None:
    apps = environment.apps.values()
    for seed, app in enumerate(apps):
        app.endpoint_faults.mixed(RATE, seed=seed + 11, hold=HOLD)
        if hasattr(app, "retryable_items"):  # storage services run no items
            app.retryable_items.arm(RATE, seed=seed + 7)
    provider = target.chat if kind == "chat" else target.embed
    assert provider is not None

    job = bk.submit(requests(kind), provider, shard_size=SHARD_SIZE, retry=3,
                    options={"timeout": READ_TIMEOUT})
    results = job.wait().results()

    # Requests retried after an item fault go out in shards of their own: each created once.
    assert [target.created(environment, s.key) for s in job.shards] == [1] * len(job.shards)
    assert len(job.shards) >= 3
    assert [r.custom_id for r in results] == [f"q-{i}" for i in range(N)]
    failed_items = sum(getattr(app, "retryable_items", None) is not None
                       and app.retryable_items.hits for app in apps)
    assert failed_items > 0 or (target.name, kind) in NO_ITEM_ERRORS, "no item fault fired"
    if target.name in FINAL_ITEM_ERRORS:
        assert results.counts() == {"succeeded": N - failed_items, "errored": failed_items}
        assert all(r.attempts == 1 for r in results)
    else:
        assert results.counts() == {"succeeded": N}, [r.error for r in results if not r.ok][:3]
        assert sum(r.attempts > 1 for r in results) == failed_items
    assert sum(app.endpoint_faults.hits for app in apps) > 0, "no endpoint fault fired"
