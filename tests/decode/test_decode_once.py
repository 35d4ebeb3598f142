"""``bk.decode`` joined to requests decodes each row once: the index reads only ids, and the
rows are then read in the requests' order (straight through, or seeking where the file's order
differs), with nothing lost on the way."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import batchkit as bk
from batchkit.providers.openai.results import decode_line, line_id


def _embedding_row(custom_id: str, vector: list[float], tokens: int = 4) -> str:
    """An OpenAI embeddings output line, in the order OpenAI writes its fields."""
    return json.dumps({
        "id": f"batch_req_{custom_id}", "custom_id": custom_id, "response": {
            "status_code": 200, "request_id": "req_x", "body": {
                "object": "list", "data": [{"object": "embedding", "index": 0,
                                            "embedding": vector}],
                "model": "text-embedding-3-small",
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}},
        "error": None})


def _error_row(custom_id: str) -> str:
    return json.dumps({"id": f"batch_req_{custom_id}", "custom_id": custom_id,
                       "response": None, "error": {"code": "batch_expired", "message": "late"}})


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _vector(i: int) -> list[float]:
    return [float(np.float32(i + k / 8)) for k in range(6)]


@pytest.fixture
def decoded_rows(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every line the OpenAI family's decoder is given, in order."""
    seen: list[bytes] = []

    def counting(line: bytes | str) -> bk.Result:
        seen.append(line if isinstance(line, bytes) else line.encode())
        return decode_line(line)

    monkeypatch.setattr("batchkit.providers.openai.files.decode_line", counting)
    return seen


def test_each_row_is_decoded_once_per_walk(tmp_path: Path, decoded_rows: list[bytes]) -> None:
    n = 30
    out = _write(tmp_path / "out.jsonl", [_embedding_row(f"doc-{i}", _vector(i))
                                          for i in range(n)])
    requests = [bk.EmbedRequest(custom_id=f"doc-{i}", text=f"t {i}") for i in range(n)]
    results = bk.decode(out, "openai:text-embedding-3-small", requests)
    assert decoded_rows == []  # indexing read the ids alone
    matrix = results.embeddings()
    assert len(decoded_rows) == n and len(set(decoded_rows)) == n
    assert np.array_equal(matrix, np.array([_vector(i) for i in range(n)], dtype=np.float32))
    assert all(r.cost_usd is not None and r.cost_usd > 0 for r in results)
    assert len(decoded_rows) == 2 * n  # a second walk decodes again, still once a row


def test_shuffled_files_come_back_in_input_order_with_every_row_accounted_for(
        tmp_path: Path, decoded_rows: list[bytes]) -> None:
    """Rows out of order across an output and an error file, one request without a row, one
    with two, and a stray: the same results as decoding the rows alone, in input order."""
    order = [7, 2, 9, 0, 4, 1, 8, 5]  # no row for 3 and 6; 5 gets two, the second errored
    out = _write(tmp_path / "out.jsonl", [_embedding_row(f"d{i}", _vector(i), tokens=i + 1)
                                          for i in order] + [_embedding_row("stray", [1.0])])
    err = _write(tmp_path / "err.jsonl", [_error_row("d6"), _error_row("d5")])
    requests = [bk.EmbedRequest(custom_id=f"d{i}", text=f"t {i}", metadata={"i": i})
                for i in range(10)]
    results = bk.decode(out, "openai:text-embedding-3-small", requests, errors=err)
    assert len(decoded_rows) == 0
    got = list(results)
    assert len(decoded_rows) == len(order) + 2  # d5's two rows, every other claimed row once
    assert [r.custom_id for r in got] == [f"d{i}" for i in range(10)]
    assert [r.metadata for r in got] == [{"i": i} for i in range(10)]
    codes = {r.custom_id: r.error.code for r in got if r.error is not None}
    assert codes == {"d3": "missing_result", "d5": "duplicate_result", "d6": "batch_expired"}
    alone = {r.custom_id: r for r in bk.decode([out, err], "openai:text-embedding-3-small")}
    for r in got:
        if r.ok:
            same = alone[r.custom_id].embedding
            assert r.embedding is not None and same is not None
            assert np.array_equal(r.embedding, same)
            assert r.usage == alone[r.custom_id].usage and r.usage is not None
            assert r.usage.input_tokens == int(r.custom_id[1:]) + 1
    assert [row["custom_id"] for row in results.unmatched] == ["stray"]
    assert results.unmatched[0]["response"]["body"]["data"][0]["embedding"] == [1.0]


def test_a_row_cut_short_after_its_id_is_that_requests_malformed_line(tmp_path: Path) -> None:
    """A download cut mid-line: the id in the line's first bytes names the request, which gets
    ``malformed_line`` naming the file and byte, the partial line kept; the rest are intact."""
    whole = _embedding_row("b", _vector(1))
    out = _write(tmp_path / "out.jsonl", [_embedding_row("a", _vector(0)), whole[:90]])
    a, b = bk.decode(out, "openai:text-embedding-3-small",
                     [bk.EmbedRequest(custom_id=i, text="t") for i in "ab"])
    assert a.ok and b.error is not None and b.error.code == "malformed_line"
    assert b.error.message.startswith("out.jsonl at byte ") and b.raw == whole[:90]
    assert b.custom_id == "b"


@pytest.mark.parametrize(("line", "expected"), [
    (b'{"id": "batch_req_1", "custom_id": "Req_001-A", "response": {}}', "Req_001-A"),
    (b'{"custom_id":"x y","result":{}}', "x y"),
    (b'{"custom_id": "caf\xc3\xa9", "response": null}', "caf\u00e9"),
    (b'{"custom_id": "a\\"b", "response": null}', None),  # an escape: decoded to be read
    (b'{"response": {"custom_id": "inner"}, "custom_id": "outer"}', None),  # nested first
    (b'{"id": {"custom_id": "inner"}}', None),
    (b'{"custom_id": "bad\xff", "response": null}', None),  # not UTF-8
    (b"not json", None),
])
def test_line_id_reads_only_an_opening_top_level_id(line: bytes, expected: str | None) -> None:
    assert line_id(line) == expected
    if expected is not None:  # what the whole decoder reads
        assert json.loads(line)["custom_id"] == expected
