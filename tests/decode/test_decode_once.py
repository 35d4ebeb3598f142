"""``bk.decode`` joined to requests decodes each row once: the index reads only ids, and the
rows are then read in the requests' order (straight through, or seeking where the file's order
differs), with nothing lost on the way."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import batchkit as bk
from batchkit._registry import make_adapter
from batchkit.providers._lines import line_id as shared_line_id
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


# -- every vendor whose adapter reads a row's id from its bytes (Adapter.row_id_key) ----------

_CLAUDE_MESSAGE = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
                   "content": [{"type": "text", "text": "answer"}], "stop_reason": "end_turn",
                   "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 2}}


def _chat(custom_id: str) -> bk.ChatRequest:
    return bk.ChatRequest(custom_id=custom_id, messages=[bk.Message(role="user", content="q")])


def _embed(custom_id: str) -> bk.EmbedRequest:
    return bk.EmbedRequest(custom_id=custom_id, text=f"text of {custom_id}")


def _anthropic(rid: str, i: int, ok: bool) -> dict[str, object]:
    message = {**_CLAUDE_MESSAGE, "content": [{"type": "text", "text": f"answer {i}"}]}
    return {"custom_id": rid, "result": {"type": "succeeded", "message": message} if ok
            else {"type": "expired"}}


def _bedrock(rid: str, i: int, ok: bool) -> dict[str, object]:
    echo = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64,
            "messages": [{"role": "user", "content": [{"type": "text", "text": f"q {i}"}]}]}
    return {"recordId": rid, "modelInput": echo, **(
        {"modelOutput": {**_CLAUDE_MESSAGE, "content": [{"type": "text", "text": f"a {i}"}]}}
        if ok else {"error": {"errorCode": 400, "errorMessage": "Malformed input request"}})}


def _gemini(rid: str, i: int, ok: bool) -> dict[str, object]:
    return {"key": rid, **({"response": {"candidates": [{
        "content": {"parts": [{"text": f"answer {i}"}], "role": "model"},
        "finishReason": "STOP", "index": 0}], "usageMetadata": {
            "promptTokenCount": 3, "candidatesTokenCount": i + 1, "totalTokenCount": i + 4}}}
        if ok else {"error": {"code": 3, "message": "Request contains an invalid argument."}})}


def _vertex(rid: str, i: int, ok: bool) -> dict[str, object]:
    return {"key": rid, "predictions": [{"embeddings": {
        "statistics": {"token_count": i + 1, "truncated": False}, "values": _vector(i)}}]
        if ok else [], "status": "" if ok else "Internal error occurred. Please retry."}


def _cohere(rid: str, i: int, ok: bool) -> dict[str, object]:
    body = {"id": f"chat-{i}", "finish_reason": "COMPLETE", "message": {
        "role": "assistant", "content": [{"type": "text", "text": f"answer {i}"}]},
        "usage": {"billed_units": {"input_tokens": 3, "output_tokens": i + 1}}}
    return {"custom_id": rid, "body": body, "error": None} if ok else {
        "custom_id": rid, "error": "invalid request: message must be at least 1 token long"}


VENDORS: dict[str, tuple[str, Callable[[str, int, bool], dict[str, object]],
                         Callable[[str], bk.ChatRequest | bk.EmbedRequest]]] = {
    # provider, the row as the vendor writes it (id key first), the request of an id
    "anthropic": ("anthropic:claude-sonnet-4-20250514", _anthropic, _chat),
    "bedrock": ("bedrock:anthropic.claude-3-haiku-20240307-v1:0", _bedrock, _chat),
    "gemini": ("gemini:gemini-2.5-flash", _gemini, _chat),
    "vertex": ("vertex:text-embedding-005", _vertex, _embed),
    "cohere": ("cohere:command-a-03-2025", _cohere, _chat),
}
QUOTED = 'say "hi"'
"""An id holding quotes: written escaped, so its row is decoded to be read."""


def _moved(row: dict[str, object], key: str, place: int) -> dict[str, object]:
    """The row with its id key moved to ``place`` among the keys (-1: last)."""
    items = [(k, v) for k, v in row.items() if k != key]
    items.insert(len(items) if place == -1 else place, (key, row[key]))
    return dict(items)


def _view(result: bk.Result) -> tuple[object, ...]:
    """What a result says, comparable across two decodes."""
    error = result.error
    return (result.custom_id, result.status, result.text, result.metadata,
            None if result.embedding is None else result.embedding.tolist(),
            None if error is None else (error.code, error.message), result.usage,
            json.dumps(result.raw, sort_keys=True, default=str))


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_every_vendor_decodes_each_joined_row_once_with_the_full_decodes_results(
        vendor: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows shuffled, one request without a row, one with two, a stray, an id with quotes, and
    the id key last and in the middle: each row whose id the bytes give is decoded once, the
    others once more to be indexed, and the results equal the decode-to-index path's."""
    provider, row_of, request_of = VENDORS[vendor]
    key = next(iter(row_of("x", 0, True)))
    rows = [row_of(f"r{i}", i, i != 4) for i in (5, 2, 0, 4, 1)]  # no r3; r4 errored
    rows += [row_of("r1", 9, True), row_of("stray", 7, True), row_of(QUOTED, 6, True),
             _moved(row_of("last", 8, True), key, -1)]
    if len(rows[0]) > 2:  # a key between two others
        rows.append(_moved(row_of("middle", 10, True), key, 1))
    lines = [json.dumps(row) for row in rows]
    out = _write(tmp_path / "out.jsonl", lines)
    ids = ["r0", "r1", "r2", "r3", "r4", "r5", QUOTED, "last"]
    ids += ["middle"] if len(rows[0]) > 2 else []
    requests: list[bk.ChatRequest | bk.EmbedRequest] = [request_of(i) for i in ids]

    adapter_class = type(make_adapter(provider))
    read = {line for line in lines if adapter_class.row_id(make_adapter(provider),
                                                          line.encode()) is not None}
    assert set(lines) - read == {json.dumps(rows[7])} | (
        {json.dumps(rows[-1])} if "middle" in ids else set())  # the quoted id, the middle key
    decoded: list[str] = []
    real_decode = adapter_class.decode

    def counting(self: object, line: bytes) -> bk.Result:
        decoded.append(line.decode().rstrip("\n"))
        return real_decode(self, line)  # type: ignore[arg-type]

    monkeypatch.setattr(adapter_class, "decode", counting)
    results = bk.decode(out, provider, requests)
    assert sorted(decoded) == sorted(set(lines) - read)  # indexing decoded only those
    indexed = len(decoded)
    got = [_view(r) for r in results]
    stray = json.dumps(rows[6])
    assert sorted(decoded[indexed:]) == sorted(set(lines) - {stray})  # then each row once
    assert [row[key] for row in results.unmatched] == ["stray"]

    monkeypatch.setattr(adapter_class, "row_id", lambda self, line: None)
    decoded.clear()
    full = bk.decode(out, provider, requests)
    assert [_view(r) for r in full] == got
    assert full.unmatched == results.unmatched
    assert len(decoded) == 2 * len(lines) - 1  # every row to index it, every claimed one again

    assert [r[0] for r in got] == ids
    codes = {r.custom_id: r.error.code for r in results if r.error is not None}
    assert codes.pop("r3") == "missing_result" and codes.pop("r1") == "duplicate_result"
    assert set(codes) == {"r4"}
    assert all(r[1] == "succeeded" for r in got if r[0] not in ("r1", "r3", "r4"))


@pytest.mark.parametrize(("line", "key", "expected"), [
    (b'{"recordId": "CALL0000001", "modelInput": {}}\n', "recordId", "CALL0000001"),
    (b'{"modelInput": {"a": [1, "}"]}, "recordId" : "r_2-B" }\n', "recordId", "r_2-B"),
    (b'{"key":"caf\xc3\xa9","response":{}}', "key", "caf\u00e9"),
    (b'{"modelInput": {}, "recordId": "r1", "modelOutput": {}}', "recordId", None),  # middle
    (b'{"modelInput": {"recordId": "inner"}}\n', "recordId", None),  # nested, last
    (b'{"response": {"key": "inner"}, "key": "outer"}', "key", None),  # named twice
    (b'{"key": "first", "key": "second"}', "key", None),  # the decoder reads the second
    (b'{"response": {"text": "\\"key\\": \\"x\\"}"}}', "key", None),  # only inside a text
    (b'{"custom_id": "a\\u0062", "body": {}}', "custom_id", None),  # an escape
    (b'{"custom_id": "bad\xff", "body": {}}', "custom_id", None),  # not UTF-8
    (b'{"custom_id": "c1", "embeddings": {}}', "custom_id", None),  # the other kind of line
    (b'{"custom_id": "c1", "body": {"embeddings": []}}', "custom_id", None),
])
def test_line_id_reads_a_top_level_key_only_where_it_is_the_decoders(
        line: bytes, key: str, expected: str | None) -> None:
    assert shared_line_id(line, key, "embeddings") == expected
    if expected is not None:  # what the whole decoder reads
        assert json.loads(line)[key] == expected
