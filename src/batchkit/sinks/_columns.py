"""The Arrow layout the file-backed sinks (LanceDB, Parquet) share.

Metadata is stored as JSON text, not as Arrow struct columns: documents in one corpus rarely
share one metadata schema, and a struct column would fix the first batch's keys and types for
every later one.
"""

from __future__ import annotations

from typing import Any

import orjson

from ._base import ChunkRows, import_engine

__all__ = ["arrow_table", "read_metadata"]


def arrow_table(rows: ChunkRows) -> Any:
    """``rows`` as a ``pyarrow.Table``: id, doc_id, chunk, text, hash, metadata, vector."""
    pa = import_engine("pyarrow", "parquet")
    matrix = rows.matrix()
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), matrix.shape[1])
    return pa.table({
        "id": pa.array(rows.ids, pa.string()),
        "doc_id": pa.array(rows.doc_ids, pa.string()),
        "chunk": pa.array(rows.chunks, pa.int32()),
        "text": pa.array(rows.texts, pa.string()),
        "hash": pa.array(rows.hashes, pa.string()),
        "metadata": pa.array([orjson.dumps(m).decode() for m in rows.metadata], pa.string()),
        "vector": vectors,
    })


def read_metadata(text: str | None) -> dict[str, Any]:
    value = orjson.loads(text) if text else {}
    return value if isinstance(value, dict) else {}
