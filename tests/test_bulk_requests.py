"""``ChatRequest.batch`` / ``EmbedRequest.batch``: the requests equal the constructor's, encode
to the same lines, and a bad row fails with the constructor's one-line error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit.providers.openai.adapter import OpenAIAdapter


class Verdict(BaseModel):
    spam: bool
    reason: str


TEXTS = [f"Email {i}: your invoice #{i} is attached." for i in range(5)]
IDS = [f"email-{i}" for i in range(5)]


def constructed(cid: str, text: str, **shared: Any) -> bk.ChatRequest:
    return bk.ChatRequest(custom_id=cid, messages=[
        {"role": "system", "content": "Spam or ham?"}, {"role": "user", "content": text}],
        **shared)


def test_batch_requests_equal_the_constructed_ones_and_encode_alike() -> None:
    shared: dict[str, Any] = {"response_model": Verdict, "max_tokens": 50, "temperature": 0,
                              "metadata": {"source": "inbox"}}
    batch = list(bk.ChatRequest.batch(TEXTS, custom_ids=IDS, system="Spam or ham?", **shared))
    expected = [constructed(cid, text, **shared) for cid, text in zip(IDS, TEXTS, strict=True)]
    assert batch == expected
    adapter = OpenAIAdapter("gpt-4o-mini")
    assert [adapter.encode(r, r.custom_id) for r in batch] == [
        adapter.encode(r, r.custom_id) for r in expected]
    assert all(isinstance(m, bk.Message) for r in batch for m in r.messages)


def test_batch_feeds_the_planner_like_constructed_requests(tmp_path: Path) -> None:
    texts = [*TEXTS, TEXTS[0]]  # at temperature 0 the repeat is sent once (dedupe hashes)
    ids = [*IDS, "again"]
    batch = bk.ChatRequest.batch(texts, custom_ids=ids, system="Spam or ham?",
                                 response_model=Verdict, temperature=0)
    expected = [constructed(cid, text, response_model=Verdict, temperature=0)
                for cid, text in zip(ids, texts, strict=True)]
    written = bk.encode(batch, "openai:gpt-4o-mini", tmp_path / "batch")
    wanted = bk.encode(expected, "openai:gpt-4o-mini", tmp_path / "ctor")
    for ours, theirs in zip(written, wanted, strict=True):
        index = ours.name.replace(".payload.", ".requests.")
        assert ours.read_bytes() == theirs.read_bytes()
        assert (ours.parent / index).read_bytes() == (theirs.parent / index).read_bytes()


def test_default_ids_count_from_zero_and_embeddings_batch_too() -> None:
    assert [r.custom_id for r in bk.ChatRequest.batch(["a", "b"])] == ["0", "1"]
    embeds = list(bk.EmbedRequest.batch(["a", "b"], custom_ids=["x", "y"], dimensions=8))
    assert embeds == [bk.EmbedRequest(custom_id="x", text="a", dimensions=8),
                      bk.EmbedRequest(custom_id="y", text="b", dimensions=8)]
    assert orjson.loads(embeds[1].model_dump_json()) == {
        "custom_id": "y", "params": {}, "metadata": {}, "text": "b", "texts": None,
        "input_type": None, "dimensions": 8}


@pytest.mark.parametrize(("texts", "ids", "message"), [
    (["ok", ""], ["a", "b"],
     "custom_id 'b': messages.1.content: message content must not be empty"),
    (["ok", "bad \ud800"], ["a", "b"], "custom_id 'b': messages.1.content: contains a lone "
                                       "surrogate (U+D800 at character 4)"),
    (["ok"], [""], "request 1: custom_id: must not be empty"),
    (["ok"], ["x" * 513], "request 1: custom_id: longer than 512 characters"),
    (["ok", 7], ["a", "b"], "custom_id 'b': messages.1.content: must be a string, not int"),
    (["a", "b"], ["a"], "custom_ids ran out at text 2"),
    (["a"], ["a", "b"], "custom_ids has more ids than there are texts"),
])
def test_a_bad_row_is_named_in_one_line(texts: list[Any], ids: list[str], message: str) -> None:
    with pytest.raises(bk.InvalidRequestError) as caught:
        list(bk.ChatRequest.batch(texts, custom_ids=ids, system="Spam or ham?"))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_the_constructor_gives_the_same_rule_for_an_empty_message() -> None:
    with pytest.raises(bk.InvalidRequestError) as ctor:
        constructed("b", "")
    with pytest.raises(bk.InvalidRequestError) as batch:
        list(bk.ChatRequest.batch([""], custom_ids=["b"], system="Spam or ham?"))
    assert str(ctor.value) == str(batch.value)


def test_bad_shared_fields_fail_at_once_naming_the_batch() -> None:
    with pytest.raises(bk.InvalidRequestError, match=r"ChatRequest.batch: max_tokens: "):
        bk.ChatRequest.batch(TEXTS, max_tokens=0)
    with pytest.raises(bk.InvalidRequestError, match="not messages"):
        bk.ChatRequest.batch(TEXTS, messages=[])
    with pytest.raises(bk.InvalidRequestError, match="custom_ids="):
        bk.EmbedRequest.batch(TEXTS, custom_id="x")
    with pytest.raises(bk.InvalidRequestError, match=r"custom_id 'e': text: must not be empty"):
        list(bk.EmbedRequest.batch(["  "], custom_ids=["e"]))
