"""5,000 chunks through every sink against the emulator: build, query, update, kill, re-run.

Each sink is the real engine (LanceDB, Qdrant local mode, Chroma's persistent client, Parquet
files). Embedding requests are counted inside the emulator (see conftest), so "only the 50
edited chunks were embedded" and "nothing was embedded twice" are measured where they are billed.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

import batchkit as bk
from batchkit.sinks import ChunkRows, Hit, Sink, open_sink
from tests._subprocess import keyless_env

from .conftest import (
    CHUNKS_PER_DOC,
    DIMENSIONS,
    DOCS,
    PLANTED,
    PROVIDER,
    QUERY,
    SINK_SCHEMES,
    Emulator,
    expected_metadata,
    make_corpus,
)

TOTAL = DOCS * CHUNKS_PER_DOC
EDITED_DOCS = range(100, 150)  # chunk 1 of each is edited: 50 chunks
REMOVED_DOCS = range(900, 910)  # 10 documents, 50 chunks


class RecordingSink:
    """Passes every call to a real sink and remembers which ids were written and deleted."""

    def __init__(self, inner: Sink) -> None:
        self.inner, self.url = inner, inner.url
        self.upserted: list[str] = []
        self.deleted: list[str] = []

    def upsert(self, rows: ChunkRows) -> None:
        self.upserted += rows.ids
        self.inner.upsert(rows)

    def delete(self, ids: Sequence[str]) -> None:
        self.deleted += ids
        self.inner.delete(ids)

    def stored_hashes(self) -> dict[str, str]:
        return self.inner.stored_hashes()

    def query(self, vector: np.ndarray, k: int) -> list[Hit]:
        return self.inner.query(vector, k)

    def count(self) -> int:
        return self.inner.count()

    def dimension(self) -> int | None:
        return self.inner.dimension()

    def close(self) -> None:
        self.inner.close()


def sink_url(scheme: str, tmp_path: Path) -> str:
    return f"{scheme}://{tmp_path / 'idx'}"


def check_nearest(url: str, corpus: list[dict[str, Any]], emulator: Emulator) -> None:
    """The planted chunk answers the query; sampled chunks come back with their metadata."""
    hits = bk.search(url, QUERY, PROVIDER, k=3, dimensions=DIMENSIONS)
    doc_id, number = PLANTED
    assert hits[0].id == f"{doc_id}#{number}" and hits[0].text == QUERY
    assert hits[0].score > 0.999 > hits[1].score
    by_id = {d["id"]: d for d in corpus}
    assert hits[0].metadata == expected_metadata(by_id[doc_id])
    sample = random.Random(7).sample([(d, c) for d in by_id for c in range(CHUNKS_PER_DOC)], 12)
    sample = [(d, c) for d, c in sample if c < len(by_id[d]["chunks"])]
    vectors = bk.run([bk.EmbedRequest(custom_id=f"q{i}", text=by_id[d]["chunks"][c],
                                      dimensions=DIMENSIONS) for i, (d, c) in enumerate(sample)],
                     PROVIDER).embeddings()
    sink = open_sink(url)
    try:
        for (d, c), vector in zip(sample, vectors, strict=True):
            top = sink.query(vector, 1)[0]
            assert (top.id, top.doc_id, top.chunk) == (f"{d}#{c}", d, c)
            assert top.text == by_id[d]["chunks"][c]
            assert top.metadata == expected_metadata(by_id[d])
    finally:
        sink.close()
    emulator.counter.take()  # the query embeddings are not the index's


@pytest.mark.parametrize("scheme", SINK_SCHEMES)
def test_build_query_update_and_rerun(scheme: str, tmp_path: Path, emulator: Emulator) -> None:
    url = sink_url(scheme, tmp_path)
    corpus = make_corpus()
    report = bk.index(corpus, url, PROVIDER, dimensions=DIMENSIONS)
    assert (report.chunks, report.new, report.to_embed, report.upserted) == (TOTAL,) * 4
    assert len(emulator.counter.take()) == TOTAL
    sink = open_sink(url)
    assert (sink.count(), sink.dimension()) == (TOTAL, DIMENSIONS)
    first = sink.stored_hashes()
    sink.close()
    assert sorted(first) == sorted(f"{d['id']}#{c}" for d in corpus for c in range(5))
    check_nearest(url, corpus, emulator)

    # Edit chunk 1 of 50 documents, remove 10 documents.
    for d in EDITED_DOCS:
        corpus[d]["chunks"][1] += " (revised)"
    edited = {f"doc-{d:04d}#1" for d in EDITED_DOCS}
    removed = {f"doc-{d:04d}#{c}" for d in REMOVED_DOCS for c in range(CHUNKS_PER_DOC)}
    corpus = [doc for i, doc in enumerate(corpus) if i not in REMOVED_DOCS]

    plan = bk.index(corpus, url, PROVIDER, dimensions=DIMENSIONS, dry_run=True)
    assert (plan.to_embed, plan.changed, plan.new, plan.deleted) == (50, 50, 0, 50)
    assert plan.estimate is not None and plan.estimate.requests == 50
    assert emulator.counter.take() == []  # a dry run buys nothing

    recording = RecordingSink(open_sink(url))
    try:
        report = bk.index(corpus, recording, PROVIDER, dimensions=DIMENSIONS)
        embedded = emulator.counter.take()
        assert len(embedded) == 50 and all(t.endswith("(revised)") for t in embedded)
        assert set(recording.upserted) == edited and len(recording.upserted) == 50
        assert set(recording.deleted) == removed
        second = recording.stored_hashes()
        assert recording.count() == TOTAL - 50
    finally:
        recording.close()
    assert set(second) == set(first) - removed
    assert {i for i in second if second[i] != first[i]} == edited  # the rest untouched
    check_nearest(url, corpus, emulator)

    again = bk.index(corpus, url, PROVIDER, dimensions=DIMENSIONS, dry_run=True)
    assert (again.to_embed, again.deleted, again.unchanged, again.estimate) == (
        0, 0, TOTAL - 50, None)
    assert bk.index(corpus, url, PROVIDER, dimensions=DIMENSIONS).to_embed == 0
    assert emulator.counter.take() == []


CHILD = """
import sys, time
from pathlib import Path
import batchkit as bk
from batchkit.sinks import open_sink

url, corpus, marker = sys.argv[1], sys.argv[2], Path(sys.argv[3])
sink = open_sink(url)
real_upsert = sink.upsert
calls = 0

def upsert(rows):
    global calls
    calls += 1
    if calls == 3:  # two batches are in: the parent's SIGKILL lands during this third one
        marker.write_text("third upsert started")
        real_upsert(rows)
        time.sleep(120)  # or just after it, but never after the index is complete
    real_upsert(rows)

sink.upsert = upsert
bk.index(corpus, sink, sys.argv[4], dimensions=int(sys.argv[5]), batch_size=500)
marker.write_text("finished")
"""


KILLED_DOCS = 400
"""2,000 chunks: four upsert batches of 500, killed after the second (Qdrant's local mode
commits every point on its own, so a full 5,000 twice over would dominate the suite's time)."""


@pytest.mark.parametrize("scheme", SINK_SCHEMES)
def test_killed_during_upsert_then_rerun(scheme: str, tmp_path: Path, emulator: Emulator,
                                        ) -> None:
    url = sink_url(scheme, tmp_path)
    corpus_file = tmp_path / "corpus.jsonl"
    corpus_file.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in make_corpus(KILLED_DOCS)))
    total = KILLED_DOCS * CHUNKS_PER_DOC
    marker = tmp_path / "marker"
    env = keyless_env(Path(os.environ["BATCHKIT_HOME"]), BATCHKIT_SANDBOX=emulator.url)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, str(corpus_file), str(marker), PROVIDER,
         str(DIMENSIONS)], env=env, cwd=tmp_path, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert marker.exists(), child.stderr.read().decode() if child.stderr else ""
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert marker.read_text() == "third upsert started"  # killed before the index was complete
    assert len(emulator.counter.take()) == total

    partial = open_sink(url)
    stored_before = len(partial.stored_hashes())
    partial.close()
    assert 1000 <= stored_before < total

    report = bk.index(corpus_file, url, PROVIDER, dimensions=DIMENSIONS)
    assert emulator.counter.take() == []  # nothing embedded twice: the job's results are reused
    assert report.to_embed == 0 and report.recovered == total - stored_before
    sink = open_sink(url)
    try:
        hashes = sink.stored_hashes()
        assert sink.count() == len(hashes) == total  # complete, one row per id
    finally:
        sink.close()
    assert bk.index(corpus_file, url, PROVIDER, dimensions=DIMENSIONS, dry_run=True).to_embed == 0


KILLED_IN_SUBMIT = """
import os, sys
import batchkit as bk
import batchkit._index as index_module

real_submit = index_module.submit

def submit_then_die(*args, **kwargs):
    real_submit(*args, **kwargs)  # journaled and sent; the job id never reaches job.json
    os._exit(9)

index_module.submit = submit_then_die
bk.index(sys.argv[1], sys.argv[2], sys.argv[3], dimensions=int(sys.argv[4]))
"""


def test_killed_inside_submit_then_rerun_finds_the_journaled_job(
    tmp_path: Path, emulator: Emulator,
) -> None:
    url = sink_url("parquet", tmp_path)
    corpus_file = tmp_path / "corpus.jsonl"
    corpus_file.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in make_corpus(40)))
    env = keyless_env(Path(os.environ["BATCHKIT_HOME"]), BATCHKIT_SANDBOX=emulator.url)
    child = subprocess.run(
        [sys.executable, "-c", KILLED_IN_SUBMIT, str(corpus_file), url, PROVIDER,
         str(DIMENSIONS)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert child.returncode == 9, child.stderr
    sent_before = len(emulator.counter.take())  # the emulator runs a batch as it is polled
    assert [j.request_count for j in bk.list_jobs()] == [200]

    report = bk.index(corpus_file, url, PROVIDER, dimensions=DIMENSIONS)
    assert report.to_embed == 0 and report.recovered == 200
    assert sent_before + len(emulator.counter.take()) == 200  # every chunk embedded once
    assert len(bk.list_jobs()) == 1  # the journaled job was resumed, no second one
    sink = open_sink(url)
    try:
        assert sink.count() == len(sink.stored_hashes()) == 200
    finally:
        sink.close()
