"""A large file is converted in chunks by forked workers (``_convert_parallel``): the output
must be the bytes of converting it in one process, and the refusal the one the serial path
gives (the first bad line of the file, a model clash across chunks included), with nothing
written."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchkit import InvalidRequestError
from batchkit import _convert_parallel as parallel
from batchkit._convert import convert

from .test_convert_pairs import TARGETS
from .test_convert_shapes import _line

ANTHROPIC = TARGETS["anthropic"]


def _plain(i: int, model: str = "gpt-4o-mini", text: str | None = None) -> bytes:
    return (b'{"custom_id": "r-%d", "method": "POST", "url": "/v1/chat/completions", "body": '
            b'{"model": "%s", "messages": [{"role": "user", "content": "%s"}]}}\n'
            % (i, model.encode(), (f"Hello {i}" if text is None else text).encode()))


@pytest.fixture
def chunked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every file goes to two workers in chunks of 64 KiB; records the workers of each run."""
    runs: list[int] = []
    original = parallel.convert_in_parallel

    def spied(*args: object) -> int:
        runs.append(args[-1])  # type: ignore[arg-type]
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(parallel, "CHUNK_BYTES", 64 << 10)
    monkeypatch.setattr(parallel, "workers_for", lambda path: 2)
    monkeypatch.setattr(parallel, "convert_in_parallel", spied)
    return runs


def _serial(source: Path, target: str, out: Path) -> bytes | str:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parallel, "workers_for", lambda path: 0)
        try:
            convert(source, target, out)
        except InvalidRequestError as exc:
            return str(exc)
    return out.read_bytes()


@pytest.mark.parametrize("target", ["anthropic", "bedrock", "openai"])
def test_chunks_give_the_bytes_of_one_process(tmp_path: Path, target: str,
                                              chunked: list[int]) -> None:
    source = tmp_path / "in.jsonl"
    lines = [_line(i).encode() + b"\n" for i in range(1920)]
    # A BOM, blank lines and no newline at the end: numbered and skipped as one process does.
    source.write_bytes(b"\xef\xbb\xbf" + b"".join(lines).replace(b"\n", b"\n\n", 7)[:-1])
    expected = _serial(source, TARGETS[target], tmp_path / "serial.jsonl")
    if isinstance(expected, str):  # a refused line: the same refusal
        with pytest.raises(InvalidRequestError) as caught:
            convert(source, TARGETS[target], tmp_path / "out.jsonl")
        assert str(caught.value) == expected
    else:
        convert(source, TARGETS[target], tmp_path / "out.jsonl")
        assert (tmp_path / "out.jsonl").read_bytes() == expected
    assert chunked == [2]


def test_a_bad_line_deep_in_the_file_is_refused_naming_it(tmp_path: Path,
                                                          chunked: list[int]) -> None:
    source = tmp_path / "in.jsonl"
    with open(source, "wb") as fh:
        for i in range(1, 80_001):
            fh.write(_plain(i, text=" " if i == 70_001 else None))
    out = tmp_path / "out.jsonl"
    out.write_text("kept\n")
    with pytest.raises(InvalidRequestError) as caught:
        convert(source, ANTHROPIC, out)
    assert str(caught.value) == ("line 70001, custom_id 'r-70001': anthropic refuses text that "
                                 "is only whitespace (a 'user' message)")
    assert out.read_text() == "kept\n" and sorted(p.name for p in tmp_path.iterdir()) == [
        "in.jsonl", "out.jsonl"]
    assert chunked == [2]


@pytest.mark.parametrize("bad_at, error", [
    (None, "line 2500, custom_id 'r-2500': model 'gpt-4o' differs from 'gpt-4o-mini' on line 1"),
    (2400, "line 2400, custom_id 'r-2400': anthropic refuses text that is only whitespace"),
    (2600, "line 2500, custom_id 'r-2500': model 'gpt-4o' differs from 'gpt-4o-mini' on line 1"),
])
def test_a_model_clash_in_a_later_chunk_is_the_serial_error(
        tmp_path: Path, bad_at: int | None, error: str, chunked: list[int]) -> None:
    """The clash (from line 2500 on, many chunks after line 1) is checked in file order against
    the other errors: a bad line before it wins, one after it loses."""
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"".join(
        _plain(i, model="gpt-4o" if i >= 2500 else "gpt-4o-mini",
               text=" " if i == bad_at else None) for i in range(1, 4000)))
    assert source.stat().st_size > 3 * parallel.CHUNK_BYTES
    with pytest.raises(InvalidRequestError) as caught:
        convert(source, ANTHROPIC, tmp_path / "out.jsonl")
    assert str(caught.value).startswith(error)
    assert str(caught.value) == _serial(source, ANTHROPIC, tmp_path / "serial.jsonl")
    assert not (tmp_path / "out.jsonl").exists()
    assert chunked == [2]
