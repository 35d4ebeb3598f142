"""What every sink shares: the protocol, the rows it takes, the hits it returns, URL helpers.

A sink is deliberately small: upsert rows, delete ids, list what is stored (id -> content hash)
and find the nearest rows to a vector. That is all :func:`batchkit.index` needs to keep an index
current without re-buying embeddings, and all a new engine has to implement.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import numpy as np

from .._exceptions import ConfigError, MissingDependencyError

__all__ = [
    "ChunkRows", "Hit", "Sink", "absolute_url", "import_engine", "local_path",
    "query_options", "split_url",
]


@dataclass(slots=True)
class ChunkRows:
    """A batch of chunks to write: column lists of equal length and an ``(n, d)`` matrix.

    Columns rather than row objects: every engine takes columns (Arrow tables, Chroma's lists,
    Qdrant's batch), so a batch goes in without a per-row conversion in Python.
    """

    ids: list[str] = field(default_factory=list)
    doc_ids: list[str] = field(default_factory=list)
    chunks: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    metadata: list[dict[str, Any]] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, chunk_id: str, doc_id: str, chunk: int, text: str, content_hash: str,
            metadata: dict[str, Any], vector: np.ndarray) -> None:
        self.ids.append(chunk_id)
        self.doc_ids.append(doc_id)
        self.chunks.append(chunk)
        self.texts.append(text)
        self.hashes.append(content_hash)
        self.metadata.append(metadata)
        self.vectors.append(vector)

    def matrix(self) -> np.ndarray:
        """The batch's vectors as one float32 matrix (only this batch is ever held)."""
        return np.asarray(np.stack(self.vectors), dtype=np.float32)


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: the chunk, its document, and how near it is (higher is nearer)."""

    id: str
    doc_id: str
    chunk: int
    text: str
    score: float
    """Cosine similarity to the query (1.0: same direction)."""
    metadata: dict[str, Any]


@runtime_checkable
class Sink(Protocol):
    """Where :func:`batchkit.index` writes vectors. Implement it to add an engine.

    Ids are the caller's (``doc id#chunk number``); an upsert of a stored id replaces that row,
    so writing the same batch twice leaves one row per id. Similarity is cosine.
    """

    url: str

    def upsert(self, rows: ChunkRows) -> None:
        """Insert rows, replacing any stored row with the same id."""

    def delete(self, ids: Sequence[str]) -> None:
        """Remove rows by id (ids not stored are ignored)."""

    def stored_hashes(self) -> dict[str, str]:
        """Every stored id with its content hash, read without the vectors."""

    def query(self, vector: np.ndarray, k: int) -> list[Hit]:
        """The ``k`` rows nearest to ``vector``, nearest first."""

    def count(self) -> int:
        """How many rows are stored."""

    def dimension(self) -> int | None:
        """The stored vectors' length (None while the sink is empty and has no schema yet)."""

    def close(self) -> None:
        """Finish writing and release the engine (file locks, clients)."""


def split_url(url: str) -> tuple[str, str]:
    """``scheme://rest`` -> ``(scheme, rest)``; a bare path is a Parquet folder."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "parquet", url
    return scheme.lower(), rest


def local_path(rest: str) -> Path:
    """The folder of a ``scheme://./path`` or ``scheme:///abs/path`` URL, query string dropped."""
    path = rest.split("?", 1)[0]
    if not path:
        raise ConfigError("a sink URL needs a folder, e.g. lancedb://./index")
    return Path(path).expanduser()


def absolute_url(scheme: str, rest: str) -> str:
    """``scheme:///absolute/folder?options``: the same sink whatever the working directory
    (batchkit keeps per-sink state under this name)."""
    query = rest.partition("?")[2]
    return f"{scheme}://{local_path(rest).resolve()}" + (f"?{query}" if query else "")


def query_options(rest: str) -> dict[str, str]:
    """``?collection=docs&x=y`` options of a sink URL."""
    query = urlsplit("x://h/?" + rest.split("?", 1)[1]).query if "?" in rest else ""
    pairs = (p.partition("=") for p in query.split("&") if p)
    return {k: v for k, _, v in pairs}


def import_engine(module: str, extra: str) -> ModuleType:
    """Import an engine's client library, or say which batchkit extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"this sink needs {module.split('.')[0]}: pip install 'batchkit[{extra}]'"
        ) from None
