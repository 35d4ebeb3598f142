"""Documents in, chunks out: what :func:`batchkit.index` reads and how it cuts it.

A corpus is a JSONL, CSV or Parquet file of documents (an ``id``, a ``text`` and any other
fields, which become the chunks' metadata), a folder of ``.txt``/``.md`` files (id: the path
inside the folder), or any iterable of such dicts. A document may carry its own ``chunks`` (a
list of strings) instead of a ``text``: those are used as they are.

The default chunker cuts by approximate tokens: windows of ``chunk_tokens`` x 4 characters
(the characters-per-token rule batchkit's cost estimates use where no tokenizer ships), ending
at the last whitespace in the window's second half, each starting ``overlap_tokens`` x 4
characters before the previous one ended. Simple and deterministic: the same text always gives
the same chunks, which is what makes re-runs incremental. An edit that changes the text's length
shifts every later window, so the chunks from the edit on are embedded again; one that keeps the
length and the spaces changes only the one or two windows that contain it. Documents whose
chunks matter more than that bring their own (``chunks``) or a ``chunker``.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ._exceptions import InvalidRequestError, MissingDependencyError
from .cost._tokens import CHARS_PER_TOKEN

__all__ = ["Chunk", "Chunker", "chunk_text", "content_hash", "iter_chunks", "read_documents"]

Chunker = Callable[[str], Iterable[str]]
TEXT_SUFFIXES = (".txt", ".md")
CHUNK_ID_SEPARATOR = "#"


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a document, under the stable id ``doc_id#number``."""

    id: str
    doc_id: str
    number: int
    text: str
    metadata: dict[str, Any]


def content_hash(text: str, scope: str) -> str:
    """What decides whether a chunk must be embedded again: its text under one model setup.

    ``scope`` names the provider, model and dimensions, so switching models re-embeds all.
    """
    return hashlib.blake2b(f"{scope}\x1f{text}".encode(), digest_size=16).hexdigest()


def chunk_text(text: str, chunk_tokens: int = 512, overlap_tokens: int = 64) -> list[str]:
    """Cut ``text`` into overlapping windows of about ``chunk_tokens`` tokens (see module)."""
    if chunk_tokens <= 0 or not 0 <= overlap_tokens < chunk_tokens:
        raise ValueError("need chunk_tokens > 0 and 0 <= overlap_tokens < chunk_tokens")
    size, back = int(chunk_tokens * CHARS_PER_TOKEN), int(overlap_tokens * CHARS_PER_TOKEN)
    text = text.strip()
    pieces: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            cut = max(text.rfind(" ", start + size // 2, end), text.rfind("\n", start + size // 2,
                                                                           end))
            end = cut if cut > start else end
        piece = text[start:end].strip()
        if piece:
            pieces.append(piece)
        if end >= len(text):
            break
        resume = max(end - back, start + 1)
        space = text.find(" ", resume, end)
        start = space + 1 if back and space != -1 else resume
    return pieces


def read_documents(corpus: str | Path | Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Stream the documents of a file, a folder of text files, or an iterable of dicts."""
    if not isinstance(corpus, (str, Path)):
        yield from corpus
        return
    path = Path(corpus)
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.suffix in TEXT_SUFFIXES):
            name = file.relative_to(path).as_posix()
            yield {"id": name, "text": file.read_text(encoding="utf-8"), "path": name}
    elif not path.exists():
        raise InvalidRequestError(f"corpus {str(path)!r} does not exist")
    elif path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as fh:
            yield from csv.DictReader(fh)
    elif path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise MissingDependencyError(
                "reading Parquet needs pyarrow: pip install 'batchkit[parquet]'") from None
        for batch in pq.ParquetFile(path).iter_batches(4096):
            yield from batch.to_pylist()
    else:
        with path.open("rb") as fh:
            for line_no, line in enumerate(fh, 1):
                if line.strip():
                    yield _json_object(line, line_no)


def _json_object(line: bytes, line_no: int) -> dict[str, Any]:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestError(f"not valid JSON ({exc})", line=line_no) from None
    if not isinstance(value, dict):
        raise InvalidRequestError("a document must be a JSON object", line=line_no)
    return value


def iter_chunks(
    documents: Iterable[dict[str, Any]], chunker: Chunker, *, id_field: str = "id",
    text_field: str = "text",
) -> Iterator[Chunk]:
    """Every document's chunks, in order; the other fields become each chunk's metadata.

    Raises :class:`InvalidRequestError` naming the document (by position and id) for a missing
    id or text, or an id seen before: two documents under one id would overwrite each other.
    """
    seen: set[str] = set()
    for position, doc in enumerate(documents, 1):
        raw_id = doc.get(id_field)
        if raw_id is None or raw_id == "":
            raise InvalidRequestError(f"document has no {id_field!r} field", line=position)
        doc_id = str(raw_id)
        if doc_id in seen:
            raise InvalidRequestError(f"document id {doc_id!r} appears twice", line=position)
        seen.add(doc_id)
        own = doc.get("chunks")
        text = doc.get(text_field)
        if own is None and not isinstance(text, str):
            raise InvalidRequestError(
                f"document {doc_id!r} has no {text_field!r} text (or 'chunks' list)",
                line=position)
        if own is not None and not (isinstance(own, list) and all(isinstance(c, str)
                                                                  for c in own)):
            raise InvalidRequestError(f"document {doc_id!r}: 'chunks' must be a list of strings",
                                      line=position)
        metadata = {k: v for k, v in doc.items() if k not in (id_field, text_field, "chunks")}
        pieces = own if own is not None else chunker(str(text))
        for number, piece in enumerate(p for p in pieces if p.strip()):
            yield Chunk(f"{doc_id}{CHUNK_ID_SEPARATOR}{number}", doc_id, number, piece, metadata)
