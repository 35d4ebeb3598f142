"""examples/build_search_index.py runs end to end in the sandbox, as a reader would run it."""

from __future__ import annotations

import json
from pathlib import Path

from batchkit.sinks import open_sink
from tests.test_examples import DATA, run_example


def test_build_search_index_updates_incrementally_and_finds_the_paragraph(tmp_path: Path) -> None:
    out = run_example(tmp_path, "build_search_index.py")
    with (DATA / "wiki_sample.jsonl").open(encoding="utf-8") as fh:
        sample = [json.loads(line) for line in fh]
    kept = len(sample) - 2
    assert f"build: {len(sample)} chunks (0 unchanged, {len(sample)} new" in out
    assert "dry run: would embed 3 chunks" in out and "delete 2" in out
    assert f"update: {kept} chunks ({kept - 3} unchanged, 0 new, 3 changed); embedded 3, " \
           "deleted 2" in out
    assert f"re-run: {kept} chunks ({kept} unchanged, 0 new, 0 changed); embedded 0" in out
    nearest = out.split("...:\n", 1)[1].splitlines()[0].split()
    assert nearest[0] == "wiki-42#0" and nearest[-1] == "1.000)"
    sink = open_sink(f"lancedb://{tmp_path}/out/index")
    try:
        ids = set(sink.stored_hashes())
        assert ids == {f"wiki-{row['id']}#0" for row in sample[:-2]} and sink.count() == kept
        assert sink.dimension() == 1536  # embed-v4.0's default length
    finally:
        sink.close()
