"""Results as Arrow record batches: the one columnar form behind Parquet, Polars and DuckDB.

Why Arrow: DuckDB, Polars and Spark read Arrow and Parquet without a copy or a parser of ours,
so a job's results go to a warehouse or a dataframe in one call. Results are turned into record
batches of ``BATCH_ROWS`` at a time, so a streamed (lazy) result set of ten million rows becomes
a stream of batches and never one list of dicts.

Embeddings are a fixed-size list of float32 (``FLOAT[768]`` in DuckDB, ``Array(Float32, 768)``
in Polars), the type vector indexes and array functions expect. The width is the first vector's
in the first batch; a job whose first batch has no vector at all (every request in it failed, or
a chat job) gets a variable-length list, since no width is known yet. A later vector of another
width is refused (``ValueError`` naming the request), as a matrix with mixed widths would be.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from ._batched import batched
from ._exceptions import MissingDependencyError

if TYPE_CHECKING:
    import pyarrow as pa

    from ._results import Result

__all__ = ["BATCH_ROWS", "import_pyarrow", "record_batches", "result_schema"]

BATCH_ROWS = 10_000
"""Rows per record batch (and per Parquet row group)."""

_SCALAR_COLUMNS = (
    ("custom_id", "string"), ("status", "string"), ("text", "string"), ("parsed", "string"),
    ("parse_error", "string"), ("finish_reason", "string"), ("error_code", "string"),
    ("error_message", "string"), ("input_tokens", "int64"), ("output_tokens", "int64"),
    ("cost_usd", "float64"), ("attempts", "int32"), ("metadata", "string"),
    ("tool_calls", "string"), ("reasoning", "string"), ("refusal", "string"),
    ("vendor_finish_reason", "string"), ("reasoning_tokens", "int64"), ("moderation", "string"),
)


def import_pyarrow() -> Any:
    """pyarrow, or batchkit's one-line hint to install it."""
    try:
        import pyarrow
    except ImportError:
        raise MissingDependencyError(
            'Arrow and Parquet output need pyarrow: pip install "batchkit[parquet]"') from None
    return pyarrow


def result_schema(embedding_width: int | None) -> pa.Schema:
    """The columns of every Arrow output: one row per result; parsed objects, metadata and tool
    calls as JSON text (``json_extract`` in DuckDB, ``str.json_decode`` in Polars reach their
    fields)."""
    arrow = import_pyarrow()
    vector = arrow.float32()
    embedding = (arrow.list_(vector) if embedding_width is None
                 else arrow.list_(vector, embedding_width))
    schema: pa.Schema = arrow.schema(
        [*((name, getattr(arrow, kind)()) for name, kind in _SCALAR_COLUMNS),
         ("embedding", embedding), ("embeddings", arrow.list_(embedding))])
    return schema


def record_batches(results: Iterable[Result], batch_rows: int = BATCH_ROWS
                   ) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The schema and a stream of record batches of ``results``, in order.

    The first batch is read before returning (its first vector fixes the embedding width);
    the rest are made as the stream is consumed.
    """
    arrow = import_pyarrow()
    chunks = batched(results, batch_rows)
    first = next(chunks, [])
    width = next((r.embedding.shape[-1] for r in first if r.embedding is not None), None)
    schema = result_schema(width)

    def stream() -> Iterator[pa.RecordBatch]:
        if not first:
            return
        for chunk in _prepend(first, chunks):
            columns = [arrow.array(values, type=schema.field(name).type)
                       for name, values in _scalar_columns(chunk).items()]
            columns.append(_embedding_column(arrow, chunk, width))
            columns.append(_texts_column(arrow, chunk, schema.field("embeddings").type))
            yield arrow.RecordBatch.from_arrays(columns, schema=schema)

    return schema, stream()


def _prepend(first: list[Result], rest: Iterator[list[Result]]) -> Iterator[list[Result]]:
    yield first
    yield from rest


def _scalar_columns(chunk: list[Result]) -> dict[str, list[Any]]:
    """Every column but the vectors, one list per column (in ``_SCALAR_COLUMNS`` order)."""
    usage = [r.usage for r in chunk]
    errors = [r.error for r in chunk]
    return {
        "custom_id": [r.custom_id for r in chunk],
        "status": [r.status for r in chunk],
        "text": [r.text for r in chunk],
        "parsed": [None if r.parsed is None else r.parsed.model_dump_json() for r in chunk],
        "parse_error": [r.parse_error for r in chunk],
        "finish_reason": [r.finish_reason for r in chunk],
        "error_code": [e.code if e else None for e in errors],
        "error_message": [e.message if e else None for e in errors],
        "input_tokens": [u.input_tokens if u else None for u in usage],
        "output_tokens": [u.output_tokens if u else None for u in usage],
        "cost_usd": [r.cost_usd for r in chunk],
        "attempts": [r.attempts for r in chunk],
        "metadata": [orjson.dumps(r.metadata).decode() for r in chunk],
        "tool_calls": [orjson.dumps([c.to_dict() for c in r.tool_calls]).decode()
                       if r.tool_calls else None for r in chunk],
        "reasoning": [r.reasoning for r in chunk],
        "refusal": [r.refusal for r in chunk],
        "vendor_finish_reason": [r.vendor_finish_reason for r in chunk],
        "reasoning_tokens": [u.reasoning_tokens if u else None for u in usage],
        "moderation": [None if r.moderation is None else
                       orjson.dumps([m.to_dict() for m in r.moderation]).decode()
                       for r in chunk],
    }


def _embedding_column(arrow: Any, chunk: list[Result], width: int | None) -> Any:
    """The vectors as one float32 block: copied row by row into a numpy matrix and handed to
    Arrow without a Python float per element (a ``tolist`` of 1,536 floats per row is most of
    the time otherwise). Rows without a vector, or with several (``embeddings``), are nulls."""
    if width is None:
        return arrow.array([None if r.embedding is None or r.embedding.ndim != 1
                            else r.embedding.astype(np.float32)
                            for r in chunk], type=arrow.list_(arrow.float32()))
    matrix = np.zeros((len(chunk), width), dtype=np.float32)
    missing = np.ones(len(chunk), dtype=bool)
    for i, r in enumerate(chunk):
        vector = r.embedding
        if vector is None or vector.ndim != 1:
            continue
        if len(vector) != width:
            raise ValueError(f"custom_id {r.custom_id!r} has an embedding of {len(vector)} "
                             f"dimensions, but the first one has {width}")
        matrix[i] = vector
        missing[i] = False
    return arrow.FixedSizeListArray.from_arrays(
        arrow.array(matrix.reshape(-1)), width,
        mask=arrow.array(missing) if missing.any() else None)


def _texts_column(arrow: Any, chunk: list[Result], kind: Any) -> Any:
    """The ``embeddings`` column: a request of several texts' vectors, one per text in order
    (null for other rows, whose one vector is in ``embedding``)."""
    return arrow.array([list(r.embedding.astype(np.float32))
                        if r.embedding is not None and r.embedding.ndim == 2 else None
                        for r in chunk], type=kind)
