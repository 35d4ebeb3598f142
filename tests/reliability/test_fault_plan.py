"""The emulators' fault vocabulary itself: a mixed fault really spreads over every effect at its
rate, an item fault fails once and then lets the retry through, and a cut Bedrock answer (which
botocore parses into a job with no status) is a passing failure, not a verdict."""

from __future__ import annotations

from collections import Counter

import pytest

import batchkit as bk
from batchkit._registry import make_adapter
from batchkit.testing import emulate
from batchkit.testing._faults import MIXED_EFFECTS, EndpointFaults, RetryableItemFaults
from batchkit.testing._server import Request


def _effect(fault: object) -> str:
    if getattr(fault, "drop", False):
        return "reset"
    if getattr(fault, "hold", 0.0):
        return "read_timeout"
    if getattr(fault, "truncate", False):
        return "cut_body"
    return str(getattr(fault, "status", None))


def test_a_mixed_fault_hits_its_rate_with_every_effect() -> None:
    faults = EndpointFaults()
    faults.mixed(0.2, seed=3, hold=0.1)
    request = Request("GET", "/v1/anything", {}, None, b"")  # type: ignore[arg-type]
    drawn = Counter(_effect(f) for f in (faults.take(request) for _ in range(3000)) if f)
    assert 500 < sum(drawn.values()) < 700
    assert set(drawn) == set(MIXED_EFFECTS)


def test_an_item_fault_fails_once_then_lets_the_retry_through() -> None:
    plan = RetryableItemFaults()
    plan.arm(0.3, seed=1)
    first = plan.overlay({"armed": "explicit"}, lambda status: status)
    failed = {f"r-{i}": first.get(f"r-{i}") for i in range(200)}
    failed = {k: v for k, v in failed.items() if v is not None}
    assert 30 < len(failed) < 90 and set(failed.values()) <= {429, 500, 503}
    assert all(first[k] == v for k, v in failed.items())  # one batch sees one answer
    assert first["armed"] == "explicit" and plan.hits == len(failed)
    again = plan.overlay({}, lambda status: status)
    assert not any(k in again for k in failed)


def test_a_create_answered_after_the_client_gave_up_is_found_not_repeated() -> None:
    """The vendor makes the batch, then answers past the client's read timeout: the client
    must find that batch by its key, not create a second."""
    with emulate(providers=["openai"]) as handle:
        faults = handle.apps["openai"].endpoint_faults
        faults.add(None, method="POST", path_prefix="/v1/batches", hold=1.0)
        job = bk.submit([bk.ChatRequest(custom_id="a", max_tokens=5,
                                        messages=[{"role": "user", "content": "hi"}])],
                        "openai:gpt-4o-mini", options={"timeout": 0.3})
        # The client gave up on the create and looked the batch up by key instead.
        assert faults.calls[("GET", "/v1/batches")] == 1
        assert job.wait().results().counts() == {"succeeded": 1}
        assert faults.hits == 1
        key = job.shards[0].key
        assert handle.apps["openai"].batches_created_with("batchkit_key", key) == 1


@pytest.fixture
def bedrock() -> object:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BATCHKIT_BEDROCK_MIN_RECORDS", "1")
        with emulate(providers=["bedrock"]) as handle:
            handle.apps["bedrock"].min_records = 1
            yield handle


def test_a_cut_bedrock_job_answer_is_read_again(bedrock: object) -> None:
    adapter = make_adapter("bedrock:anthropic.claude-3-5-haiku-20241022-v1:0")
    arn = "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdefabcdef"
    bedrock.apps["bedrock"].endpoint_faults.add(  # type: ignore[attr-defined]
        None, method="GET", truncate=True)
    with pytest.raises(bk.ProviderError, match="cut off") as info:
        adapter.poll(arn)
    assert info.value.transient


def test_a_cut_bedrock_listing_never_passes_for_an_empty_one(bedrock: object) -> None:
    """A listing cut off parsed as "no jobs" would make resubmitting a shard look safe."""
    job = bk.submit([bk.ChatRequest(custom_id="a", max_tokens=5,
                                    messages=[{"role": "user", "content": "hi"}])],
                    "bedrock:anthropic.claude-3-5-haiku-20241022-v1:0")
    faults = bedrock.apps["bedrock"].endpoint_faults  # type: ignore[attr-defined]
    faults.add(None, method="GET", truncate=True, times=3)
    assert job.wait().results().counts() == {"succeeded": 1}
    assert faults.hits == 3
    assert bedrock.apps["bedrock"].creates == 1  # type: ignore[attr-defined]
