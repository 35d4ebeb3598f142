"""Write results out: JSONL, Parquet (one file or a partitioned dataset), ``.npy``, Arrow, Polars.

Every writer takes any iterable of Results, so ``job.iter_results()`` or a lazy ResultSet
streams a ten-million-row job out without holding it: JSONL line by line, Parquet one row group
(record batch) at a time, the ``.npy`` matrix a memory-mapped file filled row by row. Every
``path`` may be a local path or an fsspec URL (``s3://``, ``gs://``, ``az://``...; see
``_storage``), written as a stream.

This module knows Results only by their attributes (the type is imported for annotations), so
``_results`` can import the writers at the top and no import circle is left between the two.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import numpy as np
import orjson

from ._arrow import BATCH_ROWS, import_pyarrow, record_batches
from ._exceptions import MissingDependencyError
from ._storage import Target, filesystem, is_url, open_target

if TYPE_CHECKING:
    import pyarrow as pa

    from ._results import Result

__all__ = ["empty_matrix", "fill_matrix", "grown", "to_arrow_reader", "to_polars", "write_jsonl",
           "write_npy", "write_parquet", "write_parquet_dataset"]

ROW_GROUP = BATCH_ROWS
StorageOptions = dict[str, Any] | None
_MAP_POPULATE = getattr(mmap, "MAP_POPULATE", 0)  # Linux only


def to_arrow_reader(results: Iterable[Result], batch_rows: int = BATCH_ROWS
                    ) -> pa.RecordBatchReader:
    """A ``pyarrow.RecordBatchReader`` over ``results``: DuckDB and Polars scan it as it is
    read, one batch of ``batch_rows`` results at a time."""
    arrow = import_pyarrow()
    schema, batches = record_batches(results, batch_rows)
    reader: pa.RecordBatchReader = arrow.RecordBatchReader.from_batches(schema, batches)
    return reader


def to_polars(results: Iterable[Result]) -> Any:
    """A ``polars.DataFrame`` of ``results`` (built from Arrow; needs polars)."""
    try:
        import polars as pl
    except ImportError:
        raise MissingDependencyError('to_polars needs polars: pip install polars') from None
    return pl.from_arrow(to_arrow_reader(results).read_all())


def write_parquet(results: Iterable[Result], path: Target,
                  storage_options: StorageOptions = None) -> int:
    """One row per result (see ``_arrow.result_schema``), one row group per record batch;
    returns how many rows were written. Needs pyarrow (``pip install "batchkit[parquet]"``)."""
    import_pyarrow()
    import pyarrow.parquet as pq

    schema, batches = record_batches(results, ROW_GROUP)
    written = 0
    with contextlib.ExitStack() as stack:
        where: Any = (stack.enter_context(open_target(path, "wb", storage_options))
                      if is_url(path) else str(path))  # a local file: pyarrow's own writer
        writer = stack.enter_context(pq.ParquetWriter(where, schema))
        for batch in batches:
            writer.write_batch(batch)
            written += batch.num_rows
    return written


def write_parquet_dataset(
    results: Iterable[Result],
    base: Target,
    *,
    partition_by: Sequence[str] = ("status",),
    max_rows_per_file: int = 1_000_000,
    existing: Literal["error", "overwrite_or_ignore", "delete_matching"] = "error",
    storage_options: StorageOptions = None,
) -> int:
    """A Hive-partitioned Parquet dataset under ``base`` (``base/status=succeeded/part-0.parquet``)
    that DuckDB (``read_parquet('base/**/*.parquet', hive_partitioning=true)``), Polars
    (``scan_parquet``) and Spark (``spark.read.parquet``) read as one table. Streamed batch by
    batch; ``existing`` is pyarrow's rule for files already under ``base``. Returns the rows
    written."""
    arrow = import_pyarrow()
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs

    schema, batches = record_batches(results, ROW_GROUP)
    unknown = [c for c in partition_by if c not in schema.names or c == "embedding"]
    if unknown:
        raise ValueError(f"cannot partition by {unknown[0]!r}: partition by one of "
                         f"{', '.join(n for n in schema.names if n != 'embedding')}")
    written = 0

    def counted() -> Any:
        nonlocal written
        for batch in batches:
            written += batch.num_rows
            yield batch

    fs: Any = None
    where = str(base)
    if is_url(base):
        remote, where = filesystem(str(base), storage_options)
        fs = pafs.PyFileSystem(pafs.FSSpecHandler(remote))
    ds.write_dataset(
        arrow.RecordBatchReader.from_batches(schema, counted()), where, filesystem=fs,
        format="parquet", partitioning=list(partition_by), partitioning_flavor="hive",
        max_rows_per_file=max_rows_per_file, max_rows_per_group=ROW_GROUP,
        existing_data_behavior=existing, basename_template="part-{i}.parquet")
    return written


def write_jsonl(results: Iterable[Result], path_or_file: Target | IO[bytes], *,
                include_raw: bool = False, storage_options: StorageOptions = None) -> int:
    """Write one JSON object per result (streamed: any iterable); returns how many."""
    if isinstance(path_or_file, (str, Path)):
        with open_target(path_or_file, "wb", storage_options) as fh:
            return write_jsonl(results, fh, include_raw=include_raw)
    written = 0
    for r in results:
        path_or_file.write(
            orjson.dumps(r.to_dict(include_raw=include_raw), option=orjson.OPT_SERIALIZE_NUMPY)
        )
        path_or_file.write(b"\n")
        written += 1
    return written


def write_npy(results: Iterable[Result], path: Target, count: int, kind: str = "float",
              storage_options: StorageOptions = None) -> int:
    """The ``(count, d)`` matrix of every result's ``kind`` vector, in order, as a ``.npy`` file.

    Refuses (``ValueError`` naming the request) a result without a vector, with a vector of
    another length, or more or fewer results than ``count`` (see ``fill_matrix``). A URL is
    filled as a memory-mapped local temporary file first (numpy maps only local files), then
    copied up as a stream.
    """
    if is_url(path):
        with tempfile.TemporaryDirectory(prefix="batchkit-npy-") as folder:
            local = Path(folder) / "matrix.npy"
            written = write_npy(results, local, count, kind)
            with open(local, "rb") as src, open_target(path, "wb", storage_options) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            return written
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


def empty_matrix(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """An uninitialised matrix (as ``np.empty``) whose memory the kernel maps in one call.

    Why: numpy asks the kernel for huge pages for a big array, and where the kernel then
    compacts memory to find them (Linux's usual ``defrag=madvise``), the first writes to a
    fresh matrix wait on it: filling a 20,000 x 1,536 matrix took 0.5-0.9 s in four runs of
    six in a process that had just decoded a job, against 0.05 s in the others. Mapped here
    in small pages at once (``MAP_POPULATE``) it takes 0.09-0.11 s every time.
    Elsewhere, and below 4 MiB (where numpy asks for no huge pages), it is ``np.empty``.
    """
    size = math.prod(shape) * np.dtype(dtype).itemsize
    if not _MAP_POPULATE or size < 4 << 20:
        return np.empty(shape, dtype=dtype)
    memory = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_POPULATE)
    return np.frombuffer(memory, dtype=dtype).reshape(shape)


def grown(matrix: np.ndarray, rows: int) -> np.ndarray:
    """``matrix`` with room for at least ``rows`` rows (requests of several texts add rows)."""
    bigger = empty_matrix((max(rows, 2 * len(matrix)), *matrix.shape[1:]), matrix.dtype)
    bigger[:len(matrix)] = matrix
    return bigger


def fill_matrix(
    results: Iterable[Result],
    kind: str,
    allocate: Callable[[np.dtype[Any], tuple[int, ...]], np.ndarray],
    grow: Callable[[np.ndarray, int], np.ndarray] | None = None,
) -> tuple[np.ndarray | None, int]:
    """Fill a matrix with each result's ``kind`` vector, row by row; returns it (None when there
    are no results) and the rows filled.

    ``allocate(dtype, row shape)`` makes the matrix at the first vector: in memory for
    :meth:`ResultSet.embeddings`, a memory-mapped file for ``.npy`` output. A result of several
    texts holds a ``(k, d)`` matrix and fills ``k`` rows; ``grow(matrix, rows)`` makes room for
    them (without it, rows past the end are refused). Raises ``ValueError`` naming the first
    request without a vector, or with a vector of another length, or past the matrix's last
    row: a matrix with a hole shifts every row after it.
    """
    matrix: np.ndarray | None = None
    filled = 0
    for r in results:
        vec = r.embedding if kind == "float" else None
        if vec is None and r.embeddings_by_type:
            vec = r.embeddings_by_type.get(kind)
        if vec is None:
            why = r.error.code if r.error else r.status
            raise ValueError(
                f"custom_id {r.custom_id!r} has no {kind!r} embedding ({why}); "
                "filter with [r for r in results if r.ok] first"
            )
        rows = 1 if vec.ndim == 1 else len(vec)
        if matrix is None:
            matrix = allocate(np.dtype(np.float32) if kind == "float" else vec.dtype,
                              vec.shape[-1:])
        if vec.shape[-1:] != matrix.shape[1:]:
            raise ValueError(
                f"custom_id {r.custom_id!r} has a {kind!r} embedding of shape {vec.shape[-1:]}, "
                f"but the first one has {matrix.shape[1:]}"
            )
        if filled + rows > len(matrix):
            if grow is None:
                raise ValueError(f"custom_id {r.custom_id!r} is past the matrix's {len(matrix)} "
                                 "rows (a request of several texts adds a row per text)")
            matrix = grow(matrix, filled + rows)
        if rows == 1 and vec.ndim == 1:
            matrix[filled] = vec
        else:
            matrix[filled:filled + rows] = vec
        filled += rows
    return matrix, filled
