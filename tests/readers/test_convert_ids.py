"""Ids in ``convert``: a duplicate custom id is refused in one line naming the later line, the
id and the earlier line, before the output replaces anything (on every path: spliced blocks,
lines one by one, neutral and CSV files, chunks in workers); and the blocks spliced at once,
their ids mapped by the vendor's ``vendor_ids``, are the bytes of converting each line the
whole way, for ids each vendor keeps and ids it must rewrite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from batchkit import InvalidRequestError
from batchkit import _convert_parallel as parallel
from batchkit._convert import convert
from batchkit._convert_lines import LineConverter
from batchkit.providers.anthropic.codec import vendor_id as anthropic_id
from batchkit.providers.anthropic.codec import vendor_ids as anthropic_ids
from batchkit.providers.bedrock.codec import vendor_id as bedrock_id
from batchkit.providers.bedrock.codec import vendor_ids as bedrock_ids

from .test_convert_pairs import TARGETS
from .test_convert_shapes import _whole_way

IDS = ["email-1", "abc", "ABC123", "x_y", "bkx12", "bkxabc", "bk--x", "bk-x", "7", "a" * 64,
       "a" * 65, "b" * 300, "\u00e9t\u00e9-1", "\u00ffid", "id 3", "id/4", "Qz7xKv0i", "%b",
       "a\u2028b", "\U0001f389party", "-", "_"]


def _openai(cid: str, text: str = "Hello") -> str:
    """A line with its id as UTF-8, not escaped (the lines a block is spliced from)."""
    return json.dumps({"custom_id": cid, "method": "POST", "url": "/v1/chat/completions",
                       "body": {"model": "gpt-4o-mini", "max_completion_tokens": 50,
                                "messages": [{"role": "system", "content": "Be brief."},
                                             {"role": "user", "content": text}]}},
                      ensure_ascii=False)


@pytest.fixture
def blocks_taken(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many blocks were spliced at once (a test shows that path ran)."""
    taken = [0]
    original = LineConverter._take_all

    def counted(self: LineConverter, *args: Any) -> bool:
        done = original(self, *args)
        taken[0] += done
        return done

    monkeypatch.setattr(LineConverter, "_take_all", counted)
    return taken


def test_vendor_ids_are_vendor_id_on_bytes() -> None:
    ids = [*IDS, "line\nbreak"]
    raw = [cid.encode() for cid in ids]
    assert bedrock_ids(raw) == [bedrock_id(cid).encode() for cid in ids]
    assert anthropic_ids(raw) == [anthropic_id(cid).encode() for cid in ids]
    rewritten = [r for r in raw if not r.isalnum()]  # no id kept: the all-escaped case
    assert bedrock_ids(rewritten) == [bedrock_id(r.decode()).encode() for r in rewritten]
    kept = [b"email-1", b"x_y", b"a" * 64]  # every id kept: the one-pass case
    assert anthropic_ids(kept) == kept
    for odd in (b"a\nb", b"", b"bk--x", b"a" * 65):  # one id among them is not kept
        assert anthropic_ids([*kept, odd]) == [*kept, anthropic_id(odd.decode()).encode()]


@pytest.mark.parametrize("target", ["bedrock", "anthropic", "openai", "vertex"])
def test_blocks_spliced_at_once_are_the_bytes_of_the_whole_way(
        tmp_path: Path, target: str, blocks_taken: list[int]) -> None:
    source = tmp_path / "in.jsonl"
    lines = [_openai(f"{IDS[i % len(IDS)]}-{i}" if i >= len(IDS) else IDS[i], f"Text {i}")
             for i in range(3000)]
    source.write_text("".join(x + "\n" for x in lines))
    expected = _whole_way(source, TARGETS[target])
    out = tmp_path / "out.jsonl"
    convert(source, TARGETS[target], out)
    assert out.read_bytes() == b"".join(o + b"\n" for _, o in expected if isinstance(o, bytes))
    assert all(isinstance(o, bytes) for _, o in expected)
    assert blocks_taken[0] >= 1


def _refused(source: Path, target: str, out: Path, **kwargs: Any) -> str:
    out.write_text("kept\n")
    with pytest.raises(InvalidRequestError) as caught:
        convert(source, target, out, **kwargs)
    assert out.read_text() == "kept\n"
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([source.name, out.name])
    return str(caught.value)


@pytest.mark.parametrize("target", ["bedrock", "anthropic"])
def test_a_duplicate_in_a_spliced_block_is_refused_naming_both_lines(
        tmp_path: Path, target: str, blocks_taken: list[int]) -> None:
    lines = [_openai(f"email-{i}", f"Text {i}") for i in range(1, 3001)]
    lines[2899] = _openai("email-12", "Again")  # line 2900 repeats line 12's id
    source = tmp_path / "in.jsonl"
    source.write_text("".join(x + "\n" for x in lines))
    error = _refused(source, TARGETS[target], tmp_path / "out.jsonl")
    assert error == ("line 2900, custom_id 'email-12': duplicate custom_id (also line 12); "
                     "ids must be unique within a job")
    assert blocks_taken[0] >= 1


def test_a_duplicate_spelt_with_an_escape_is_the_same_id(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(_openai("ab") + "\n" + _openai("x") + "\n"
                      + _openai("ab").replace('"ab"', '"a\\u0062"') + "\n")
    error = _refused(source, TARGETS["bedrock"], tmp_path / "out.jsonl")
    assert error.startswith("line 3, custom_id 'ab': duplicate custom_id (also line 1)")


@pytest.mark.parametrize("rows, fmt, error", [
    ('{"custom_id": "a", "messages": [{"role": "user", "content": "Hi"}]}\n'
     '{"custom_id": "b", "messages": [{"role": "user", "content": "Yo"}]}\n'
     '{"custom_id": "a", "messages": [{"role": "user", "content": "Hey"}]}\n', "jsonl",
     "line 3, custom_id 'a': duplicate custom_id (also line 1)"),
    ("custom_id,text\nr1,first\nr2,second\nr1,third\n", "csv",
     "line 4, custom_id 'r1': duplicate custom_id (also line 2)"),
])
def test_neutral_and_csv_files_are_held_to_unique_ids(tmp_path: Path, rows: str, fmt: str,
                                                      error: str) -> None:
    source = tmp_path / f"in.{fmt}"
    source.write_text(rows)
    target = "openai:text-embedding-3-small" if fmt == "csv" else TARGETS["anthropic"]
    assert _refused(source, target, tmp_path / "out.jsonl").startswith(error)


def test_a_duplicate_across_worker_chunks_is_refused(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 64 << 10)
    monkeypatch.setattr(parallel, "workers_for", lambda path: 2)
    lines = [_openai(f"r-{i}", f"Text {i}") for i in range(1, 4001)]
    lines[3499] = _openai("r-7")
    source = tmp_path / "in.jsonl"
    source.write_text("".join(x + "\n" for x in lines))
    assert source.stat().st_size > 3 * parallel.CHUNK_BYTES
    error = _refused(source, TARGETS["bedrock"], tmp_path / "out.jsonl")
    assert error.startswith("line 3500, custom_id 'r-7': duplicate custom_id (also line 7)")


def test_unique_ids_that_a_vendor_rewrites_alike_are_not_duplicates(tmp_path: Path) -> None:
    """``a-b`` and ``ab`` share Bedrock's slug but not its hash: two records, two ids."""
    source = tmp_path / "in.jsonl"
    source.write_text(_openai("a-b") + "\n" + _openai("a_b") + "\n" + _openai("ab") + "\n")
    out = tmp_path / "out.jsonl"
    assert convert(source, TARGETS["bedrock"], out) == 3
    ids = [json.loads(x)["recordId"] for x in out.read_text().splitlines()]
    assert len(set(ids)) == 3 and ids[2] == "ab"
