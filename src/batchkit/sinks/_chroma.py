"""Chroma through its persistent client: ``chroma://./index`` (``?collection=NAME``).

The collection is made with cosine space and no embedding function (batchkit supplies the
vectors; Chroma must never embed on its own). Chroma metadata values are scalars only, so the
document's metadata is kept as JSON text under ``metadata``, beside ``doc_id``, ``chunk`` and
``hash``. Docs: https://docs.trychroma.com/docs/collections/manage-collections
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from .._batched import batched
from ._base import ChunkRows, Hit, absolute_url, import_engine, local_path, query_options
from ._columns import read_metadata

__all__ = ["ChromaSink"]

_PAGE = 2048


class ChromaSink:
    """Rows of one Chroma collection; ``documents`` holds the chunk text."""

    def __init__(self, url: str, scheme: str, rest: str) -> None:
        chromadb = import_engine("chromadb", "chroma")
        self.url = absolute_url(scheme, rest)
        self._client = chromadb.PersistentClient(path=str(local_path(rest)))
        self._collection: Any = self._client.get_or_create_collection(
            query_options(rest).get("collection", "chunks"), embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}})
        self._max_batch = int(self._client.get_max_batch_size())

    def upsert(self, rows: ChunkRows) -> None:
        matrix = rows.matrix() if len(rows) else None
        for start in range(0, len(rows), self._max_batch):
            end = start + self._max_batch
            assert matrix is not None
            self._collection.upsert(
                ids=rows.ids[start:end], embeddings=matrix[start:end],
                documents=rows.texts[start:end],
                metadatas=[
                    {"doc_id": d, "chunk": c, "hash": h, "metadata": orjson.dumps(m).decode()}
                    for d, c, h, m in zip(rows.doc_ids[start:end], rows.chunks[start:end],
                                          rows.hashes[start:end], rows.metadata[start:end],
                                          strict=True)
                ])

    def delete(self, ids: Sequence[str]) -> None:
        for batch in batched(ids, self._max_batch):
            self._collection.delete(ids=batch)

    def stored_hashes(self) -> dict[str, str]:
        hashes: dict[str, str] = {}
        offset = 0
        while True:
            page = self._collection.get(include=["metadatas"], limit=_PAGE, offset=offset)
            hashes.update((i, m["hash"]) for i, m in zip(page["ids"], page["metadatas"],
                                                         strict=True))
            if len(page["ids"]) < _PAGE:
                return hashes
            offset += _PAGE

    def query(self, vector: np.ndarray, k: int) -> list[Hit]:
        if not self.count():
            return []
        found = self._collection.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)], n_results=k,
            include=["documents", "metadatas", "distances"])
        return [
            Hit(i, m["doc_id"], int(m["chunk"]), text, 1.0 - float(dist),
                read_metadata(m.get("metadata")))
            for i, text, m, dist in zip(found["ids"][0], found["documents"][0],
                                        found["metadatas"][0], found["distances"][0],
                                        strict=True)
        ]

    def count(self) -> int:
        return int(self._collection.count())

    def dimension(self) -> int | None:
        if not self.count():
            return None
        first = self._collection.get(limit=1, include=["embeddings"])
        return len(first["embeddings"][0])

    def close(self) -> None:
        """Chroma's persistent client writes as it goes; nothing is left to flush."""
