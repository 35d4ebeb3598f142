"""``bk.decode`` and ``batchkit decode``: joining, rows kept, errors, the CLI, flat memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

import batchkit as bk
from batchkit.cli import cli

SAMPLES = Path(__file__).parent / "samples"


class Capital(BaseModel):
    city: str


def _row(custom_id: str, text: str, tokens: int = 3) -> str:
    """An OpenAI output line (the shape of ``samples/openai.output.jsonl``)."""
    return json.dumps({
        "id": f"batch_req_{custom_id}", "custom_id": custom_id, "error": None,
        "response": {"status_code": 200, "request_id": "req_x", "body": {
            "id": "chatcmpl-x", "object": "chat.completion", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": tokens, "completion_tokens": 1,
                      "total_tokens": tokens + 1}}}})


def _chat(custom_id: str, **fields: object) -> bk.ChatRequest:
    return bk.ChatRequest(custom_id=custom_id, messages=[bk.Message(role="user", content="q")],
                          **fields)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_rows_join_in_input_order_with_duplicates_malformed_and_strays_kept(
        tmp_path: Path) -> None:
    """Rows in any order come back in the requests' order; a request with two rows is
    ``duplicate_result`` holding both; an unreadable row with an id is that request's
    ``malformed_line``; rows no request claims, with or without an id, stay whole."""
    out = _write(tmp_path / "out.jsonl", [
        _row("c", "third"), _row("a", "first"), "",
        _row("dup", "one"), _row("dup", "two"),
        '{"custom_id": "bad", "response": "not an object"}',
        _row("Stray_1", "nobody asked"), "this is not json",
    ])
    results = bk.decode(out, "openai", [_chat(i) for i in ("a", "b", "c", "dup", "bad")])
    assert [r.custom_id for r in results] == ["a", "b", "c", "dup", "bad"]
    assert [r.text for r in results][:3] == ["first", None, "third"]
    missing, dup, bad = results[1], results[3], results[4]
    assert missing.error is not None and missing.error.code == "missing_result"
    assert dup.error is not None and dup.error.code == "duplicate_result"
    assert [row["response"]["body"]["choices"][0]["message"]["content"]
            for row in dup.raw] == ["one", "two"]
    assert bad.error is not None and bad.error.code == "malformed_line"
    assert bad.raw == {"custom_id": "bad", "response": "not an object"}
    stray, junk = results.unmatched
    assert stray == json.loads(_row("Stray_1", "nobody asked"))  # whole, response included
    assert junk["row"] == "this is not json" and junk["line"] == 8


def test_without_requests_every_row_is_a_result_in_file_order(tmp_path: Path) -> None:
    out = _write(tmp_path / "out.jsonl", [_row("Z-9", "z"), _row("a_1", "a"), "not json"])
    results = bk.decode(out, "openai:gpt-4o-mini")
    assert len(results) == 3 and results.lazy
    assert [(r.custom_id, r.status) for r in results] == [
        ("Z-9", "succeeded"), ("a_1", "succeeded"), ("", "errored")]
    assert results[2].error is not None and results[2].error.code == "malformed_line"
    assert results[2].raw == "not json"
    assert results[0].cost_usd is not None and results[0].cost_usd > 0  # priced by the model
    assert [r.text for r in results] == [r.text for r in results]  # walks again from disk


def test_response_models_and_metadata_are_applied(tmp_path: Path) -> None:
    out = _write(tmp_path / "out.jsonl", [_row("ok", '{"city": "Paris"}'),
                                          _row("wrong", '{"town": "Lyon"}')])
    requests = [_chat("ok", response_model=Capital, metadata={"row": 1}),
                _chat("wrong", response_model=Capital)]
    ok, wrong = bk.decode(out, "openai", requests)
    assert ok.parsed == Capital(city="Paris") and ok.metadata == {"row": 1}
    assert wrong.status == "succeeded" and wrong.parsed is None
    assert wrong.parse_error is not None and wrong.parse_error.startswith("city")


def test_requests_read_from_the_input_file_keep_foreign_ids(tmp_path: Path) -> None:
    """Ids of a file batchkit did not write, here one Anthropic would not take as they are
    (``.`` and a space), match the output rows that spell them the same way."""
    ids = ["Order.17 b", "x-Y_z"]
    requests_file = _write(tmp_path / "in.jsonl", [json.dumps({
        "custom_id": i, "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "q"}]}})
        for i in ids])
    out = _write(tmp_path / "results.jsonl", [json.dumps({
        "custom_id": i, "result": {"type": "succeeded", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
            "content": [{"type": "text", "text": f"answer {i}"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 1, "output_tokens": 2}}}}) for i in reversed(ids)])
    results = bk.decode(out, "anthropic", requests_file)
    assert [(r.custom_id, r.text) for r in results] == [(i, f"answer {i}") for i in ids]
    assert results.unmatched == []


def test_identical_foreign_vertex_requests_take_one_row_each(tmp_path: Path) -> None:
    """Rows without ids are matched by their echoed request: two identical requests take one
    row each, and a third identical one has none."""
    row = json.dumps({"status": "", "request": {"contents": [
        {"role": "user", "parts": [{"text": "q"}]}]}, "response": {"candidates": [
            {"content": {"role": "model", "parts": [{"text": "same"}]},
             "finishReason": "STOP"}]}})
    out = _write(tmp_path / "predictions.jsonl", [row, row])
    first, second, third = bk.decode(out, "vertex:gemini-2.5-flash",
                                     [_chat("A"), _chat("b"), _chat("c")])
    assert (first.text, second.text) == ("same", "same")
    assert third.error is not None and third.error.code == "missing_result"


def test_cohere_embed_job_fields_stay_in_metadata() -> None:
    doc, _, _ = bk.decode(SAMPLES / "cohere.embed-job.jsonl", "cohere:embed-v4.0", [
        bk.EmbedRequest(custom_id="Doc_A", text="The capital of France is Paris.",
                        metadata={"mine": True}),
        bk.EmbedRequest(custom_id="b", text="Embed jobs keep the other fields."),
        bk.EmbedRequest(custom_id="c", text="none")])
    assert doc.metadata == {"source": "wiki", "mine": True}
    assert doc.embeddings_by_type is not None
    assert doc.embeddings_by_type["int8"].tolist() == [12, -25, 33]


def test_requests_sharing_an_id_are_refused_by_name(tmp_path: Path) -> None:
    out = _write(tmp_path / "out.jsonl", [_row("a", "x")])
    with pytest.raises(bk.InvalidRequestError, match="duplicate custom_id") as caught:
        bk.decode(out, "openai", [_chat("a"), _chat("B-2"), _chat("c"), _chat("B-2")])
    assert "B-2" in str(caught.value)


def test_a_folder_reads_every_jsonl_file_under_it(tmp_path: Path) -> None:
    """A Vertex AI prediction folder (or a Bedrock output prefix): every ``.jsonl`` and
    ``.jsonl.out`` file under it, in name order; other files (a manifest) are left alone."""
    folder = tmp_path / "prediction-model-2025-01-01T00:00:00.000000Z"
    (folder / "part").mkdir(parents=True)
    _write(folder / "predictions_00002.jsonl", [_row("b", "second")])
    _write(folder / "part" / "predictions_00001.jsonl.out", [_row("a", "first")])
    (folder / "manifest.json.out").write_text('{"totalRecordCount": 2}\n')
    results = bk.decode(folder, "openai", [_chat("a"), _chat("b")])
    assert [r.text for r in results] == ["first", "second"] and results.unmatched == []


def test_wrong_file_or_vendor_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(bk.ConfigError, match="no such file"):
        bk.decode(tmp_path / "absent.jsonl", "openai")
    with pytest.raises(bk.ConfigError, match=r"no \.jsonl or \.jsonl\.out file"):
        bk.decode(SAMPLES / "openai.output.jsonl", "openai", errors=tmp_path)
    with pytest.raises(bk.UnknownProviderError):
        bk.decode(SAMPLES / "openai.output.jsonl", "opneai")


# -- the command -----------------------------------------------------------------------------


def test_cli_writes_results_and_counts(tmp_path: Path) -> None:
    target = tmp_path / "results.jsonl"
    done = CliRunner().invoke(cli, [
        "decode", str(SAMPLES / "openai.output.jsonl"), "-p", "openai:gpt-4o-mini",
        "--errors", str(SAMPLES / "openai.errors.jsonl"), "-o", str(target), "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    assert summary["counts"] == {"succeeded": 3, "errored": 1, "expired": 1, "cancelled": 1}
    assert summary["written"] == 6 and summary["unmatched"] == 0
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["custom_id"] for r in rows] == ["Req_001-A", "stray-row-9", "req-002", "REQ_003",
                                              "req_004", "Req-005"]
    parquet = tmp_path / "results.parquet"
    done = CliRunner().invoke(cli, ["decode", str(SAMPLES / "anthropic.results.jsonl"),
                                    "-p", "anthropic", "--results", str(parquet)])
    assert done.exit_code == 0 and "wrote 5 results" in done.output
    import pyarrow.parquet as pq

    assert pq.read_table(parquet).column("custom_id").to_pylist()[-1] == "Req-5"


def test_cli_joins_requests_and_reports_unmatched(tmp_path: Path) -> None:
    requests_file = _write(tmp_path / "in.jsonl", [json.dumps({
        "custom_id": "Req_001-A", "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "q"}]}})])
    done = CliRunner().invoke(cli, ["decode", str(SAMPLES / "openai.output.jsonl"),
                                    "-p", "openai", "--requests", str(requests_file)])
    assert done.exit_code == 0, done.output
    assert done.output.strip() == "1 results (succeeded=1); unmatched rows: 3"


@pytest.mark.parametrize(("args", "message"), [
    (["decode", "absent.jsonl", "-p", "openai"], "error: absent.jsonl: no such file"),
    (["decode", str(SAMPLES / "openai.output.jsonl"), "-p", "nosuchvendor"], "error: "),
    (["decode", str(SAMPLES / "openai.output.jsonl"), "-p", "openai", "-o", "out.csv"],
     "error: cannot write results as .csv"),
])
def test_cli_errors_are_one_line(args: list[str], message: str) -> None:
    done = subprocess.run([sys.executable, "-m", "batchkit", *args], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1, done.stderr


# -- flat memory -----------------------------------------------------------------------------


def _big_output(path: Path, rows: int) -> Path:
    """An OpenAI output file of ``rows`` 4 KB rows, ids in reverse order of the requests."""
    pad = "lorem ipsum " * 330
    with path.open("w") as fh:
        for i in reversed(range(rows)):
            fh.write(_row(f"r{i}", pad) + "\n")
    return path


def _requests_file(path: Path, rows: int) -> Path:
    with path.open("w") as fh:
        for i in range(rows):
            fh.write(json.dumps({"custom_id": f"r{i}", "method": "POST",
                                 "url": "/v1/chat/completions", "body": {
                                     "model": "gpt-4o-mini",
                                     "messages": [{"role": "user", "content": "q"}]}}) + "\n")
    return path


def _peak_kib(tmp_path: Path, rows: int, joined: bool) -> int:
    output = _big_output(tmp_path / f"out-{rows}.jsonl", rows)
    args = [str(output), "openai:gpt-4o-mini", str(tmp_path / f"res-{rows}.jsonl")]
    if joined:
        args.append(str(_requests_file(tmp_path / f"in-{rows}.jsonl", rows)))
    done = subprocess.run([sys.executable, str(Path(__file__).parent / "_decode_child.py"),
                           *args], capture_output=True, text=True, timeout=600, check=True)
    report = json.loads(done.stdout)
    assert report["written"] == rows and report["unmatched"] == 0
    output.unlink()
    return int(report["peak_rss_kib"])


@pytest.mark.parametrize("joined", [False, True], ids=["alone", "joined-to-requests"])
def test_memory_stays_flat_as_the_file_grows(tmp_path: Path, joined: bool) -> None:
    """Eight times the rows (10 MB -> 80 MB of output) must not raise the decoding process's
    peak memory by more than a tenth of the added file: rows are streamed, never held."""
    small, large = 2_500, 20_000
    small_peak = _peak_kib(tmp_path, small, joined)
    large_peak = _peak_kib(tmp_path, large, joined)
    added_file_kib = (large - small) * 4
    assert large_peak - small_peak < added_file_kib / 10, (small_peak, large_peak)


def test_benchmark_runs_at_toy_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """``benchmarks/bench_decode_file.py`` runs (1 MB), so it cannot rot; nothing is timed."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import bench_decode_file

    figures = bench_decode_file.run(1)
    assert [f[0] for f in figures] == ["alone", "joined", "baseline", "same"]
