"""The plain file sink: a folder of Parquet files any tool can read (``parquet://./vectors``).

Parquet files cannot be edited in place, so the folder is a small log, each file numbered:

* ``part-N.parquet`` — rows upserted (a later number replaces an earlier row with the same id);
* ``del-N.parquet`` — ids deleted at step N;
* ``base-N.parquet`` — a compacted snapshot of everything up to step N.

Every file is written under a temporary name and renamed into place, so a killed process leaves
whole files only. :meth:`close` compacts the log into one ``base`` file, streaming file by file;
readers ignore anything numbered at or below the newest base, so a compaction cut short loses
nothing. Search is exact (a scan of every vector, one record batch at a time).
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._base import ChunkRows, Hit, absolute_url, import_engine, local_path
from ._columns import arrow_table, read_metadata

__all__ = ["ParquetSink"]

_READ_BATCH = 8192


class ParquetSink:
    """Chunks as rows of Parquet files in one folder (see the module docstring)."""

    def __init__(self, url: str, scheme: str, rest: str) -> None:
        self._pa: Any = import_engine("pyarrow", "parquet")
        self._pq: Any = import_engine("pyarrow.parquet", "parquet")
        self.url = absolute_url(scheme, rest)
        self.folder = local_path(rest)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._changed = False

    # -- the log ------------------------------------------------------------------------------

    def _files(self) -> list[tuple[int, str, Path]]:
        """The live files, oldest first: the newest base and every step after it."""
        found = []
        for path in self.folder.glob("*.parquet"):
            kind, _, number = path.stem.partition("-")
            if kind in ("part", "del", "base") and number.isdigit():
                found.append((int(number), kind, path))
        found.sort(key=lambda f: (f[0], f[1] != "base"))
        bases = [f for f in found if f[1] == "base"]
        floor = bases[-1][0] if bases else -1
        return [f for f in found if f[0] > floor or f == bases[-1]] if bases else found

    def _write(self, kind: str, table: Any) -> None:
        files = self._files()
        number = files[-1][0] + 1 if files else 1
        final = self.folder / f"{kind}-{number:08d}.parquet"
        temporary = final.with_suffix(".tmp")
        self._pq.write_table(table, temporary)
        os.replace(temporary, final)
        self._changed = True

    def _latest(self) -> dict[str, tuple[int, str]]:
        """Each live id's newest (step, hash)."""
        latest: dict[str, tuple[int, str]] = {}
        for number, kind, path in self._files():
            if kind == "del":
                for chunk_id in self._pq.read_table(path, columns=["id"]).column(0).to_pylist():
                    latest.pop(chunk_id, None)
                continue
            columns = self._pq.read_table(path, columns=["id", "hash"])
            for chunk_id, content_hash in zip(columns.column(0).to_pylist(),
                                              columns.column(1).to_pylist(), strict=True):
                latest[chunk_id] = (number, content_hash)
        return latest

    def _live_batches(self, columns: list[str] | None = None) -> Iterator[Any]:
        """Record batches of current rows only (superseded and deleted rows filtered out)."""
        latest = self._latest()
        for number, kind, path in self._files():
            if kind == "del":
                continue
            for batch in self._pq.ParquetFile(path).iter_batches(_READ_BATCH, columns=columns):
                ids = batch.column(batch.schema.get_field_index("id")).to_pylist()
                keep = [latest.get(i, (0, ""))[0] == number for i in ids]
                if all(keep):
                    yield batch
                elif any(keep):
                    yield batch.filter(self._pa.array(keep))

    # -- the Sink protocol --------------------------------------------------------------------

    def upsert(self, rows: ChunkRows) -> None:
        if len(rows):
            self._write("part", arrow_table(rows))

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._write("del", self._pa.table({"id": self._pa.array(list(ids), self._pa.string())}))

    def stored_hashes(self) -> dict[str, str]:
        return {chunk_id: content_hash for chunk_id, (_, content_hash) in self._latest().items()}

    def query(self, vector: np.ndarray, k: int) -> list[Hit]:
        target = np.asarray(vector, dtype=np.float32)
        target = target / (np.linalg.norm(target) or 1.0)
        best: list[tuple[float, int, dict[str, Any]]] = []
        seen = 0
        for batch in self._live_batches():
            matrix = batch.column(batch.schema.get_field_index("vector")).flatten()
            matrix = matrix.to_numpy().reshape(batch.num_rows, -1)
            norms = np.linalg.norm(matrix, axis=1)
            scores = matrix @ target / np.where(norms == 0, 1.0, norms)
            for row in np.argsort(-scores)[:k]:
                entry = (float(scores[row]), -seen, batch.slice(int(row), 1).to_pylist()[0])
                seen += 1
                (heapq.heappush if len(best) < k else heapq.heappushpop)(best, entry)
        return [Hit(row["id"], row["doc_id"], row["chunk"], row["text"], score,
                    read_metadata(row["metadata"]))
                for score, _, row in sorted(best, key=lambda e: (-e[0], -e[1]))]

    def count(self) -> int:
        return len(self._latest())

    def dimension(self) -> int | None:
        for _, kind, path in self._files():
            if kind != "del":
                return int(self._pq.read_schema(path).field("vector").type.list_size)
        return None

    def close(self) -> None:
        """Compact the log into one ``base`` file, if anything was written since it was opened."""
        files = self._files()
        if not self._changed or len(files) < 2:
            return
        final = self.folder / f"base-{files[-1][0]:08d}.parquet"
        temporary = final.with_suffix(".tmp")
        schema = next(self._pq.read_schema(p) for _, kind, p in files if kind != "del")
        with self._pq.ParquetWriter(temporary, schema) as writer:
            for batch in self._live_batches():
                writer.write_batch(batch)
        os.replace(temporary, final)
        for _, _, path in files:
            if path != final:
                path.unlink(missing_ok=True)
        self._changed = False
