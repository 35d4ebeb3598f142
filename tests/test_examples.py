"""Every script in examples/ runs end to end against the emulators, as a reader would run it.

Each example is started as ``python examples/NAME.py --sandbox`` in a fresh working directory,
with its own ``BATCHKIT_HOME``, no vendor key in the environment (the sandbox must need none) and
``TIKTOKEN_CACHE_DIR`` passed through (conftest points it at the local cache). The assertions
read what the example wrote: every request accounted for, in input order, with the right shapes.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from tests._subprocess import keyless_env

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DATA = EXAMPLES / "data"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py")
                 if p.name not in ("__init__.py", "spam_model.py"))
TESTED = {"spam_classification.py", "synthetic_data.py", "embeddings_to_vectors.py",
          "cohere_embed_job.py", "cost_comparison.py", "convert_openai_batch.py",
          "build_search_index.py",  # tested in tests/sinks/test_example.py
          "results_in_duckdb.py"}  # tested in tests/io/test_example_duckdb.py


def run_example(tmp_path: Path, script: str, *args: str) -> str:
    env = keyless_env(tmp_path / "home", MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--sandbox", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_every_example_has_a_test_and_uses_only_the_public_api() -> None:
    assert set(SCRIPTS) == TESTED
    for script in SCRIPTS:
        source = (EXAMPLES / script).read_text()
        tree = ast.parse(source)
        assert ast.get_docstring(tree) and "--sandbox" in ast.get_docstring(tree), script
        modules = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        private = [m for m in modules if m.startswith("batchkit") and "._" in m]
        assert not private, f"{script} imports private modules {private}"
        assert len(source.splitlines()) <= 120, script


def test_spam_classification_parses_every_email(tmp_path: Path) -> None:
    out = run_example(tmp_path, "spam_classification.py")
    emails = read_jsonl(DATA / "emails.jsonl")
    rows = read_jsonl(tmp_path / "out" / "spam_results.jsonl")
    assert [r["custom_id"] for r in rows] == [e["custom_id"] for e in emails]
    assert all(r["status"] == "succeeded" for r in rows)
    assert all(isinstance(r["parsed"]["spam"], bool) and r["parsed"]["reason"] for r in rows)
    assert [r["metadata"] for r in rows] == [e["metadata"] for e in emails]
    assert f"{len(emails)} emails: {len(emails)} parsed, 0 unparsed" in out


def test_spam_classification_cut_replies_land_in_unparsed(tmp_path: Path) -> None:
    out = run_example(tmp_path, "spam_classification.py", "--max-tokens", "5")
    rows = read_jsonl(tmp_path / "out" / "spam_results.jsonl")
    assert len(rows) == len(read_jsonl(DATA / "emails.jsonl"))
    # Paid for (succeeded) but cut off by max_tokens: no object, and the reason is kept.
    assert all(r["status"] == "succeeded" and r["parsed"] is None for r in rows)
    assert all(r["finish_reason"] == "length" and r["parse_error"] for r in rows)
    assert f"0 parsed, {len(rows)} unparsed" in out
    assert out.count("UNPARSED") == len(rows)


def test_synthetic_data_writes_one_review_per_seed(tmp_path: Path) -> None:
    sys.path.insert(0, str(EXAMPLES))
    try:
        from synthetic_data import TOPICS, ProductReview
    finally:
        sys.path.remove(str(EXAMPLES))
    out = run_example(tmp_path, "synthetic_data.py", "--count", "25")
    rows = read_jsonl(tmp_path / "out" / "synthetic_reviews.jsonl")
    assert [r["id"] for r in rows] == [f"review-{i:05d}" for i in range(25)]
    assert [r["topic"] for r in rows] == [TOPICS[i % len(TOPICS)] for i in range(25)]
    assert [r["stars"] for r in rows] == [1 + i % 5 for i in range(25)]
    for row in rows:
        ProductReview.model_validate({k: row[k] for k in ProductReview.model_fields})
    assert "25 requests: {'succeeded': 25}" in out


def test_embeddings_line_up_with_ids_metadata_and_parquet(tmp_path: Path) -> None:
    out = run_example(tmp_path, "embeddings_to_vectors.py")
    sample = read_jsonl(DATA / "wiki_sample.jsonl")
    folder = tmp_path / "out" / "vectors"
    matrix = np.load(folder / "vectors.npy")
    assert matrix.shape == (len(sample), 256) and matrix.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, rtol=1e-3)
    ids = json.loads((folder / "ids.json").read_text())
    assert ids == [f"wiki-{row['id']}" for row in sample]
    table = pq.read_table(folder / "vectors.parquet")
    assert table.num_rows == len(sample)
    assert table.column("custom_id").to_pylist() == ids
    titles = [json.loads(m)["title"] for m in table.column("metadata").to_pylist()]
    assert titles == [row["title"] for row in sample]
    assert np.array_equal(np.array(table.column("embedding").to_pylist(), np.float32), matrix)
    assert f"matrix ({len(sample)}, 256) float32; 0 failed" in out


def test_cohere_embed_job_keeps_fields_and_returns_float_and_int8(tmp_path: Path) -> None:
    out = run_example(tmp_path, "cohere_embed_job.py")
    sample = read_jsonl(DATA / "wiki_sample.jsonl")
    without_url = sum("url" not in row for row in sample)
    assert 0 < without_url < len(sample)  # the sample really has an optional field
    floats = np.load(tmp_path / "out" / "cohere" / "float.npy")
    int8s = np.load(tmp_path / "out" / "cohere" / "int8.npy")
    assert floats.shape == int8s.shape == (len(sample), 1024)
    assert floats.dtype == np.float32 and int8s.dtype == np.int8
    # Row i of both matrices is the same paragraph: the int8 vector quantizes the float one.
    for i in (0, len(sample) // 2, len(sample) - 1):
        assert np.corrcoef(floats[i], int8s[i].astype(np.float32))[0, 1] > 0.99
    assert f"{len(sample)} paragraphs: {{'succeeded': {len(sample)}}}" in out
    assert "kept title on every record: True" in out
    assert f"records without the optional url: {without_url} " in out


def test_cost_comparison_prices_every_target_charts_and_runs_the_cheapest(
    tmp_path: Path,
) -> None:
    sys.path.insert(0, str(EXAMPLES))
    try:
        from cost_comparison import TARGETS
    finally:
        sys.path.remove(str(EXAMPLES))
    out = run_example(tmp_path, "cost_comparison.py")
    assert len(TARGETS) >= 6
    table = [line.split() for line in out.splitlines() if line.split()[:1] and
             line.split()[0] in TARGETS]
    assert sorted(row[0] for row in table) == sorted(TARGETS)
    first_batch = next(row[0] for row in table if row[2] != "-")
    assert f"running the job on {first_batch} ..." in out
    assert "20 results {'succeeded': 20}; actual cost $" in out
    png = (tmp_path / "out" / "cost_comparison.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000


def test_convert_openai_batch_moves_the_file_to_anthropic_and_gemini(tmp_path: Path) -> None:
    out = run_example(tmp_path, "convert_openai_batch.py")
    source = read_jsonl(DATA / "openai_batch.jsonl")
    ids = [line["custom_id"] for line in source]
    folder = tmp_path / "out" / "converted"
    anthropic = read_jsonl(folder / "anthropic" / "shard-0000.payload.jsonl")
    assert [line["custom_id"] for line in anthropic] == ids
    assert {line["params"]["model"] for line in anthropic} == {"claude-haiku-4-5"}
    gemini = read_jsonl(folder / "gemini" / "shard-0000.payload.jsonl")
    assert [line["key"] for line in gemini] == ids
    assert all(line["request"]["contents"] for line in gemini)
    for vendor in ("anthropic", "gemini"):
        assert len(list((folder / vendor).glob("*.payload.jsonl"))) == 1
        results = read_jsonl(folder / vendor / "results.jsonl")
        assert [r["custom_id"] for r in results] == ids
        assert all(r["status"] == "succeeded" and r["text"] for r in results)
    assert out.count("every request came back once, in order: True") == 2

