"""Neutral results: one :class:`Result` per request, whatever the vendor returned.

Results are plain slotted dataclasses rather than pydantic models: a job can return millions of
them, and they carry numpy vectors.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import itertools
import operator
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Literal, TypeVar, overload

import numpy as np
from pydantic import BaseModel

from ._arrow import BATCH_ROWS
from ._export import (
    empty_matrix,
    fill_matrix,
    grown,
    to_arrow_reader,
    to_polars,
    write_jsonl,
    write_npy,
    write_parquet,
    write_parquet_dataset,
)
from ._redact import redact
from ._storage import Target
from ._tools import ToolCall

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "Choice", "ErrorInfo", "FinishReason", "Moderation", "Result", "ResultSet", "ResultStatus",
    "Usage", "fill_matrix", "finish_reason", "gc_paused", "vectors", "write_jsonl",
]

ResultStatus = Literal["succeeded", "errored", "expired", "cancelled"]
RESULT_STATUSES: tuple[ResultStatus, ...] = ("succeeded", "errored", "expired", "cancelled")
_Class = TypeVar("_Class", bound=type)


def _pickled_as_fields(cls: _Class) -> _Class:
    """Pickle ``cls`` as a call of itself with its field values. Why: a slotted dataclass
    pickles through Python-level ``__getstate__``/``__setstate__`` (a dict of its slots per
    object); a forked decoding process sends back thousands of Results (see ``_parallel``),
    and as tuples of values, read in C, they pickle and unpickle in about half the time."""
    values = operator.attrgetter(*(f.name for f in dataclasses.fields(cls)))

    def __reduce__(self: Any) -> tuple[type, tuple[Any, ...]]:
        return cls, values(self)

    setattr(cls, "__reduce__", __reduce__)  # noqa: B010 - set on the class dataclass built
    return cls


@_pickled_as_fields
@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts as the vendor reported them (zero where the vendor has no such count)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    """Input tokens read from a prompt cache (part of ``input_tokens``)."""
    cache_creation_input_tokens: int = 0
    """Input tokens written to a prompt cache (Anthropic bills these apart)."""
    reasoning_tokens: int = 0
    """Hidden reasoning tokens (part of ``output_tokens``)."""

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )

    def to_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Why a request has no usable result.

    ``code`` is the vendor's code where it gave one (``context_length_exceeded``), or one of
    batchkit's own: ``missing_result`` (the vendor returned no line for the request),
    ``duplicate_result`` (it returned more than one), ``batch_failed`` (the whole batch was
    rejected), ``batch_expired``, ``batch_cancelled``, ``malformed_line``.
    """

    code: str
    message: str
    retryable: bool = False
    http_status: int | None = None

    def __post_init__(self) -> None:
        # Vendors echo keys in error text (masked or whole); this message is written to result
        # files, the cache and the CLI, so it is redacted once, here, on the way in.
        object.__setattr__(self, "message", redact(self.message))

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "retryable": self.retryable,
            "http_status": self.http_status,
        }


FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "refusal", "other"]
"""Why generation ended, the same words for every vendor (the vendor's own word is kept in
``vendor_finish_reason``)."""


def finish_reason(vendor_value: str | None, vocabulary: dict[str, FinishReason]) -> str | None:
    """``vendor_value`` in batchkit's words, by a codec's own table; anything the table does not
    name is ``other`` (None stays None: the vendor said nothing)."""
    if vendor_value is None:
        return None
    return vocabulary.get(vendor_value, "other")


@dataclass(frozen=True, slots=True)
class Choice:
    """One of the ``n`` answers to a request."""

    index: int
    text: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    vendor_finish_reason: str | None = None
    logprobs: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "text": self.text,
                "tool_calls": [call.to_dict() for call in self.tool_calls],
                "finish_reason": self.finish_reason,
                "vendor_finish_reason": self.vendor_finish_reason, "logprobs": self.logprobs}


@dataclass(frozen=True, slots=True)
class Moderation:
    """A moderation model's verdict on one text: ``flagged`` when any category is, each
    category's flag and score in the vendor's own category names."""

    flagged: bool
    categories: dict[str, bool]
    category_scores: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"flagged": self.flagged, "categories": self.categories,
                "category_scores": self.category_scores}


def vectors(rows: Sequence[Any], dtype: Any = np.float32) -> np.ndarray:
    """A vendor line's vectors as ``Result.embedding``: the vector itself for one, a ``(k, d)``
    matrix, one row per text in request order, for several."""
    return np.asarray(rows[0] if len(rows) == 1 else rows, dtype=dtype)


@_pickled_as_fields
@dataclass(slots=True)
class Result:
    """The outcome of one request.

    ``status`` is ``succeeded`` only when the vendor ran the request without error; a reply
    that does not fit the ``response_model`` is still ``succeeded`` (it was paid for) with
    ``parsed=None`` and ``parse_error`` set.
    """

    custom_id: str
    status: ResultStatus
    text: str | None = None
    parsed: BaseModel | None = None
    parse_error: str | None = None
    embedding: np.ndarray | None = None
    """The vector of an embedding request; for a request of several ``texts``, a ``(k, d)``
    matrix, one row per text in request order (:meth:`ResultSet.embeddings` stacks them)."""
    embeddings_by_type: dict[str, np.ndarray] | None = None
    """Every embedding type returned (``float``, ``int8``, ...), for vendors that return several."""
    finish_reason: str | None = None
    usage: Usage | None = None
    error: ErrorInfo | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    raw: Any = None
    """The vendor's own line (parsed JSON), for anything batchkit does not map."""
    cost_usd: float | None = None
    """What this request cost, from its usage and the price catalog (None: price unknown)."""
    shared_from: str | None = None
    """The custom_id of the identical request whose result this is (this one was not sent)."""
    from_cache: bool = False
    """True when the result came from the local result cache (this run did not send it)."""
    attempts: int = 1
    """How many times the request was sent (more than 1 after ``retry=`` resubmitted it)."""
    tool_calls: list[ToolCall] = field(default_factory=list)
    """The tools the model called, in order (the first choice's, when ``n > 1``)."""
    reasoning: str | None = None
    """The model's thinking text or reasoning summary, where the vendor returns one."""
    refusal: str | None = None
    """The model's refusal message, where the vendor reports refusals apart from text."""
    choices: list[Choice] | None = None
    """Every choice of an ``n > 1`` request (``text`` and ``tool_calls`` are the first's)."""
    logprobs: list[dict[str, Any]] | None = None
    """Per output token: ``token``, ``logprob`` and ``top_logprobs`` (when asked for)."""
    vendor_finish_reason: str | None = None
    """The vendor's own stop reason; ``finish_reason`` is it in batchkit's vocabulary."""
    moderation: list[Moderation] | None = None
    """A moderation request's verdicts, one per text in request order."""

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def to_dict(self, *, include_raw: bool = False) -> dict[str, Any]:
        """A JSON-ready dict: parsed objects dumped, vectors as lists."""
        out: dict[str, Any] = {
            "custom_id": self.custom_id,
            "status": self.status,
            "text": self.text,
            "parsed": self.parsed.model_dump(mode="json") if self.parsed is not None else None,
            "parse_error": self.parse_error,
            "embedding": self.embedding.tolist() if self.embedding is not None else None,
            "finish_reason": self.finish_reason,
            "usage": self.usage.to_dict() if self.usage else None,
            "error": self.error.to_dict() if self.error else None,
            "metadata": self.metadata,
            "cost_usd": self.cost_usd,
            "shared_from": self.shared_from,
            "from_cache": self.from_cache,
            "attempts": self.attempts,
            "tool_calls": [call.to_dict() for call in self.tool_calls],
            "reasoning": self.reasoning,
            "refusal": self.refusal,
            "vendor_finish_reason": self.vendor_finish_reason,
        }
        if self.choices is not None:
            out["choices"] = [choice.to_dict() for choice in self.choices]
        if self.logprobs is not None:
            out["logprobs"] = self.logprobs
        if self.moderation is not None:
            out["moderation"] = [m.to_dict() for m in self.moderation]
        if self.embeddings_by_type:
            out["embeddings_by_type"] = {k: v.tolist() for k, v in self.embeddings_by_type.items()}
        if include_raw:
            out["raw"] = self.raw
        return out


class ResultSet(Sequence[Result]):
    """The results of a job, one per request, in input order.

    Either held in memory (``ResultSet(results)``) or streamed from a finished job's files on
    disk each time it is walked (:meth:`streamed`, what ``job.results(lazy=True)`` returns):
    a ten-million-row job's matrix, counts or Parquet file then never need every Result in
    memory at once. Every method below works on both.
    """

    def __init__(self, results: Iterable[Result], *, unmatched: Sequence[Any] = ()) -> None:
        self._results: list[Result] | None = list(results)
        self._source: Callable[[], Iterator[Result]] | None = None
        self._count = len(self._results)
        self.unmatched: list[Any] = list(unmatched)
        """Vendor lines whose id matched no request (kept, never silently dropped); for a
        streamed set, filled in by each full walk."""

    @classmethod
    def streamed(cls, source: Callable[[], Iterator[Result]], count: int) -> ResultSet:
        """A set of ``count`` results that calls ``source()`` for a fresh stream on every walk.

        Nothing is kept between walks. ``len`` is known up front; ``rs[i]`` walks to ``i``
        (memory stays flat, time grows with ``i``) and ``rs[a:b:c]`` keeps only that slice.
        """
        made = cls(())
        made._results, made._source, made._count = None, source, count
        return made

    @property
    def lazy(self) -> bool:
        """True when results are read from disk on each walk instead of held in memory."""
        return self._results is None

    @overload
    def __getitem__(self, index: int) -> Result: ...
    @overload
    def __getitem__(self, index: slice) -> ResultSet: ...
    def __getitem__(self, index: int | slice) -> Result | ResultSet:
        if self._results is not None:
            if isinstance(index, slice):
                return ResultSet(self._results[index])
            return self._results[index]
        if isinstance(index, slice):  # one walk, keeping only the positions asked for
            wanted = range(*index.indices(self._count))
            picked = dict(r for r in enumerate(self) if r[0] in wanted)
            return ResultSet(picked[i] for i in wanted)
        position = index + self._count if index < 0 else index
        if not 0 <= position < self._count:
            raise IndexError(f"result index {index} out of range for {self._count} results")
        return next(itertools.islice(iter(self), position, None))

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Result]:
        if self._results is not None:
            return iter(self._results)
        assert self._source is not None
        return self._source()

    def __repr__(self) -> str:
        if self.lazy:
            return f"<ResultSet {self._count} results, streamed from disk>"
        counts = ", ".join(f"{k}={v}" for k, v in sorted(self.counts().items()))
        return f"<ResultSet {len(self)} results: {counts or 'empty'}>"

    def counts(self) -> dict[str, int]:
        """How many results have each status."""
        return dict(Counter(r.status for r in self))

    @property
    def usage(self) -> Usage:
        """Token usage summed over every result."""
        total = Usage()
        for r in self:
            if r.usage is not None:
                total = total + r.usage
        return total

    @property
    def cost_usd(self) -> float | None:
        """What the job cost: the sum over results with a known price (None if none is known)."""
        known = [r.cost_usd for r in self if r.cost_usd is not None]
        return sum(known) if known else None

    def split(self) -> tuple[list[BaseModel], list[Result]]:
        """``(parsed objects, results that have none)`` like instructor's ``parse_from_file``."""
        parsed = [r.parsed for r in self if r.parsed is not None]
        unparsed = [r for r in self if r.parsed is None]
        return parsed, unparsed

    def errors(self) -> list[Result]:
        """Every result that is not ``succeeded``."""
        return [r for r in self if r.status != "succeeded"]

    def texts(self) -> list[str | None]:
        return [r.text for r in self]

    def embeddings(self, kind: str = "float") -> np.ndarray:
        """An ``(n, d)`` matrix of every result's vector, in input order; a request of several
        ``texts`` gives one row per text, in its order (``n`` then counts texts, not requests).

        Raises ``ValueError`` naming the first request without a vector, or with a vector of
        another length, since a matrix with a hole silently shifts every row after it.
        The matrix is allocated once at the first vector and filled row by row: for millions
        of rows that is one pass and no list of row references for ``np.vstack`` to walk.
        """
        size = len(self)
        with gc_paused():  # a streamed set decodes as it fills: no Result outlives its row
            matrix, filled = fill_matrix(
                self, kind, lambda dtype, row: empty_matrix((size, *row), dtype), grow=grown)
        if matrix is None:
            return np.zeros((0, 0), dtype=np.float32)
        return matrix if filled == len(matrix) else matrix[:filled].copy()

    def to_arrow(self) -> pa.Table:
        """A ``pyarrow.Table``, one row per result (columns: ``_arrow.result_schema``;
        embeddings a fixed-size float32 list). Needs pyarrow."""
        return self.to_arrow_reader().read_all()

    def to_arrow_reader(self, batch_rows: int = BATCH_ROWS) -> pa.RecordBatchReader:
        """A stream of Arrow record batches of ``batch_rows`` results: for a lazy set, read from
        disk as the reader is consumed (DuckDB and Polars scan it without a full table)."""
        return to_arrow_reader(self, batch_rows)

    def to_polars(self) -> Any:
        """A ``polars.DataFrame`` with the columns of :meth:`to_arrow` (needs polars)."""
        return to_polars(self)

    def to_parquet(self, path: Target, *, storage_options: dict[str, Any] | None = None) -> int:
        """Write one row per result to a Parquet file or URL (needs pyarrow); returns the row
        count."""
        return write_parquet(self, path, storage_options)

    def to_parquet_dataset(self, base: Target, *, partition_by: Sequence[str] = ("status",),
                           storage_options: dict[str, Any] | None = None) -> int:
        """Write a Hive-partitioned Parquet dataset under a folder or URL (``status=.../``);
        returns the row count. See :func:`batchkit._export.write_parquet_dataset`."""
        return write_parquet_dataset(self, base, partition_by=partition_by,
                                     storage_options=storage_options)

    def to_npy(self, path: Target, kind: str = "float", *,
               storage_options: dict[str, Any] | None = None) -> int:
        """Save :meth:`embeddings` of ``kind`` as a ``.npy`` file or URL; returns the row count.
        An in-memory set counts a row per text of a request of several ``texts``; a streamed
        one is written one row per result (it is not walked twice to count)."""
        rows = len(self) if self._results is None else sum(
            _rows_of(r.embedding if kind == "float" else (r.embeddings_by_type or {}).get(kind))
            for r in self._results)
        return write_npy(self, path, rows, kind, storage_options)

    def to_jsonl(self, path_or_file: Target | IO[bytes], *, include_raw: bool = False,
                 storage_options: dict[str, Any] | None = None) -> int:
        """Write one JSON object per result to a file, URL or binary stream; returns how many."""
        return write_jsonl(self, path_or_file, include_raw=include_raw,
                           storage_options=storage_options)


def _rows_of(vector: np.ndarray | None) -> int:
    """The matrix rows a result's vector fills: one, or one per text of a ``texts`` request."""
    return 1 if vector is None or vector.ndim == 1 else len(vector)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Hold off Python's cyclic garbage collector while many results are built and kept.

    Every few hundred allocations the collector walks the objects made since its last pass,
    and now and then all of them: building a million Results that all stay alive makes those
    walks the larger part of decoding (measured: ``benchmarks/bench_decode.py``), and they find
    nothing, since results hold no cycles. Reference counting still frees everything else. The
    collector is restored afterwards, and left alone if the caller had turned it off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
