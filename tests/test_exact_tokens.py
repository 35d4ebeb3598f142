"""Exact input-token counts through the vendors' count-tokens endpoints (``exact=True``).

The real SDKs talk to the emulators, whose counts are a deterministic stand-in tokenizer that
differs from batchkit's offline approximation, so every test can tell which figure it got.
"""

from __future__ import annotations

import json
import math
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import anthropic
import click
import httpx
import orjson
import pytest
from click.testing import CliRunner, Result
from pydantic import BaseModel

import batchkit as bk
from batchkit.cli._cost import register
from batchkit.cost import load_catalog
from batchkit.cost._exact import MAX_COUNT_WORKERS
from batchkit.providers.anthropic.adapter import AnthropicAdapter
from batchkit.testing import emulate

HAIKU = "anthropic:claude-haiku-4-5"
FLASH = "gemini:gemini-2.5-flash"
# Shaped like an Anthropic key, made at run time so no key-like literal sits in the repo.
REAL_LOOKING_KEY = "sk-ant-api03-" + secrets.token_urlsafe(27)[:36]


@pytest.fixture
def handle() -> Iterator[Any]:
    with emulate(providers=["anthropic", "gemini", "cohere"]) as h:
        yield h


def chats(n: int, *, fixed: bool = False) -> list[bk.ChatRequest]:
    """Chat requests; ``fixed`` makes every one the same length (so any sample is alike)."""
    out = []
    for i in range(n):
        body = f"Item {i:05d}: is this spam?" if fixed else "tell me more " * (i % 9 + 1)
        out.append(bk.ChatRequest(custom_id=f"r{i}", max_tokens=20, messages=[
            {"role": "system", "content": "Answer in one word."},
            {"role": "user", "content": body}]))
    return out


def test_small_job_is_counted_whole_and_priced_from_the_count(handle: Any) -> None:
    requests = chats(30)
    approx = bk.estimate(requests, HAIKU)
    exact = bk.estimate(requests, HAIKU, exact=True)
    counted = handle.apps["anthropic"].counted
    assert len(counted) == 30  # one count-tokens call per request
    assert exact.input_tokens == sum(counted) != approx.input_tokens
    assert exact.input_exact and not approx.input_exact
    assert (exact.exact_counted, exact.exact_ratio) == (30, None)
    assert "all 30 requests counted by the anthropic count-tokens endpoint" in exact.exact_summary
    assert exact.exact_summary in exact.notes
    # The cost follows the new figure at the batch input rate; the output side is untouched.
    row = load_catalog().get(HAIKU)
    rate = row.rates(load_catalog().rule("anthropic"), batch=True)
    assert rate is not None and exact.batch_cost_max is not None
    assert approx.batch_cost_max is not None
    delta = (exact.input_tokens - approx.input_tokens) * rate.input / 1e6
    assert math.isclose(exact.batch_cost_max - approx.batch_cost_max, delta, abs_tol=1e-12)
    assert exact.output_tokens_max == approx.output_tokens_max


def test_large_job_counts_a_sample_and_scales_by_the_ratio(handle: Any) -> None:
    requests = chats(500, fixed=True)
    approx = bk.estimate(requests, HAIKU)
    exact = bk.estimate(requests, HAIKU, exact=True, exact_sample=40)
    counted = handle.apps["anthropic"].counted
    assert len(counted) == 40 and len(set(counted)) == 1  # every request is the same length
    ratio = counted[0] / (approx.input_tokens / 500)
    assert exact.exact_ratio is not None and math.isclose(exact.exact_ratio, ratio)
    assert exact.input_tokens == round(approx.input_tokens * ratio)
    assert not exact.input_exact and exact.exact_counted == 40
    assert "a random sample of 40 of 500 requests" in exact.exact_summary
    assert f"ratio {ratio:.3f}" in exact.exact_summary
    # The same file gives the same sample, so the figure is repeatable.
    again = bk.estimate(requests, HAIKU, exact=True, exact_sample=40)
    assert again.input_tokens == exact.input_tokens


def test_counting_runs_at_most_four_calls_at_once(
    handle: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = AnthropicAdapter.count_input_tokens
    lock, in_flight, peak = threading.Lock(), [0], [0]

    def tracked(self: AnthropicAdapter, requests: Sequence[bk.ChatRequest]) -> list[int] | None:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        try:
            time.sleep(0.02)
            return original(self, requests)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(AnthropicAdapter, "count_input_tokens", tracked)
    exact = bk.estimate(chats(25), HAIKU, exact=True)
    assert exact.exact_counted == 25 and len(handle.apps["anthropic"].counted) == 25
    assert 1 < peak[0] <= MAX_COUNT_WORKERS == 4


class Label(BaseModel):
    label: str


def test_gemini_counts_system_instruction_and_schema(handle: Any) -> None:
    plain = bk.ChatRequest(custom_id="p", messages=[{"role": "user", "content": "hi there"}])
    steered = bk.ChatRequest(custom_id="s", response_model=Label, messages=[
        {"role": "system", "content": "You label short messages carefully and briefly."},
        {"role": "user", "content": "hi there"}])
    exact = bk.estimate([plain, steered], FLASH, exact=True)
    counted = handle.apps["gemini"].counted
    assert exact.input_exact and exact.input_tokens == sum(counted)
    # The system instruction reaches the count (sent as a generateContentRequest).
    assert len(counted) == 2 and max(counted) > min(counted) + 5


def test_compare_mixes_exact_sampled_offline_and_unavailable(handle: Any) -> None:
    requests = chats(12)
    result = bk.compare(requests, [HAIKU, FLASH, "openai:gpt-4o-mini",
                                   "mistral:mistral-small-latest"], exact=True)
    assert result[HAIKU].input_exact and result[FLASH].input_exact
    assert result[HAIKU].input_tokens == sum(handle.apps["anthropic"].counted)
    assert result[FLASH].input_tokens == sum(handle.apps["gemini"].counted)
    openai = result["openai:gpt-4o-mini"]
    assert openai.input_exact and openai.exact_summary == ""  # tiktoken: already exact offline
    mistral = result["mistral:mistral-small-latest"]
    assert not mistral.input_exact and mistral.exact_counted == 0
    assert "mistral has no count-tokens endpoint" in mistral.exact_summary
    assert "mistral:mistral-small-latest" in " ".join(result.notes)  # still listed approximate


def test_cohere_embeddings_use_tokenize(handle: Any) -> None:
    requests = [bk.EmbedRequest(custom_id=f"e{i}", text="a short document " * (i + 1))
                for i in range(6)]
    exact = bk.estimate(requests, "cohere:embed-english-v3.0", exact=True)
    tokenized = handle.apps["cohere"].tokenized
    assert len(tokenized) == 6 and exact.input_tokens == sum(tokenized)
    assert exact.input_exact and exact.exact_counted == 6


def test_cohere_chat_has_no_exact_count(handle: Any) -> None:
    exact = bk.estimate(chats(3), "cohere:command-a-03-2025", exact=True)
    assert not exact.input_exact and handle.apps["cohere"].tokenized == []
    assert "no count-tokens endpoint" in exact.exact_summary


def test_without_a_key_the_approximation_stays_with_a_note() -> None:
    requests = chats(5)
    approx = bk.estimate(requests, HAIKU)
    exact = bk.estimate(requests, HAIKU, exact=True)
    assert exact.input_tokens == approx.input_tokens and not exact.input_exact
    assert "ANTHROPIC_API_KEY" in exact.exact_summary
    assert "approximate figures kept" in exact.exact_summary


def test_a_refused_key_falls_back_and_never_shows_the_key(
    handle: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not sandbox mode: the SDK sends the real-looking key to the emulator, which refuses it.
    monkeypatch.delenv("BATCHKIT_SANDBOX")
    monkeypatch.setenv("ANTHROPIC_API_KEY", REAL_LOOKING_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", handle.base_url("anthropic"))
    handle.apps["anthropic"].api_keys = {"sk-ant-some-other-key"}
    exact = bk.estimate(chats(3), HAIKU, exact=True)
    assert not exact.input_exact and exact.exact_counted == 0
    assert "refused the API key" in exact.exact_summary
    assert REAL_LOOKING_KEY not in repr(exact.to_dict())


def test_an_sdk_error_is_named_not_echoed(handle: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(self: AnthropicAdapter, requests: Sequence[bk.ChatRequest]) -> list[int] | None:
        raise RuntimeError(f"upstream said {REAL_LOOKING_KEY}")

    monkeypatch.setattr(AnthropicAdapter, "count_input_tokens", boom)
    exact = bk.estimate(chats(3), HAIKU, exact=True)
    assert "failed (RuntimeError)" in exact.exact_summary
    assert REAL_LOOKING_KEY not in exact.exact_summary


def test_emulators_refuse_bad_count_bodies(handle: Any) -> None:
    client = anthropic.Anthropic(api_key="k", base_url=handle.base_url("anthropic"),
                                 max_retries=0)
    with pytest.raises(anthropic.BadRequestError, match="max_tokens: Extra inputs"):
        client.post("/v1/messages/count_tokens", cast_to=object, body={
            "model": "claude-haiku-4-5", "max_tokens": 5,
            "messages": [{"role": "user", "content": "hi"}]})
    with pytest.raises(anthropic.BadRequestError, match="messages: Field required"):
        client.messages.count_tokens(model="claude-haiku-4-5", messages=anthropic.omit)  # type: ignore[arg-type]
    ok = client.messages.count_tokens(model="claude-haiku-4-5",
                                      messages=[{"role": "user", "content": "hello"}])
    assert ok.input_tokens == handle.apps["anthropic"].counted[-1]

    gemini = f"{handle.base_url('gemini')}/v1beta/models/gemini-2.5-flash:countTokens"
    headers = {"x-goog-api-key": "k"}
    bad = httpx.post(gemini, headers=headers, json={"contents": [{"role": "tool",
                                                                  "parts": [{"text": "x"}]}]})
    assert bad.status_code == 400 and bad.json()["error"]["status"] == "INVALID_ARGUMENT"
    unknown = httpx.post(gemini, headers=headers, json={"prompt": "x"})
    assert unknown.status_code == 400 and "prompt" in unknown.json()["error"]["message"]

    tokenize = f"{handle.base_url('cohere')}/v1/tokenize"
    auth = {"Authorization": "Bearer k"}
    missing = httpx.post(tokenize, headers=auth, json={"text": "hello"})
    assert missing.status_code == 400 and "model" in missing.json()["message"]
    empty = httpx.post(tokenize, headers=auth, json={"text": "", "model": "embed-v4.0"})
    assert empty.status_code == 400


def _invoke(*args: str) -> Result:
    group = click.Group("batchkit")
    register(group)
    return CliRunner().invoke(group, list(args), env={"COLUMNS": "240"}, catch_exceptions=False)


def _write(tmp_path: Path, requests: list[bk.ChatRequest]) -> Path:
    path = tmp_path / "requests.jsonl"
    with open(path, "wb") as fh:
        for r in requests:
            fh.write(orjson.dumps({"custom_id": r.custom_id, "max_tokens": r.max_tokens,
                                   "messages": [{"role": m.role, "content": m.content}
                                                for m in r.messages]}) + b"\n")
    return path


def test_cli_estimate_and_compare_exact(handle: Any, tmp_path: Path) -> None:
    path = _write(tmp_path, chats(20))
    result = _invoke("estimate", str(path), "-p", HAIKU, "--exact", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["input_exact"] and data["exact_counted"] == 20
    assert data["input_tokens"] == sum(handle.apps["anthropic"].counted)

    result = _invoke("compare", str(path), "-p", HAIKU, "-p", "openai:gpt-4o-mini",
                     "--exact", "--exact-sample", "5")
    assert result.exit_code == 0, result.output
    assert "Exact counts" in result.output
    assert "a random sample of 5 of 20 requests" in result.output
    assert "openai:gpt-4o-mini: counted offline (o200k_base)" in result.output
