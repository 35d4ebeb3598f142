"""Bad input on every registered vendor: a one-line batchkit error, or a documented acceptance.

The vendors come from the registry (``available_providers()``), so a new adapter is covered by
registering it; each gets a chat model and an embedding model picked from the price catalog
(a chat row whose output limit and context window are known, where there is one). Every case
plans the job offline with ``bk.encode`` (nothing can be sent), padded with valid requests up
to the vendor's smallest batch so only the case itself can be refused.

A case must end in one of batchkit's own errors whose message is one line naming the rule
(and the request, where one is to blame), never a bare Python, pydantic or SDK exception; or,
where ``accepted`` gives a documented reason, it may be accepted (planned and written):

* ``max-tokens-1e9``, ``unknown-model``, ``model-typo`` on a provider the catalog does not
  judge: one with no catalog rule (the fake vendor, plug-ins), or a user-named model on a
  provider of deployments (``BatchRule.user_named_models``; a deployment named after a catalog
  model is judged as that model);
* ``ids-differ-by-case`` on an adapter without ``case_insensitive_ids``: the vendor keys
  results by id, where case counts;
* ``ten-mb-embed-text`` on an embedding model without a context window in the catalog: those
  vendors truncate long input by default, so it is not an error there.

Everything else must be refused on every vendor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import batchkit as bk
from batchkit._registry import _registered, available_providers, get_adapter_class, make_adapter
from batchkit.cost import load_catalog

TEN_MB = "x" * 10_000_000


@dataclass(frozen=True)
class Vendor:
    name: str
    chat: str
    embed: str | None
    judged: bool
    """The catalog judges this provider's model names (and its models' limits)."""
    embed_window: bool
    """The catalog knows the embedding model's context window."""
    case_insensitive: bool


def _vendors() -> Iterator[Vendor]:
    catalog = load_catalog({})
    for name, installed, _extra in available_providers():
        if not installed:
            continue
        rows = catalog.for_provider(name)
        chats = [r for r in rows if r.kind == "chat"]
        embeds = [r for r in rows if r.kind == "embedding"]
        chat = next((r for r in chats if r.max_output_tokens and r.max_input_tokens),
                    chats[0] if chats else None)
        embed = embeds[0] if embeds else None
        yield Vendor(
            name=name, chat=chat.key if chat else f"{name}:m",
            embed=embed.key if embed else (None if chats else f"{name}:m"),
            judged=name in catalog.rules and not catalog.rule(name).user_named_models,
            embed_window=embed is not None and embed.max_input_tokens is not None,
            case_insensitive=bool(getattr(get_adapter_class(name), "case_insensitive_ids",
                                          False)),
        )


VENDORS = list(_vendors())


def user(text: str = "hi") -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def chat(cid: str = "a", **fields: Any) -> bk.ChatRequest:
    fields.setdefault("messages", user())
    return bk.ChatRequest(custom_id=cid, **fields)


def embed(cid: str = "e", **fields: Any) -> bk.EmbedRequest:
    fields.setdefault("text", "hello")
    return bk.EmbedRequest(custom_id=cid, **fields)


Build = Callable[[Vendor], tuple[str, Callable[[], list[Any]]]]
"""A case: which provider string it uses and how it builds its requests (lazily: building
is where many rules are checked)."""


def on_chat(make: Callable[[], list[Any]]) -> Build:
    return lambda v: (v.chat, make)


def on_model(model: Callable[[str], str], make: Callable[[], list[Any]]) -> Build:
    return lambda v: (f"{v.name}:{model(v.chat.partition(':')[2])}", make)


def on_embed(make: Callable[[], list[Any]]) -> Build:
    return lambda v: (v.embed or v.chat, make)


SURROGATE_PART = [{"type": "text", "text": "ok \udcff"}]
CASES: dict[str, Build] = {
    "surrogate-custom-id": on_chat(lambda: [chat("id-\ud800")]),
    "surrogate-message-text": on_chat(lambda: [chat(messages=user("half \ud83d pair"))]),
    "surrogate-text-part": on_chat(lambda: [chat(messages=[
        {"role": "user", "content": SURROGATE_PART}])]),
    "surrogate-system-message": on_chat(lambda: [chat(messages=[
        {"role": "system", "content": "\udfff"}, *user()])]),
    "surrogate-stop-sequence": on_chat(lambda: [chat(stop=["end\ud800"])]),
    "surrogate-metadata": on_chat(lambda: [chat(metadata={"k": "\ud800"})]),
    "surrogate-params-key": on_chat(lambda: [chat(params={"\ud800": 1})]),
    "surrogate-image-url": on_chat(lambda: [chat(messages=[{"role": "user", "content": [
        {"type": "image", "url": "https://example.com/\ud800.png"}]}])]),
    "surrogate-embed-text": on_embed(lambda: [embed(text="\ud800 text")]),
    "ten-mb-chat-text": on_chat(lambda: [chat(messages=user(TEN_MB))]),
    "ten-mb-embed-text": on_embed(lambda: [embed(text=TEN_MB)]),
    "max-tokens-1e9": on_chat(lambda: [chat(max_tokens=10**9)]),
    "max-tokens-zero": on_chat(lambda: [chat(max_tokens=0)]),
    "max-tokens-a-word": on_chat(lambda: [chat(max_tokens="lots")]),
    "unknown-model": on_model(lambda m: "no-such-model-zz9", lambda: [chat()]),
    "model-typo": on_model(lambda m: m[:-1], lambda: [chat()]),
    "ids-differ-by-case": on_chat(lambda: [chat("Doc-1"), chat("doc-1")]),
    "duplicate-ids": on_chat(lambda: [chat("same"), chat("same")]),
    "no-messages": on_chat(lambda: [chat(messages=[])]),
    "tool-role": on_chat(lambda: [chat(messages=[{"role": "tool", "content": "x"}])]),
    "temperature-negative": on_chat(lambda: [chat(temperature=-1)]),
    "custom-id-513-chars": on_chat(lambda: [chat("i" * 513)]),
    "embed-dimensions-zero": on_embed(lambda: [embed(dimensions=0)]),
}


def accepted(case: str, v: Vendor) -> str | None:
    """Why ``case`` may pass on ``v`` (None: it must be refused). See the module docstring."""
    if case in ("max-tokens-1e9", "unknown-model", "model-typo") and not v.judged:
        return "the catalog does not judge this provider's model names"
    if case == "ids-differ-by-case" and not v.case_insensitive:
        return "the vendor keys results by id, where case counts"
    if case == "ten-mb-embed-text" and v.embed is not None and not v.embed_window:
        return "the vendor truncates long embedding input"
    return None


def _filler(provider: str, kind: str) -> list[Any]:
    """Valid requests up to the vendor's smallest batch, so the minimum cannot be the error."""
    minimum = make_adapter(provider).limits(kind).min_requests or 1
    make = chat if kind == "chat" else embed
    return [make(f"fill-{i}") for i in range(minimum - 1)]


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("vendor", [pytest.param(v, id=v.name) for v in VENDORS])
def test_bad_input_is_one_line_error_or_documented(vendor: Vendor, case: str,
                                                   tmp_path: Path) -> None:
    provider, make = CASES[case](vendor)
    out = tmp_path / "encoded"
    try:
        requests = make()
        kind = requests[0].kind
        written = bk.encode(requests + _filler(provider, kind), provider, out)
    except bk.BatchkitError as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) < 600, message
        assert "Traceback" not in message and "validation error" not in message, message
        assert not out.exists() or not any(out.iterdir()), "a refused job left files"
        return
    except Exception as exc:  # the point: no bare exception may escape
        pytest.fail(f"bare {type(exc).__name__} escaped: {exc!r}"[:500])
    reason = accepted(case, vendor)
    assert reason is not None, f"{case} on {provider} was accepted, not refused"
    assert written


def test_the_matrix_is_big_enough_and_covers_every_registered_vendor() -> None:
    names = {name for name, installed, _ in available_providers() if installed}
    assert {v.name for v in VENDORS} == names
    assert len(VENDORS) * len(CASES) >= 150


def test_unknown_model_names_the_close_ones_and_the_escape_hatch(tmp_path: Path) -> None:
    vendor = next(v for v in VENDORS if v.judged)
    model = vendor.chat.partition(":")[2]
    with pytest.raises(bk.InvalidRequestError) as info:
        bk.encode([chat()], f"{vendor.name}:{model[:-1]}", tmp_path / "a")
    assert f"did you mean {model!r}" in str(info.value)
    assert "allow_unknown_model" in str(info.value)
    written = bk.encode([chat()], f"{vendor.name}:{model[:-1]}", tmp_path / "b",
                        options={"allow_unknown_model": True})
    assert len(written) == 1


def test_ids_differing_by_case_are_refused_where_the_adapter_keys_by_file_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The adapter attribute turns the rule on; without it the same ids are accepted."""
    base = get_adapter_class("fake")

    class FileKeyed(base):  # type: ignore[misc, valid-type]
        case_insensitive_ids = True

    monkeypatch.setitem(_registered, "filekeyed", FileKeyed)  # gone after the test
    with pytest.raises(bk.InvalidRequestError, match="only by letter case") as info:
        bk.encode([chat("Doc-1"), chat("doc-1")], "filekeyed:m", tmp_path / "a")
    assert info.value.custom_id == "doc-1"
    assert bk.encode([chat("Doc-1"), chat("doc-1")], "fake:m", tmp_path / "b")
