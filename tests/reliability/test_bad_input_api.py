"""Bad input through the Python API: one line naming the request and the rule, nothing sent or kept.

The job as a whole (``bk.submit``), one request's fields, one vendor's rules, ``bk.encode`` and
``bk.estimate``; a missing SDK or key; then what is accepted (ids Anthropic cannot take) and the
control showing the same checks do notice a job that is sent. The checks themselves are in
``_bad_input.py``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import batchkit as bk
import batchkit.providers.openai

from ._bad_input import (
    ANTHROPIC,
    OPENAI,
    OPENAI_EMBED,
    Case,
    Ctx,
    Label,
    _assert_nothing_kept,
    _assert_one_line,
    _traffic,
    assert_refused_before_anything_is_sent,
    case,
    chat,
    user,
)


class FreeForm(BaseModel):
    """A dict field: OpenAI's strict structured outputs cannot express it."""

    scores: dict[str, int]


def _missing_sdk(ctx: Ctx) -> object:
    ctx.monkeypatch.setitem(sys.modules, "openai", None)  # import openai -> ImportError
    for name in [m for m in sys.modules if m.startswith("batchkit.providers.openai")]:
        ctx.monkeypatch.delitem(sys.modules, name)
    # the re-import below rebinds the package attribute too: have it put back afterwards
    ctx.monkeypatch.setattr(batchkit.providers, "openai", batchkit.providers.openai)
    return bk.submit([chat()], OPENAI)


def _missing_key(ctx: Ctx) -> object:
    ctx.monkeypatch.delenv("BATCHKIT_SANDBOX")  # not sandboxed: a real key would be needed
    return bk.submit([chat()], OPENAI)


def _over_limit(provider: str, module: str) -> Callable[[Ctx], object]:
    """One request bigger than a whole batch may be (the limit lowered from hundreds of MB)."""
    def call(ctx: Ctx) -> object:
        adapter_module = importlib.import_module(f"batchkit.providers.{module}.adapter")
        ctx.monkeypatch.setattr(adapter_module, "_MAX_BYTES", 2_000)
        return bk.submit([chat("small"), chat("big", messages=user("x" * 5_000))], provider)
    return call


API_CASES = [
    # -- the job as a whole
    case("submit-duplicate-custom-id",
         lambda c: bk.submit([chat(f"r{i % 5}") for i in range(8)], OPENAI),
         ("custom_id 'r0'", "duplicate custom_id", "request 1")),
    case("submit-not-a-request",
         lambda c: bk.submit([chat("a"), {"custom_id": "b"}], OPENAI),
         ("request 2 is a dict", "not a ChatRequest, EmbedRequest or ModerationRequest")),
    case("submit-no-requests", lambda c: bk.submit([], OPENAI), ("no requests to submit",)),
    case("submit-unknown-provider", lambda c: bk.submit([chat()], "opnai:gpt-4o-mini"),
         ("unknown provider 'opnai'", "did you mean 'openai'"), bk.UnknownProviderError),
    case("submit-provider-without-model", lambda c: bk.submit([chat()], "openai:"),
         ("must be 'name:model'",), bk.ConfigError),
    case("submit-bare-model-name", lambda c: bk.submit([chat()], "gpt-4o-mini"),
         ("must be 'name:model'", "gpt-4o-mini"), bk.ConfigError),
    case("submit-no-provider-at-all", lambda c: bk.submit([chat()]),
         ("no provider given",), bk.ConfigError),
    case("submit-bad-adapter-option",
         lambda c: bk.submit([chat()], OPENAI, options={"endpoint": "bogus"}),
         ("endpoint must be 'chat' or 'responses'",), bk.ConfigError),
    case("submit-negative-shard-size",
         lambda c: bk.submit([chat("a"), chat("b")], OPENAI, shard_size=-1),
         ("shard_size", ">= 1", "-1"), bk.ConfigError),
    case("submit-zero-shard-size",
         lambda c: bk.submit([chat("a"), chat("b")], ANTHROPIC, shard_size=0),
         ("shard_size", ">= 1"), bk.ConfigError),
    case("submit-max-cost-below-estimate",
         lambda c: bk.submit([chat(f"m{i}", max_tokens=1000) for i in range(20)], OPENAI,
                             max_cost_usd=0.0001),
         ("openai:gpt-4o-mini", "could reach", "over the $0.00 budget"), bk.BudgetExceededError),
    # -- one request's fields (refused when the request is built)
    case("empty-messages", lambda c: bk.submit([chat("e", messages=[])], OPENAI),
         ("custom_id 'e'", "messages", "at least one message")),
    case("only-a-system-message",
         lambda c: bk.submit([chat("s", messages=[{"role": "system", "content": "x"}])], OPENAI),
         ("custom_id 's'", "user or assistant")),
    case("empty-chat-text", lambda c: bk.submit([chat("t", messages=user(""))], ANTHROPIC),
         ("custom_id 't'", "messages.0.content", "must not be empty")),
    case("blank-embed-text",
         lambda c: bk.submit([bk.EmbedRequest(custom_id="e", text="   ")], OPENAI),
         ("custom_id 'e'", "text", "must not be empty")),
    case("empty-custom-id", lambda c: bk.submit([chat("")], OPENAI),
         ("custom_id", "must not be empty")),
    case("custom-id-over-512-chars", lambda c: bk.submit([chat("x" * 513)], OPENAI),
         ("custom_id 'xxxx", "...'", "longer than 512 characters")),
    case("custom-id-not-a-string", lambda c: bk.submit([chat(7)], OPENAI),  # type: ignore[arg-type]
         ("custom_id", "valid string")),
    case("metadata-not-json",
         lambda c: bk.submit([chat("m", metadata={"f": object()})], OPENAI),
         ("custom_id 'm'", "metadata", "JSON-serializable")),
    case("metadata-non-string-key",
         lambda c: bk.submit([chat("k", metadata={1: "one"})], OPENAI),
         ("custom_id 'k'", "metadata")),
    case("response-model-not-pydantic",
         lambda c: bk.submit([chat("r", response_model=dict)], OPENAI),
         ("custom_id 'r'", "response_model", "pydantic BaseModel subclass")),
    case("response-model-an-instance",
         lambda c: bk.submit([chat("r", response_model=Label(label="x"))], OPENAI),
         ("custom_id 'r'", "response_model", "pydantic BaseModel subclass")),
    case("response-model-on-embed",
         lambda c: bk.submit([bk.EmbedRequest(custom_id="e", text="x", response_model=Label)],
                             OPENAI),
         ("custom_id 'e'", "response_model", "not permitted")),
    case("temperature-out-of-range", lambda c: bk.submit([chat("t", temperature=5)], OPENAI),
         ("custom_id 't'", "temperature", "less than or equal to 2")),
    case("max-tokens-negative", lambda c: bk.submit([chat("n", max_tokens=-5)], OPENAI),
         ("custom_id 'n'", "max_tokens", "greater than 0")),
    case("max-tokens-a-word", lambda c: bk.submit([chat("w", max_tokens="many")], OPENAI),
         ("custom_id 'w'", "max_tokens", "valid integer")),
    case("max-tokens-a-bool", lambda c: bk.submit([chat("b", max_tokens=True)], OPENAI),
         ("custom_id 'b'", "max_tokens", "must be a number")),
    case("embed-dimensions-zero",
         lambda c: bk.submit([bk.EmbedRequest(custom_id="d", text="x", dimensions=0)], OPENAI),
         ("custom_id 'd'", "dimensions", "greater than 0")),
    case("unknown-role",
         lambda c: bk.submit([chat("u", messages=[{"role": "bot", "content": "x"}])], OPENAI),
         ("custom_id 'u'", "messages.0.role", "'system', 'user', 'assistant' or 'tool'")),
    case("tool-message-answering-no-call",
         lambda c: bk.submit([chat("t", messages=[{"role": "tool", "tool_call_id": "c9",
                                                   "content": "x"}])], OPENAI),
         ("custom_id 't'", "tool_call_id 'c9' answers no earlier assistant tool call")),
    case("message-built-alone-with-unknown-role",
         lambda c: bk.Message(role="bot", content="x"),  # type: ignore[arg-type]
         ("role", "'system', 'user', 'assistant' or 'tool'")),
    case("image-part-without-source",
         lambda c: bk.submit([chat("i", messages=[{"role": "user", "content": [
             {"type": "image"}]}])], OPENAI),
         ("custom_id 'i'", "exactly one of 'url' or 'data'")),
    case("image-part-bad-url",
         lambda c: bk.submit([chat("i", messages=[{"role": "user", "content": [
             {"type": "text", "text": "what is this?"},
             {"type": "image", "url": "cat.png"}]}])], ANTHROPIC),
         ("custom_id 'i'", "messages.0.content.1", "http(s) address")),
    case("image-part-not-an-image-type",
         lambda c: bk.submit([chat("i", messages=[{"role": "user", "content": [
             {"type": "image", "data": "aGk=", "media_type": "text/plain"}]}])], OPENAI),
         ("custom_id 'i'", "media_type", "'text/plain'")),
    # -- rules of one vendor (the adapter's check)
    case("image-in-an-assistant-message",
         lambda c: bk.submit([chat("i", messages=[*user(), {"role": "assistant", "content": [
             {"type": "image", "url": "https://example.com/a.png"}]}])], OPENAI),
         ("custom_id 'i'", "images are only allowed in user messages")),
    case("embeddings-on-a-chat-only-provider",
         lambda c: bk.submit([bk.EmbedRequest(custom_id="e", text="x")], ANTHROPIC),
         ("custom_id 'e'", "anthropic has no embeddings API")),
    case("anthropic-sampling-parameters",
         lambda c: bk.submit([chat("t", temperature=0)], ANTHROPIC),
         ("custom_id 't'", "takes no temperature", "drop_sampling=true")),
    case("anthropic-seed", lambda c: bk.submit([chat("s", seed=3)], ANTHROPIC),
         ("custom_id 's'", "no 'seed'")),
    case("anthropic-whitespace-only-text",
         lambda c: bk.submit([chat("w", messages=user("  \n "))], ANTHROPIC),
         ("custom_id 'w'", "only whitespace")),
    case("params-set-model", lambda c: bk.submit([chat("p", params={"model": "o3"})], OPENAI),
         ("custom_id 'p'", "params must not set 'model'")),
    case("params-stream", lambda c: bk.submit([chat("p", params={"stream": True})], ANTHROPIC),
         ("custom_id 'p'", "reject 'stream'")),
    case("params-n-choices", lambda c: bk.submit([chat("p", params={"n": 3})], OPENAI),
         ("custom_id 'p'", "params 'n'")),
    case("openai-five-stop-sequences",
         lambda c: bk.submit([chat("s", stop=["a", "b", "c", "d", "e"])], OPENAI),
         ("custom_id 's'", "at most 4 stop sequences")),
    case("openai-schema-strict-cannot-express",
         lambda c: bk.submit([chat("f", response_model=FreeForm)], OPENAI),
         ("custom_id 'f'", "cannot be sent as a strict schema", "dict fields")),
    case("openai-request-over-the-batch-limit", _over_limit(OPENAI, "openai"),
         ("custom_id 'big'", "over the provider's limit")),
    case("anthropic-request-over-the-batch-limit", _over_limit(ANTHROPIC, "anthropic"),
         ("custom_id 'big'", "over the provider's limit")),
    # -- bk.encode (offline files) and bk.estimate
    case("encode-duplicate-custom-id",
         lambda c: bk.encode([chat("a"), chat("b"), chat("a")], ANTHROPIC, c.out),
         ("custom_id 'a'", "duplicate custom_id")),
    case("encode-embeddings-on-anthropic",
         lambda c: bk.encode([chat("a"), bk.EmbedRequest(custom_id="e", text="x")], ANTHROPIC,
                             c.out),
         ("custom_id 'e'", "no embeddings API")),
    case("encode-no-requests", lambda c: bk.encode([], OPENAI, c.out),
         ("no requests to encode",)),
    case("encode-provider-without-model", lambda c: bk.encode([chat()], "anthropic", c.out),
         ("must be 'name:model'",), bk.ConfigError),
    case("estimate-embed-on-a-chat-model",
         lambda c: bk.estimate([bk.EmbedRequest(custom_id="e", text="x")], OPENAI),
         ("custom_id 'e'", "cannot run on openai:gpt-4o-mini")),
    case("estimate-unknown-model", lambda c: bk.estimate([chat()], "openai:gpt-nope"),
         ("no price for 'openai:gpt-nope'",), bk.UnknownProviderError),
    case("estimate-provider-without-model", lambda c: bk.estimate([chat()], "anthropic"),
         ("'anthropic' is not 'provider:model'",), bk.UnknownProviderError),
]


@pytest.mark.parametrize("bad", API_CASES)
def test_bad_input_is_refused_before_anything_is_sent(
    bad: Case, emulators: Any, ctx: Ctx, tmp_path: Path
) -> None:
    assert_refused_before_anything_is_sent(bad, emulators, ctx, tmp_path)


# -- no SDK, no key: refused before anything is sent or kept -----------------------------------

NO_CLIENT_CASES = [
    case("submit-missing-sdk", _missing_sdk, ('pip install "batchkit[openai]"',),
         bk.MissingDependencyError),
    case("submit-missing-key", _missing_key, ("no OpenAI API key", "OPENAI_API_KEY"),
         bk.MissingCredentialsError),
]


@pytest.mark.parametrize("bad", NO_CLIENT_CASES)
def test_no_sdk_or_no_key_is_refused_before_anything_is_sent(
    bad: Case, emulators: Any, ctx: Ctx
) -> None:
    before = _traffic(emulators)
    with pytest.raises(bk.BatchkitError) as info:
        bad.call(ctx)
    assert type(info.value) is bad.error, repr(info.value)
    _assert_one_line(str(info.value), bad.needles)
    assert _traffic(emulators) == before


@pytest.mark.parametrize("bad", NO_CLIENT_CASES)
def test_no_sdk_or_no_key_leaves_no_job_behind(bad: Case, emulators: Any, ctx: Ctx,
                                               tmp_path: Path) -> None:
    with pytest.raises(bad.error):
        bad.call(ctx)
    _assert_nothing_kept(tmp_path / "bkhome", ctx.out)


# -- what is accepted, and the control ------------------------------------------------------


def test_ids_anthropic_cannot_take_are_mapped_not_refused(emulators: Any) -> None:
    """Anthropic allows ``^[a-zA-Z0-9_-]{1,64}$``; other ids are sent mapped, and come back."""
    ids = ["email/1 äö", "x" * 200, "bk--looks-escaped", "plain_id"]
    results = bk.run([chat(cid) for cid in ids], ANTHROPIC)
    assert [r.custom_id for r in results] == ids
    assert results.counts() == {"succeeded": 4}


def test_the_checks_do_see_a_job_that_is_sent(emulators: Any, tmp_path: Path) -> None:
    """The control: a valid job moves every counter the cases above require to stay still."""
    before = _traffic(emulators)
    bk.submit([chat("a")], OPENAI)
    bk.submit([bk.EmbedRequest(custom_id="e", text="x")], OPENAI_EMBED)
    bk.submit([chat("b")], ANTHROPIC)
    after = _traffic(emulators)
    assert all(after[k] > before[k] for k in before), (before, after)
    assert len(bk.list_jobs()) == 3
    assert len(list((tmp_path / "bkhome" / "jobs").iterdir())) == 3
