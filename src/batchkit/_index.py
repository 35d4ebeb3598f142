"""``bk.index``: a corpus into a vector store, through the batch API, embedding only what changed.

One run:

1. read the corpus and chunk it (:mod:`._corpus`); each chunk's content hash (its text under
   this provider, model and dimensions) is compared with the hash the sink stores for its id:
   equal means unchanged, and nothing is bought for it. The chunks to embed are spooled to disk.
2. if an earlier run was killed while its job's results were owed to the sink
   (:mod:`._index_state`), re-attach to that job and upsert what the corpus still needs from it.
3. embed the rest as one batch job (``input_type=search_document``), journaled like any job, and
   upsert its results in batches as they are decoded (``job.results(lazy=True)``): the vectors
   are never all in memory, only one batch of them.
4. delete the chunks whose ids are no longer in the corpus.

Memory holds the ids and hashes (a few dozen bytes per chunk), never the texts or vectors of the
whole corpus. ``dry_run=True`` stops after step 1 and prices what would be bought.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._config import resolve_provider
from ._corpus import Chunk, Chunker, chunk_text, content_hash, iter_chunks, read_documents
from ._exceptions import ConfigError, InvalidRequestError, JobNotFoundError, StoreError
from ._index_state import Flight, IndexState, SpooledChunk, read_spool
from ._job import Job
from ._requests import EmbedRequest
from ._results import Result
from ._submit import get_job, list_jobs, submit
from .cost import Estimate, estimate
from .sinks import ChunkRows, Sink, open_sink

__all__ = ["DEFAULT_SINK", "IndexReport", "index"]

DEFAULT_SINK = "lancedb://./index"
UPSERT_BATCH = 1000
_FAILED_SHOWN = 20


@dataclass
class IndexReport:
    """What an index run found and did (or, with ``dry_run``, would do)."""

    sink: str
    chunks: int = 0
    """Chunks in the corpus now."""
    unchanged: int = 0
    new: int = 0
    changed: int = 0
    deleted: int = 0
    """Stored chunks whose ids left the corpus (deleted, or to delete on a dry run)."""
    recovered: int = 0
    """Chunks taken from the finished job of an interrupted earlier run (not bought again)."""
    to_embed: int = 0
    """Chunks sent to the vendor in this run's job (0: nothing bought)."""
    upserted: int = 0
    failed: int = 0
    """Chunks the vendor returned no vector for; a later run tries them again."""
    failed_ids: list[str] = field(default_factory=list)
    job_id: str | None = None
    estimate: Estimate | None = None
    """The batch cost of ``to_embed`` (None when nothing is to be embedded)."""
    dry_run: bool = False


def index(
    corpus: str | Path | Iterable[dict[str, Any]],
    sink: str | Sink = DEFAULT_SINK,
    provider: str | None = None,
    *,
    dimensions: int | None = None,
    chunk_tokens: int = 512,
    overlap_tokens: int = 64,
    chunker: Chunker | None = None,
    id_field: str = "id",
    text_field: str = "text",
    dry_run: bool = False,
    batch_size: int = UPSERT_BATCH,
    timeout: float | None = None,
    progress: bool = False,
    **submit_kwargs: Any,
) -> IndexReport:
    """Embed ``corpus`` into ``sink`` (a URL, see :mod:`batchkit.sinks`, or an open Sink).

    Chunk ids are ``<document id>#<chunk number>``; each chunk's metadata is its document's
    other fields. Re-running on an edited corpus embeds only new and changed chunks and deletes
    vanished ones. ``chunker`` replaces the default token-window chunker (``chunk_tokens`` with
    ``overlap_tokens`` of overlap, see :mod:`._corpus`); a document's own ``chunks`` list is
    always used as it is. Other keyword arguments (``options``, ``profile``, ``store``,
    ``cache``, ``shard_size``, ``max_cost_usd``, ...) go to :func:`batchkit.submit`.
    """
    if chunk_tokens <= 0 or not 0 <= overlap_tokens < chunk_tokens:
        raise ConfigError(f"need chunk_tokens > 0 and 0 <= overlap_tokens < chunk_tokens, got "
                          f"{chunk_tokens} and {overlap_tokens}")
    if batch_size <= 0:
        raise ConfigError(f"batch_size must be 1 or more, got {batch_size}")
    resolved = resolve_provider(provider, submit_kwargs.get("profile"),
                                submit_kwargs.get("options"))
    run = _Run(scope=f"{resolved.provider}|dimensions={dimensions}|search_document",
               provider=resolved.provider, dimensions=dimensions, batch_size=batch_size,
               timeout=timeout, progress=progress, dry_run=dry_run, submit_kwargs=submit_kwargs)
    cut = chunker or (lambda text: chunk_text(text, chunk_tokens, overlap_tokens))
    opened = open_sink(sink)
    try:
        state = IndexState(opened.url)
        with state.lock(opened.url):
            chunks = iter_chunks(read_documents(corpus), cut, id_field=id_field,
                                 text_field=text_field)
            return run.execute(chunks, opened, state)
    finally:
        if isinstance(sink, str):
            opened.close()


@dataclass(frozen=True)
class _Run:
    """One index run's settings, and the run itself (steps 1 to 4 of the module docstring)."""

    scope: str
    provider: str
    dimensions: int | None
    batch_size: int
    timeout: float | None
    progress: bool
    dry_run: bool
    submit_kwargs: dict[str, Any]

    def execute(self, chunks: Iterator[Chunk], sink: Sink, state: IndexState) -> IndexReport:
        """Runs under the sink's lock."""
        report = IndexReport(sink=sink.url, dry_run=self.dry_run)
        stored = sink.stored_hashes()
        pending = state.new_spool("pending")
        try:
            needed, current = _diff(chunks, self.scope, stored, pending, report)
            vanished = [chunk_id for chunk_id in stored if chunk_id not in current]
            report.deleted = len(vanished)
            del current
            flight = state.job_in_flight()
            state.remove_stale_spools({pending} | ({flight.spool} if flight else set()))
            owed = _still_needed(flight, needed)
            if self.dry_run:
                _plan_only(report, owed, needed, pending, self.provider, self.dimensions)
                return report
            writer = _Upserter(sink, self.batch_size, report)
            if flight is not None:
                if owed:
                    _recover(flight, needed, writer, self.submit_kwargs.get("store"),
                             self.timeout, self.progress)
                    writer.flush()
                state.clear_job_in_flight()
            self.embed_remaining(state, pending, needed, writer)
            sink.delete(vanished)
            return report
        finally:
            pending.unlink(missing_ok=True)

    def embed_remaining(self, state: IndexState, pending: Path, needed: dict[str, str],
                        writer: _Upserter) -> None:
        """Submit one job for the chunks still needed and upsert its results as they decode."""
        spool = state.new_spool("job")
        with spool.open("wb") as out:
            for chunk in read_spool(pending):
                if needed.get(chunk.id) == chunk.hash:
                    out.write(chunk.line())
                    writer.report.to_embed += 1
        if not writer.report.to_embed:
            spool.unlink()
            return
        flight = state.start_flight(spool, self.provider, writer.report.to_embed)
        job = submit(_requests(spool, self.dimensions), self.provider, **self.submit_kwargs)
        state.set_job_id(flight, job.id)
        writer.report.job_id = job.id
        job.wait(timeout=self.timeout, progress=self.progress, raise_on_failure=False)
        for chunk, result in zip(read_spool(spool), job.results(lazy=True), strict=True):
            writer.add(chunk, result)
        writer.flush()
        state.clear_job_in_flight()


def _diff(chunks: Iterator[Chunk], scope: str, stored: dict[str, str], pending: Path,
          report: IndexReport) -> tuple[dict[str, str], set[str]]:
    """Spool the chunks to embed; returns their ``id -> hash`` and every current chunk id."""
    needed: dict[str, str] = {}
    current: set[str] = set()
    with pending.open("wb") as spool:
        for chunk in chunks:
            current.add(chunk.id)
            digest = content_hash(chunk.text, scope)
            before = stored.get(chunk.id)
            if before == digest:
                report.unchanged += 1
                continue
            report.new += before is None
            report.changed += before is not None
            needed[chunk.id] = digest
            try:
                line = SpooledChunk(chunk.id, chunk.doc_id, chunk.number, chunk.text, digest,
                                    chunk.metadata).line()
            except TypeError as exc:  # orjson's JSONEncodeError
                raise InvalidRequestError(f"document {chunk.doc_id!r}: metadata must be "
                                          f"JSON-serializable ({exc})") from None
            spool.write(line)
    report.chunks = len(current)
    return needed, current


def _requests(spool: Path, dimensions: int | None) -> Iterator[EmbedRequest]:
    """One request per spooled chunk; ``custom_id`` is the line number (ids of any length and
    character set then fit every vendor's custom-id rules), the chunk id rides in metadata."""
    for position, chunk in enumerate(read_spool(spool)):
        yield EmbedRequest(custom_id=f"c{position}", text=chunk.text,
                           input_type="search_document", dimensions=dimensions,
                           metadata={"chunk_id": chunk.id})


def _still_needed(flight: Flight | None, needed: dict[str, str]) -> set[str]:
    """The chunks of the job in flight that the corpus still needs, as they were sent."""
    if flight is None:
        return set()
    return {c.id for c in read_spool(flight.spool) if needed.get(c.id) == c.hash}


def _plan_only(report: IndexReport, owed: set[str], needed: dict[str, str], pending: Path,
               provider: str, dimensions: int | None) -> None:
    report.recovered = len(owed)
    report.to_embed = len(needed) - len(owed)
    if report.to_embed:
        report.estimate = estimate(
            (r for r in _requests(pending, dimensions) if r.metadata["chunk_id"] not in owed),
            provider)


class _Upserter:
    """Buffers decoded results into batches of ``size`` rows and upserts each when full."""

    def __init__(self, sink: Sink, size: int, report: IndexReport) -> None:
        self.sink, self.size, self.report = sink, size, report
        self.rows = ChunkRows()

    def add(self, chunk: SpooledChunk, result: Result) -> bool:
        """Queue the chunk's row; False (and counted as failed) when it has no vector."""
        if result.metadata.get("chunk_id") != chunk.id:
            raise StoreError(f"result {result.custom_id} of the index job is not chunk "
                             f"{chunk.id!r}: its spool file does not match the job")
        if not result.ok or result.embedding is None:
            self.report.failed += 1
            if len(self.report.failed_ids) < _FAILED_SHOWN:
                self.report.failed_ids.append(chunk.id)
            return False
        self.rows.add(chunk.id, chunk.doc_id, chunk.number, chunk.text, chunk.hash,
                      chunk.metadata, result.embedding)
        if len(self.rows) >= self.size:
            self.flush()
        return True

    def flush(self) -> None:
        if len(self.rows):
            self.sink.upsert(self.rows)
            self.report.upserted += len(self.rows)
            self.rows = ChunkRows()


def _find_job(flight: Flight, store: Any) -> Job | None:
    """The job of ``flight``: by id, or, if the run was killed inside ``submit``, the one it
    journaled (same provider and request count, created since the flight began)."""
    if flight.job_id is not None:
        try:
            return get_job(flight.job_id, store=store)
        except JobNotFoundError:
            return None  # the store was cleared: the chunks are embedded anew
    candidates = [r for r in list_jobs(store=store)
                  if r.provider == flight.provider and r.request_count == flight.requests
                  and r.created_at >= flight.since]
    if not candidates:
        return None  # killed before the job was journaled: nothing was sent
    return get_job(min(candidates, key=lambda r: r.created_at).id, store=store)


def _recover(flight: Flight, needed: dict[str, str], writer: _Upserter, store: Any,
             timeout: float | None, progress: bool) -> None:
    """Upsert what the corpus still needs from an interrupted run's job (finishing its
    submission and waiting for it first, if it was cut short there)."""
    job = _find_job(flight, store)
    if job is None:
        return
    job.wait(timeout=timeout, progress=progress, raise_on_failure=False)
    for chunk, result in zip(read_spool(flight.spool), job.results(lazy=True), strict=True):
        if needed.get(chunk.id) == chunk.hash and writer.add(chunk, result):
            writer.report.recovered += 1
            del needed[chunk.id]
