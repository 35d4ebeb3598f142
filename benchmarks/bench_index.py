"""(f) From a finished embedding job's output to a LanceDB table: batchkit vs a hand-written loop.

    python benchmarks/bench_index.py [--quick]     # 20,000 chunks x 256 dims (--quick: 2,000)

One sandbox job embeds N chunks (OpenAI's emulator, ``text-embedding-3-small`` at 256
dimensions; not timed). Then, from the job's downloaded output files to a queryable LanceDB
table of ``id, text, metadata, vector``:

* batchkit: what ``bk.index`` does after its job ends — ``job.results(lazy=True)`` decodes the
  files one result at a time, rows go to the LanceDB sink 1,000 at a time (one LanceDB commit
  each), so memory holds one batch of vectors;
* baseline: the loop people write — ``json.loads`` each output line, pull the vector out (the
  job's lines carry base64 float32, batchkit's default, decoded with ``np.frombuffer``), join it
  to the corpus by ``custom_id``, build one Arrow table of everything and ``create_table``.

Both run in this process, on the same files, best of two. The rows/s figure is chunks in the
table per second; the check reads both tables back and compares every vector. Peak memory is
measured apart, each way in a fresh child process (``VmHWM``, minus the child's footprint after
its imports): batchkit's stays at one batch of rows whatever N is, the loop's grows with N.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa
from _bench import Row, best_of, peak_rss_mb, print_table, rate

import batchkit as bk
from batchkit.sinks import ChunkRows, open_sink
from batchkit.testing import emulate

PROVIDER = "openai:text-embedding-3-small"
DIMENSIONS = 256
BATCH = 1000


def corpus(n: int) -> list[dict[str, Any]]:
    return [{"id": f"doc-{i}#0", "text": f"passage {i}: notes on topic {i % 97}",
             "title": f"Document {i}"} for i in range(n)]


def batchkit_upsert(job: bk.Job, docs: list[dict[str, Any]], url: str) -> None:
    """bk.index's path from a finished job to the sink (its upserter, spelled out)."""
    sink = open_sink(url)
    rows = ChunkRows()
    for doc, result in zip(docs, job.results(lazy=True), strict=True):
        assert result.embedding is not None
        rows.add(doc["id"], doc["id"].split("#")[0], 0, doc["text"], "h",
                 {"title": doc["title"]}, result.embedding)
        if len(rows) == BATCH:
            sink.upsert(rows)
            rows = ChunkRows()
    sink.upsert(rows)
    sink.close()


def hand_loop(files: list[Path], docs: list[dict[str, Any]], folder: str) -> None:
    by_id = {f"c{i}": doc for i, doc in enumerate(docs)}
    ids, texts, metadata, vectors = [], [], [], []
    for path in files:
        with open(path) as fh:
            for line in fh:
                obj = json.loads(line)
                doc = by_id[obj["custom_id"]]
                encoded = obj["response"]["body"]["data"][0]["embedding"]
                vectors.append(np.frombuffer(base64.b64decode(encoded), dtype="<f4"))
                ids.append(doc["id"])
                texts.append(doc["text"])
                metadata.append(json.dumps({"title": doc["title"]}))
    matrix = np.stack(vectors)
    table = pa.table({"id": ids, "text": texts, "metadata": metadata,
                      "vector": pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)),
                                                                  matrix.shape[1])})
    lancedb.connect(folder).create_table("chunks", data=table)


def read_back(folder: str) -> dict[str, np.ndarray]:
    table = lancedb.connect(folder).open_table("chunks").to_arrow()
    vectors = table.column("vector").combine_chunks().flatten().to_numpy()
    return dict(zip(table.column("id").to_pylist(),
                    vectors.reshape(table.num_rows, -1), strict=True))


def result_files(job: bk.Job) -> list[Path]:
    return [Path(p) for s in job.shards for p in (s.result_paths or [])]


def child_peak_mb(way: str, job_id: str, n: int, folder: str) -> float:
    """Peak RSS growth of one way, run alone in a fresh process (see the module docstring)."""
    out = subprocess.run([sys.executable, __file__, "--child", way, job_id, str(n), folder],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def child(way: str, job_id: str, n: int, folder: str) -> None:
    job, docs = bk.get_job(job_id), corpus(n)
    # The engine's and the decoder's own footprints (imports, first allocations) are not the data's.
    open_sink(f"lancedb://{folder}/warm").close()
    next(iter(job.results(lazy=True)))
    before = peak_rss_mb()
    if way == "batchkit":
        batchkit_upsert(job, docs, f"lancedb://{folder}/{way}")
    else:
        hand_loop(result_files(job), docs, f"{folder}/{way}")
    print(f"{peak_rss_mb() - before:.1f}")


def run(n: int, repeat: int = 2) -> list[Row]:
    docs = corpus(n)
    with tempfile.TemporaryDirectory() as tmp, emulate(providers=["openai"]):
        job = bk.submit([bk.EmbedRequest(custom_id=f"c{i}", text=d["text"],
                                         input_type="search_document", dimensions=DIMENSIONS)
                         for i, d in enumerate(docs)], PROVIDER)
        job.wait()
        job.results(lazy=True).counts()  # download the files once, outside the timing
        files = result_files(job)

        def fresh(name: str) -> str:
            shutil.rmtree(Path(tmp) / name, ignore_errors=True)
            return str(Path(tmp) / name)

        ours = best_of(repeat, lambda: batchkit_upsert(job, docs, f"lancedb://{fresh('bk')}"))
        base = best_of(repeat, lambda: hand_loop(files, docs, fresh("loop")))
        mine, theirs = read_back(str(Path(tmp) / "bk")), read_back(str(Path(tmp) / "loop"))
        same = mine.keys() == theirs.keys() and all(
            np.array_equal(mine[k], theirs[k]) for k in mine)
        peak_ours = child_peak_mb("batchkit", job.id, n, fresh("child"))
        peak_base = child_peak_mb("loop", job.id, n, fresh("child"))
    check = "" if same else " (TABLES DIFFER)"
    return [
        Row("f index", f"job output -> LanceDB, {n:,}x{DIMENSIONS}, batches of {BATCH:,}"
            + check, rate(n, ours), f"hand loop {rate(n, base)}", f"{base / ours:.2f}x"),
        Row("f index", "peak memory growth of the same", f"{peak_ours:,.0f} MB",
            f"hand loop {peak_base:,.0f} MB", f"{peak_base / max(peak_ours, 1):.1f}x less"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 chunks instead of 20,000")
    parser.add_argument("--child", nargs=4, metavar=("WAY", "JOB", "N", "FOLDER"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        way, job_id, n, folder = args.child
        child(way, job_id, int(n), folder)
        return
    print_table(run(2_000 if args.quick else 20_000))


if __name__ == "__main__":
    main()
