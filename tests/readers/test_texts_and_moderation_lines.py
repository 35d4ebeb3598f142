"""Embedding lines whose ``input`` is a list of texts and moderation lines (OpenAI, Azure and
Mistral formats) read as ONE request each: ``EmbedRequest(texts=...)`` and
``ModerationRequest``. Their round trips through the same vendor are in ``test_round_trips``
(the samples are in ``_samples.OTHER_SAMPLES``); here: what they read as, the refusals, and
``convert``'s line shapes on them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

import batchkit as bk
from batchkit._convert import convert
from batchkit._convert_lines import LineConverter

from ._samples import READ_AS, sample
from .test_convert_shapes import _whole_way


def _write(tmp_path: Path, *lines: Any) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def _oa(cid: str, url: str, **body: Any) -> dict[str, Any]:
    return {"custom_id": cid, "method": "POST", "url": url, "body": body}


@pytest.mark.parametrize("stem", ["openai_embeddings_texts", "mistral_embeddings_texts"])
def test_a_list_input_embedding_line_is_one_request_of_its_texts(stem: str) -> None:
    rows = list(bk.read_requests(sample(stem)))
    given = [orjson.loads(x)["body"] for x in sample(stem).read_bytes().splitlines()]
    assert [type(r) for r in rows] == [bk.EmbedRequest, bk.EmbedRequest]
    assert [r.custom_id for r in rows] == ["docs-1", "docs-2"]
    # A list of one stays a list (texts), so the line is written back as it was read.
    assert [r.texts for r in rows] == [b["input"] for b in given]  # type: ignore[union-attr]
    assert [r.text for r in rows] == [None, None]  # type: ignore[union-attr]
    assert [r.dimensions for r in rows] == [None, given[1].get(  # type: ignore[union-attr]
        "dimensions", given[1].get("output_dimension"))]


@pytest.mark.parametrize("stem", ["openai_moderations", "mistral_moderations"])
def test_moderation_lines_read_as_moderation_requests(stem: str) -> None:
    one, several = bk.read_requests(sample(stem), format=READ_AS.get(stem))
    given = [orjson.loads(x)["body"]["input"] for x in sample(stem).read_bytes().splitlines()]
    assert isinstance(one, bk.ModerationRequest) and isinstance(several, bk.ModerationRequest)
    assert (one.custom_id, one.text, one.texts, one.params) == ("mod-1", given[0], None, {})
    assert (several.custom_id, several.text, several.texts) == ("mod-2", None, given[1])


def test_azure_urls_without_v1_read_the_same(tmp_path: Path) -> None:
    path = _write(tmp_path, _oa("e", "/embeddings", model="emb", input=["a", "b"]),
                  _oa("m", "/moderations", model="omni-moderation-latest", input="c"))
    embed, moderation = bk.read_requests(path)
    assert isinstance(embed, bk.EmbedRequest) and embed.texts == ["a", "b"]
    assert isinstance(moderation, bk.ModerationRequest) and moderation.text == "c"


def test_a_mistral_moderation_line_is_told_apart_only_by_the_model(tmp_path: Path) -> None:
    """Without a moderation model named, the same line is an embedding (the documented
    limit: Mistral spells both lines alike and names the model on the job)."""
    path = sample("mistral_moderations")
    assert {type(r) for r in bk.read_requests(path)} == {bk.EmbedRequest}
    assert {type(r) for r in bk.read_requests(path, format="mistral:mistral-embed")} == {
        bk.EmbedRequest}
    assert {type(r) for r in bk.read_requests(path, format=READ_AS["mistral_moderations"])} == {
        bk.ModerationRequest}


@pytest.mark.parametrize(("line", "rule"), [
    (_oa("t", "/v1/embeddings", model="m", input=["ok", [1, 2]]),
     "'input' must be a string or a list of strings (token ids are not read"),
    (_oa("t", "/v1/moderations", model="omni-moderation-latest", input=[
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]),
     "'input' must be a string or a list of strings (image inputs are not read"),
    (_oa("t", "/v1/embeddings", model="m", input=[]), "texts: must hold at least one text"),
    (_oa("t", "/v1/moderations", model="omni-moderation-latest", input=["fine", " "]),
     "text 1 must not be empty"),
    ({"custom_id": "t", "body": {"input": [[5, 6]]}}, "token ids are not read"),
])
def test_bad_list_inputs_are_refused_naming_line_and_id(tmp_path: Path, line: dict[str, Any],
                                                        rule: str) -> None:
    path = _write(tmp_path, line)
    with pytest.raises(bk.InvalidRequestError) as caught:
        list(bk.read_requests(path))
    assert str(caught.value).startswith("line 1, custom_id 't': ")
    assert rule in str(caught.value)


@pytest.mark.parametrize(("stem", "target", "rule"), [
    ("openai_embeddings_texts", "gemini:text-embedding-004", "send one request per text"),
    ("mistral_embeddings_texts", "cohere:embed-english-v3.0", "send one request per text"),
    ("openai_moderations", "anthropic:claude-haiku-4-5", "no moderation endpoint"),
    ("mistral_moderations", "gemini:gemini-embedding-001", "no moderation endpoint"),
])
def test_a_vendor_that_refuses_them_writes_nothing(tmp_path: Path, stem: str, target: str,
                                                   rule: str) -> None:
    source = tmp_path / "in.jsonl"  # without the raw fields no other format reads
    lines = [orjson.loads(x) for x in sample(stem).read_bytes().splitlines()]
    for line in lines:
        for raw in ("encoding_format", "dimensions", "output_dimension"):
            line["body"].pop(raw, None)
    source.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    out = tmp_path / "out.jsonl"
    with pytest.raises(bk.InvalidRequestError) as caught:
        convert(source, target, out, format=READ_AS.get(stem))
    message = str(caught.value)
    assert message.startswith(f"line 1, custom_id '{lines[0]['custom_id']}': ")
    assert rule in message and "\n" not in message
    assert not out.exists() and list(tmp_path.glob(".out*")) == []


def _count_whole_way(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many lines went the whole way (the others were spliced)."""
    count = [0]
    whole_way = LineConverter.whole_way

    def counted(self: LineConverter, line_no: int, raw: bytes, write: Any) -> None:
        count[0] += bool(raw.strip())  # the gaps between spliced lines come here too
        whole_way(self, line_no, raw, write)

    monkeypatch.setattr(LineConverter, "whole_way", counted)
    return count


@pytest.mark.parametrize("target", ["openai:text-embedding-3-small", "mistral:mistral-embed"])
def test_list_input_lines_take_the_whole_way_and_give_its_bytes(
        tmp_path: Path, target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines of one layout whose lists differ in their texts and length are each converted in
    full (a list's texts are no slots of a shape), giving the whole way's bytes, while the
    one-text lines between them are spliced."""
    lists = [_oa(f"d-{i}", "/v1/embeddings", model="text-embedding-3-small",
                 input=[f"text {j} of {i}" for j in range(1 + i % 3)]) for i in range(60)]
    singles = [_oa(f"s-{i}", "/v1/embeddings", model="text-embedding-3-small",
                   input=f"single {i}") for i in range(60)]
    lines = [line for pair in zip(lists, singles, strict=True) for line in pair]
    path = _write(tmp_path, *lines)
    expected = _whole_way(path, target)
    assert all(isinstance(out, bytes) for _, out in expected)
    whole = _count_whole_way(monkeypatch)
    out = tmp_path / "out.jsonl"
    assert convert(path, target, out) == len(lines)
    assert out.read_bytes() == b"".join(o + b"\n" for _, o in expected  # type: ignore[operator]
                                        )
    assert whole[0] == 61  # the list lines, and the first text line


def test_moderation_text_lines_are_spliced_like_embedding_lines(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["Hello there", 'a "quote"', "\u00e9 first", "x", "   ", "tab\there"]
    lines = [_oa(f"m-{i}", "/v1/moderations", model="omni-moderation-latest",
                 input=texts[i % len(texts)] + ("" if i % 7 else f" {i}")) for i in range(80)]
    path = _write(tmp_path, *lines)
    expected = _whole_way(path, "openai:omni-moderation-latest")
    refused = [o for _, o in expected if isinstance(o, str)]
    assert refused and all("must not be empty" in o for o in refused)
    kept = tmp_path / "kept.jsonl"
    kept.write_text("".join(json.dumps(lines[n - 1]) + "\n" for n, o in expected
                            if isinstance(o, bytes)))
    whole = _count_whole_way(monkeypatch)
    out = tmp_path / "out.jsonl"
    assert convert(kept, "openai:omni-moderation-latest", out) == len(expected) - len(refused)
    assert out.read_bytes() == b"".join(o + b"\n" for _, o in expected if isinstance(o, bytes))
    assert whole[0] == 1  # the first line, which taught the shape
