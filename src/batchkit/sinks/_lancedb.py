"""LanceDB, the default sink: an embedded columnar store in a local folder, nothing to run.

``lancedb://./index`` (table ``chunks``; ``?table=NAME`` for another). Each upsert is one
``merge_insert`` on ``id``, which LanceDB commits as one new table version: a process killed
mid-upsert leaves the previous version intact, and writing a batch again replaces its rows
instead of adding copies. Docs: https://lancedb.github.io/lancedb/guides/tables/
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._batched import batched
from ._base import ChunkRows, Hit, absolute_url, import_engine, local_path, query_options
from ._columns import arrow_table, read_metadata

__all__ = ["LanceDBSink"]

_DELETE_BATCH = 500
"""Ids per ``DELETE ... IN (...)`` predicate: keeps the SQL text bounded."""


def _quoted(chunk_id: str) -> str:
    return "'" + chunk_id.replace("'", "''") + "'"


class LanceDBSink:
    """Rows in one LanceDB table; metadata is kept as JSON text beside the vector."""

    def __init__(self, url: str, scheme: str, rest: str) -> None:
        lancedb = import_engine("lancedb", "lancedb")
        self.url = absolute_url(scheme, rest)
        self.table_name = query_options(rest).get("table", "chunks")
        self._db = lancedb.connect(str(local_path(rest)))
        self._table: Any = None
        if self.table_name in self._db.list_tables().tables:
            self._table = self._db.open_table(self.table_name)

    def upsert(self, rows: ChunkRows) -> None:
        if not len(rows):
            return
        data = arrow_table(rows)
        if self._table is None:
            self._table = self._db.create_table(self.table_name, data=data)
            return
        (self._table.merge_insert("id").when_matched_update_all()
         .when_not_matched_insert_all().execute(data))

    def delete(self, ids: Sequence[str]) -> None:
        if self._table is None:
            return
        for batch in batched(ids, _DELETE_BATCH):
            self._table.delete(f"id IN ({', '.join(map(_quoted, batch))})")

    def stored_hashes(self) -> dict[str, str]:
        if self._table is None:
            return {}
        hashes: dict[str, str] = {}
        query = self._table.search().select(["id", "hash"]).limit(None)
        for batch in query.to_batches():
            hashes.update(zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(),
                              strict=True))
        return hashes

    def query(self, vector: np.ndarray, k: int) -> list[Hit]:
        if self._table is None:
            return []
        found = (self._table.search(np.asarray(vector, dtype=np.float32))
                 .distance_type("cosine").limit(k)
                 .select(["id", "doc_id", "chunk", "text", "metadata", "_distance"]).to_arrow())
        return [
            Hit(row["id"], row["doc_id"], row["chunk"], row["text"], 1.0 - row["_distance"],
                read_metadata(row["metadata"]))
            for row in found.to_pylist()
        ]

    def count(self) -> int:
        return 0 if self._table is None else int(self._table.count_rows())

    def dimension(self) -> int | None:
        if self._table is None:
            return None
        return int(self._table.schema.field("vector").type.list_size)

    def close(self) -> None:
        self._table = None
