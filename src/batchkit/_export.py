"""Write results to Parquet (for a warehouse or a vector database) and ``.npy`` (for numpy).

Both writers take any iterable of Results, so ``job.iter_results()`` streams a ten-million-row
job to disk without holding it: Parquet is written one row group at a time, and the ``.npy``
matrix is a memory-mapped file filled row by row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ._exceptions import MissingDependencyError
from ._results import Result, fill_matrix

__all__ = ["write_npy", "write_parquet"]

ROW_GROUP = 10_000


def _row(r: Result) -> dict[str, Any]:
    usage = r.usage
    return {
        "custom_id": r.custom_id,
        "status": r.status,
        "text": r.text,
        "parsed": None if r.parsed is None else r.parsed.model_dump_json(),
        "parse_error": r.parse_error,
        "finish_reason": r.finish_reason,
        "error_code": r.error.code if r.error else None,
        "error_message": r.error.message if r.error else None,
        "input_tokens": usage.input_tokens if usage else None,
        "output_tokens": usage.output_tokens if usage else None,
        "cost_usd": r.cost_usd,
        "attempts": r.attempts,
        "metadata": orjson.dumps(r.metadata).decode(),
        "embedding": None if r.embedding is None else r.embedding.astype(np.float32).tolist(),
    }


def _batches(results: Iterable[Result], size: int) -> Iterator[list[Result]]:
    it = iter(results)
    while chunk := list(islice(it, size)):
        yield chunk


def write_parquet(results: Iterable[Result], path: str | Path) -> int:
    """One row per result (parsed objects and metadata as JSON text, vectors as float32 lists);
    returns how many rows were written. Needs pyarrow (``pip install "batchkit[parquet]"``)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingDependencyError(
            'writing Parquet needs pyarrow: pip install "batchkit[parquet]"'
        ) from None
    schema = pa.schema([
        ("custom_id", pa.string()), ("status", pa.string()), ("text", pa.string()),
        ("parsed", pa.string()), ("parse_error", pa.string()), ("finish_reason", pa.string()),
        ("error_code", pa.string()), ("error_message", pa.string()),
        ("input_tokens", pa.int64()), ("output_tokens", pa.int64()), ("cost_usd", pa.float64()),
        ("attempts", pa.int32()), ("metadata", pa.string()),
        ("embedding", pa.list_(pa.float32())),
    ])
    written = 0
    with pq.ParquetWriter(str(path), schema) as writer:
        for chunk in _batches(results, ROW_GROUP):
            writer.write_table(pa.Table.from_pylist([_row(r) for r in chunk], schema=schema))
            written += len(chunk)
    return written


def write_npy(results: Iterable[Result], path: str | Path, count: int, kind: str = "float") -> int:
    """The ``(count, d)`` matrix of every result's ``kind`` vector, in order, as a ``.npy`` file.

    Refuses (``ValueError`` naming the request) a result without a vector, with a vector of
    another length, or more or fewer results than ``count`` (see ``fill_matrix``).
    """
    matrix, written = fill_matrix(
        results, kind,
        lambda dtype, row: np.lib.format.open_memmap(str(path), mode="w+", dtype=dtype,
                                                     shape=(count, *row)),
    )
    if matrix is None:
        np.save(str(path), np.zeros((0, 0), dtype=np.float32))
    else:
        matrix.flush()  # type: ignore[attr-defined]  # a memmap
    if written != count:
        raise ValueError(f"{written} results for a matrix of {count} rows in {path}")
    return written
