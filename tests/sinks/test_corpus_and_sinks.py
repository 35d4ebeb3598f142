"""The pieces around the sinks: reading corpora, the default chunker, bad input, sink URLs."""

from __future__ import annotations

import itertools
import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import batchkit as bk
from batchkit._corpus import chunk_text, iter_chunks, read_documents
from batchkit.sinks import ChunkRows, open_sink

from .conftest import DIMENSIONS, PROVIDER, Emulator


def words(n: int, start: int = 0) -> str:
    return " ".join(f"w{i}" for i in range(start, start + n))


def test_default_chunker_cuts_overlapping_windows_at_whitespace() -> None:
    text = words(3000)
    pieces = chunk_text(text, chunk_tokens=100, overlap_tokens=20)
    assert len(pieces) > 1 and all(len(p) <= 400 for p in pieces)
    for before, after in itertools.pairwise(pieces):
        assert after.split()[0] in before.split()  # each window starts inside the previous one
        assert not before.endswith(" ") and after.split()[0].startswith("w")  # whole words
    covered = {w for p in pieces for w in p.split()}
    assert covered == set(text.split())
    assert chunk_text(text, 100, 20) == pieces  # deterministic: what makes re-runs incremental
    assert chunk_text("  short  ") == ["short"] and chunk_text("   ") == []
    with pytest.raises(ValueError, match="overlap_tokens"):
        chunk_text(text, 10, 10)


def test_documents_from_a_folder_csv_parquet_and_jsonl(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.md").write_text("# A\nalpha")
    (folder / "sub" / "b.txt").write_text("beta")
    (folder / "skip.csv").write_text("not,a,document")
    assert list(read_documents(folder)) == [
        {"id": "a.md", "text": "# A\nalpha", "path": "a.md"},
        {"id": "sub/b.txt", "text": "beta", "path": "sub/b.txt"},
    ]
    (tmp_path / "docs.csv").write_text("id,text,lang\n1,hello,en\n2,hallo,de\n")
    assert [d["lang"] for d in read_documents(tmp_path / "docs.csv")] == ["en", "de"]
    pq.write_table(pa.table({"id": [1, 2], "text": ["x", "y"], "n": [3.5, None]}),
                   tmp_path / "docs.parquet")
    assert list(read_documents(tmp_path / "docs.parquet"))[1] == {"id": 2, "text": "y", "n": None}
    (tmp_path / "docs.jsonl").write_text('{"id": "j", "text": "t"}\n\n[1]\n')
    with pytest.raises(bk.InvalidRequestError, match="line 3: a document must be a JSON object"):
        list(read_documents(tmp_path / "docs.jsonl"))


@pytest.mark.parametrize(("docs", "message"), [
    ([{"text": "no id"}], "line 1: document has no 'id' field"),
    ([{"id": "a", "text": "x"}, {"id": "a", "text": "y"}], "line 2: document id 'a' appears twice"),
    ([{"id": "a", "body": "x"}], "document 'a' has no 'text' text"),
    ([{"id": "a", "chunks": "x"}], "'chunks' must be a list of strings"),
])
def test_bad_documents_are_refused_before_anything_is_sent_or_written(
    docs: list[dict[str, object]], message: str, tmp_path: Path, emulator: Emulator,
) -> None:
    good = [{"id": f"ok{i}", "text": f"fine {i}"} for i in range(5)]
    with pytest.raises(bk.InvalidRequestError, match=message):
        bk.index(docs + good, f"parquet://{tmp_path}/i", PROVIDER, dimensions=DIMENSIONS)
    assert emulator.counter.take() == [] and bk.list_jobs() == []
    assert list((tmp_path / "i").glob("*.parquet")) == []


def test_chunk_metadata_is_the_documents_other_fields() -> None:
    chunks = list(iter_chunks([{"id": 7, "chunks": ["a", " ", "b"], "lang": "en"}], chunk_text))
    assert [(c.id, c.doc_id, c.number, c.text, c.metadata) for c in chunks] == [
        ("7#0", "7", 0, "a", {"lang": "en"}), ("7#1", "7", 1, "b", {"lang": "en"})]


def test_editing_the_end_of_a_long_file_re_embeds_only_its_last_chunks(
    tmp_path: Path, emulator: Emulator,
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "long.md").write_text(words(4000))
    (folder / "other.txt").write_text("a short note")
    url = f"lancedb://{tmp_path}/idx"
    first = bk.index(folder, url, PROVIDER, dimensions=DIMENSIONS, chunk_tokens=200,
                     overlap_tokens=20)
    assert first.chunks == len(emulator.counter.take()) > 10
    (folder / "long.md").write_text(words(4000) + " and one more sentence at the end")
    second = bk.index(folder, url, PROVIDER, dimensions=DIMENSIONS, chunk_tokens=200,
                      overlap_tokens=20)
    assert second.unchanged >= first.chunks - 2 and 1 <= second.to_embed <= 2
    assert len(emulator.counter.take()) == second.to_embed


def test_search_refuses_a_query_vector_of_another_length(tmp_path: Path,
                                                        emulator: Emulator) -> None:
    url = f"chroma://{tmp_path}/idx"
    bk.index([{"id": "a", "text": "alpha"}], url, PROVIDER, dimensions=DIMENSIONS)
    with pytest.raises(bk.ConfigError, match=f"holds {DIMENSIONS}: search with the provider"):
        bk.search(url, "alpha", PROVIDER, dimensions=8)
    assert emulator.counter.take() == ["alpha", "alpha"]  # the document, then the query
    with pytest.raises(bk.ConfigError, match=r"holds no vectors yet: build it with bk\.index"):
        bk.search(f"chroma://{tmp_path}/empty", "alpha", PROVIDER)
    assert emulator.counter.take() == []  # refused before the query was embedded


def test_unknown_scheme_and_missing_engine_name_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(bk.ConfigError, match=r"unknown sink scheme 'pinecone'.*lancedb"):
        open_sink("pinecone://x")
    with pytest.raises(bk.ConfigError, match=r"cannot reach the Qdrant sink at qdrant\+http"):
        open_sink("qdrant+http://127.0.0.1:9?collection=docs")  # the discard port: refused
    monkeypatch.setitem(sys.modules, "lancedb", None)
    with pytest.raises(bk.MissingDependencyError, match=r"pip install 'batchkit\[lancedb\]'"):
        open_sink("lancedb://./idx")


def rows(ids: list[str], tag: str) -> ChunkRows:
    batch = ChunkRows()
    for i in ids:
        batch.add(i, i.split("#")[0], 0, f"{i} {tag}", tag, {"tag": tag},
                  np.full(4, float(len(batch) + 1), np.float32))
    return batch


def test_parquet_log_keeps_the_newest_row_and_survives_a_cut_compaction(tmp_path: Path) -> None:
    sink = open_sink(f"parquet://{tmp_path}/p")
    sink.upsert(rows(["a#0", "b#0", "c#0"], "v1"))
    sink.upsert(rows(["b#0"], "v2"))
    sink.delete(["c#0"])
    assert sink.stored_hashes() == {"a#0": "v1", "b#0": "v2"} and sink.count() == 2
    old_parts = {p.name: p.read_bytes() for p in (tmp_path / "p").glob("*.parquet")}
    sink.close()
    assert [p.name for p in (tmp_path / "p").glob("*.parquet")] == ["base-00000003.parquet"]
    # A compaction killed before it removed the old files: they are ignored, not replayed.
    for name, data in old_parts.items():
        (tmp_path / "p" / name).write_bytes(data)
    reopened = open_sink(f"parquet://{tmp_path}/p")
    assert reopened.stored_hashes() == {"a#0": "v1", "b#0": "v2"}
    assert [h.id for h in reopened.query(np.ones(4, np.float32), 5)] == ["a#0", "b#0"]
    assert reopened.dimension() == 4
    shutil.rmtree(tmp_path / "p")


def test_a_second_run_on_the_same_sink_is_refused_while_one_is_writing(
    tmp_path: Path, emulator: Emulator,
) -> None:
    from batchkit._index_state import IndexState

    url = f"parquet://{tmp_path}/idx"
    sink = open_sink(url)
    with IndexState(sink.url).lock(sink.url), pytest.raises(
            bk.ConfigError, match=r"another bk\.index run is writing to parquet://"):
        bk.index([{"id": "a", "text": "alpha"}], url, PROVIDER, dimensions=DIMENSIONS)
    assert emulator.counter.take() == []
    assert bk.index([{"id": "a", "text": "alpha"}], url, PROVIDER,
                    dimensions=DIMENSIONS).upserted == 1  # the lock is released after a run


def test_the_query_goes_through_real_time_where_the_vendor_has_it(
    tmp_path: Path, emulator: Emulator,
) -> None:
    url = f"lancedb://{tmp_path}/idx"
    bk.index([{"id": "a", "text": "alpha"}, {"id": "b", "text": "beta"}], url, PROVIDER,
             dimensions=DIMENSIONS)
    emulator.counter.take()
    batches = emulator.app.creates
    [hit] = bk.search(url, "beta", PROVIDER, k=1, dimensions=DIMENSIONS)
    assert hit.id == "b#0" and emulator.app.creates == batches  # no batch for the query
    assert emulator.counter.take() == ["beta"]
    bk.search(url, "beta", PROVIDER, k=1, dimensions=DIMENSIONS, mode="batch")
    assert emulator.app.creates == batches + 1 and emulator.counter.take() == ["beta"]


def test_a_small_update_in_auto_mode_goes_through_real_time_into_the_same_sink(
    tmp_path: Path, emulator: Emulator,
) -> None:
    url = f"qdrant://{tmp_path}/idx"
    docs = [{"id": f"d{i}", "text": f"note number {i}"} for i in range(150)]
    assert bk.index(docs, url, PROVIDER, dimensions=DIMENSIONS, mode="auto").to_embed == 150
    assert emulator.app.creates == 1  # 150 > realtime_below (100): a batch
    emulator.counter.take()
    for doc in docs[:5]:
        doc["text"] += " (edited)"
    report = bk.index(docs, url, PROVIDER, dimensions=DIMENSIONS, mode="auto")
    assert (report.to_embed, report.upserted) == (5, 5) and emulator.app.creates == 1
    assert sorted(emulator.counter.take()) == sorted(d["text"] for d in docs[:5])
    sink = open_sink(url)
    try:
        assert sink.count() == len(sink.stored_hashes()) == 150
    finally:
        sink.close()
