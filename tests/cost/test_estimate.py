"""estimate / compare / check_budget / cost_of_usage against hand-computed figures."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from batchkit import (
    BudgetExceededError,
    ChatRequest,
    EmbedRequest,
    InvalidRequestError,
    UnknownProviderError,
    Usage,
    read_requests,
)
from batchkit.cost import (
    check_budget,
    compare,
    cost_of_usage,
    count_chat_tokens,
    estimate,
)

# A made-up model with round prices and the chars/4 counter, so every figure is computable by hand.
HAND = {"mistral:hand": {"input": 1.0, "output": 2.0, "tokenizer": "chars:4"}}


def _chat(cid: str, text: str, max_tokens: int | None = None) -> ChatRequest:
    return ChatRequest(
        custom_id=cid, messages=[{"role": "user", "content": text}], max_tokens=max_tokens
    )


def test_estimate_arithmetic_by_hand() -> None:
    requests = [_chat("a", "abcdefgh", max_tokens=100), _chat("b", "abcdefgh")]
    est = estimate(requests, "mistral:hand", prices=HAND)
    # per request: primer 3 + message 3 + "user" 1 + "abcdefgh" 2 = 9
    assert est.input_tokens == 18 and not est.input_exact
    # bounds: 100, and the 4,096 default; expected: min(256, bound) = 100 + 256
    assert (est.output_tokens_max, est.output_tokens_expected) == (4196, 356)
    # mistral batch rule: 50% -> input 0.5, output 1.0 per 1M
    assert est.batch_cost_max == pytest.approx((18 * 0.5 + 4196 * 1.0) / 1e6)
    assert est.batch_cost_expected == pytest.approx((18 * 0.5 + 356 * 1.0) / 1e6)
    assert est.realtime_cost_max == pytest.approx((18 * 1.0 + 4196 * 2.0) / 1e6)
    assert est.realtime_cost_expected == pytest.approx((18 * 1.0 + 356 * 2.0) / 1e6)
    assert any("1 requests have no max_tokens" in n for n in est.notes)


def test_expected_output_from_the_caller_is_capped_by_max_tokens() -> None:
    requests = [_chat("a", "abcdefgh", max_tokens=10), _chat("b", "abcdefgh", max_tokens=1000)]
    est = estimate(requests, "mistral:hand", prices=HAND, expected_output_tokens=50)
    assert est.output_tokens_expected == 10 + 50


def test_openai_estimate_is_exact_and_priced_from_the_catalog() -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"}]
    request = ChatRequest(custom_id="x", messages=messages, max_tokens=50)
    est = estimate([request] * 1000, "openai:gpt-4o-mini", expected_output_tokens=20)
    tokens = count_chat_tokens(messages, model="gpt-4o-mini").tokens
    assert est.input_exact and est.input_tokens == 1000 * tokens
    # gpt-4o-mini: 0.15 / 0.60 standard, 0.075 / 0.30 batch (per 1M)
    assert est.batch_cost_expected == pytest.approx((1000 * tokens * 0.075 + 20_000 * 0.30) / 1e6)
    assert est.realtime_cost_max == pytest.approx((1000 * tokens * 0.15 + 50_000 * 0.60) / 1e6)
    assert est.price_as_of and est.price_source
    assert "openai:gpt-4o-mini" in repr(est) and "exact" in repr(est)
    assert est.to_dict()["batch_cost_expected"] == est.batch_cost_expected


def test_embeddings_have_no_output() -> None:
    requests = [EmbedRequest(custom_id=str(i), text="hello world") for i in range(500)]
    est = estimate(requests, "openai:text-embedding-3-small")
    assert (est.input_tokens, est.input_exact, est.output_tokens_max) == (1000, True, 0)
    assert est.batch_cost_max == pytest.approx(1000 * 0.01 / 1e6)


def test_request_kind_must_fit_the_model() -> None:
    with pytest.raises(InvalidRequestError, match=r"custom_id 'd'.*embedding model"):
        estimate([_chat("d", "hi")], "openai:text-embedding-3-small")


def test_unknown_target_is_a_clear_error() -> None:
    with pytest.raises(UnknownProviderError, match="claude-haiku-4-5"):
        estimate([_chat("a", "hi")], "anthropic:claude-haiku-4.5")


def test_requests_are_streamed_not_held() -> None:
    alive: list[weakref.ref[ChatRequest]] = []

    def stream() -> Iterator[ChatRequest]:
        for i in range(200):
            request = _chat(str(i), "some text")
            alive.append(weakref.ref(request))
            yield request
            del request
            # The consumer's loop variable still holds the latest request; older ones must be gone.
            if len(alive) > 1:
                assert alive[-2]() is None, "compare kept a reference to an earlier request"

    targets = ["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5", "mistral:hand"]
    result = compare(stream(), targets, prices=HAND)
    assert all(e.requests == 200 for e in result)


def test_compare_eight_targets_over_ten_thousand_requests(
    write_requests: Callable[[int], Path],
) -> None:
    targets = [
        "openai:gpt-4o-mini",
        "azure:gpt-4o-mini",
        "anthropic:claude-haiku-4-5",
        "gemini:gemini-2.5-flash",
        "vertex:gemini-2.0-flash",
        "bedrock:amazon.nova-lite-v1:0",
        "mistral:mistral-small-latest",
        "groq:llama-3.1-8b-instant",
        "cohere:command-r-08-2024",
        "together:meta-llama/Llama-3.3-70B-Instruct-Turbo",
    ]
    result = compare(read_requests(write_requests(10_000)), targets, expected_output_tokens=3)
    assert len(result) == len(targets)
    assert all(e.requests == 10_000 for e in result)
    costs = [e.cost_expected for e in result]
    known = [c for c in costs if c is not None]
    assert known == sorted(known) and costs[-1] is None  # cheapest first, unknown last
    assert result["openai:gpt-4o-mini"].input_tokens == result["azure:gpt-4o-mini"].input_tokens
    assert result["openai:gpt-4o-mini"].input_exact
    assert not result["anthropic:claude-haiku-4-5"].input_exact
    # every request says max_tokens=5, so every bound is 50,000 and expected 30,000
    assert {(e.output_tokens_max, e.output_tokens_expected) for e in result} == {(50_000, 30_000)}
    notes = " | ".join(result.notes)
    assert "groq 25%" in notes and "price unknown" in notes and "no batch route" in notes
    assert "caching in batch differs" in notes
    # hand check of one row: gpt-4o-mini batch = tokens x 0.075 + 30,000 x 0.30 per 1M
    mini = result["openai:gpt-4o-mini"]
    assert mini.batch_cost_expected == pytest.approx(
        (mini.input_tokens * 0.075 + 30_000 * 0.30) / 1e6
    )
    assert result.to_dict()["estimates"][0]["provider"] == result.estimates[0].provider


def test_check_budget() -> None:
    est = estimate(
        [_chat(str(i), "abcdefgh", max_tokens=1000) for i in range(1000)],
        "mistral:hand",
        prices=HAND,
    )
    bound = (1000 * 9 * 0.5 + 1000 * 1000 * 1.0) / 1e6  # = 1.0045 USD
    assert check_budget(est, 2.0) == pytest.approx(bound)
    with pytest.raises(BudgetExceededError, match=r"mistral:hand.*\$1\.0045.*\$1\.00 budget"):
        check_budget(est, 1.0)
    with pytest.raises(BudgetExceededError, match="real-time"):
        check_budget(est, 1.5, batch=False)


def test_check_budget_refuses_when_the_price_is_unknown() -> None:
    est = estimate([_chat("a", "hi")], "together:meta-llama/Llama-3.3-70B-Instruct-Turbo")
    assert est.cost_expected is None
    with pytest.raises(BudgetExceededError, match="no known price"):
        check_budget(est, 100.0)


def test_cost_of_usage_anthropic_stacks_cache_and_batch() -> None:
    usage = Usage(
        input_tokens=1_000_000,
        output_tokens=200_000,
        cached_input_tokens=400_000,
        cache_creation_input_tokens=100_000,
    )
    # batch: 500k x 0.5 + 400k x 0.05 + 100k x 0.625 + 200k x 2.5  (per 1M)
    assert cost_of_usage("anthropic", "claude-haiku-4-5", usage) == pytest.approx(0.8325)
    # real time: 500k x 1 + 400k x 0.1 + 100k x 1.25 + 200k x 5
    assert cost_of_usage("anthropic", "claude-haiku-4-5", usage, batch=False) == pytest.approx(
        1.665
    )


def test_cost_of_usage_gemini_and_openai_cache_rules() -> None:
    usage = Usage(input_tokens=1_000_000, cached_input_tokens=500_000)
    # Gemini batch: 500k x 0.15 + 500k x 0.075 (cached keeps the standard cached rate)
    assert cost_of_usage("gemini", "gemini-2.5-flash", usage) == pytest.approx(0.1125)
    # OpenAI gpt-4o batch: no published cached batch rate, all at 1.25
    assert cost_of_usage("openai", "gpt-4o", usage) == pytest.approx(1.25)
    # gpt-5 batch: 500k x 0.625 + 500k x 0.0625
    assert cost_of_usage("openai", "gpt-5", usage) == pytest.approx(0.34375)


def test_cost_of_usage_unknown() -> None:
    usage = Usage(input_tokens=10, output_tokens=10)
    assert cost_of_usage("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo", usage) is None
    assert cost_of_usage("cohere", "embed-v4.0", usage) is None  # no batch route for v4
    assert cost_of_usage("cohere", "embed-v4.0", usage, batch=False) == pytest.approx(1.2e-6)


def test_a_job_below_a_vendors_minimum_batch_is_flagged() -> None:
    """Bedrock refuses batch jobs of fewer than 100 records: a cheap row that cannot run says so."""
    small = [_chat(f"q{i}", "classify this") for i in range(20)]
    target = "bedrock:amazon.nova-micro-v1:0"
    assert any("100 requests or more" in n for n in estimate(small, target).notes)
    comparison = compare(small, [target, "openai:gpt-4o-mini"])
    assert any(n.startswith(f"{target}: needs 100") for n in comparison.notes)
    big = [_chat(f"q{i}", "classify this") for i in range(100)]
    assert not any("or more" in n for n in estimate(big, target).notes)
