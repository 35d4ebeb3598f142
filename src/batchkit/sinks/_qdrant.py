"""Qdrant: on-disk local mode for one machine, or a Qdrant server for a team.

* ``qdrant://./index`` — ``QdrantClient(path=...)``, Qdrant's embedded local mode (no server;
  one process at a time holds the folder's lock).
* ``qdrant+http://host:6333`` or ``qdrant+https://host`` — a server; the API key, if any, is read
  from ``QDRANT_API_KEY`` and never written anywhere.

``?collection=NAME`` picks the collection (default ``chunks``). Qdrant point ids must be integers
or UUIDs, so each chunk id maps to a name-based UUID (uuid5) and the chunk id itself is kept in
the payload. Docs: https://qdrant.tech/documentation/concepts/points/
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._batched import batched
from .._exceptions import ConfigError
from ._base import ChunkRows, Hit, absolute_url, import_engine, local_path, query_options

__all__ = ["QdrantSink"]

_SCROLL_PAGE = 2048
_ID_SPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/batchkit/batchkit/chunk-id")


def point_id(chunk_id: str) -> str:
    """The stable Qdrant point id of a chunk id (same chunk, same point: upserts replace)."""
    return str(uuid.uuid5(_ID_SPACE, chunk_id))


class QdrantSink:
    """Points with payload ``id, doc_id, chunk, text, hash, metadata`` (metadata as given)."""

    def __init__(self, url: str, scheme: str, rest: str) -> None:
        client_module = import_engine("qdrant_client", "qdrant")
        self._models: Any = import_engine("qdrant_client.models", "qdrant")
        self.url = absolute_url(scheme, rest) if scheme == "qdrant" else url
        self.collection = query_options(rest).get("collection", "chunks")
        if scheme == "qdrant":
            self._client = client_module.QdrantClient(path=str(local_path(rest)))
        else:
            server = f"{scheme.removeprefix('qdrant+')}://{rest.split('?', 1)[0]}"
            self._client = client_module.QdrantClient(
                url=server, api_key=os.environ.get("QDRANT_API_KEY") or None)
        try:
            self._exists = bool(self._client.collection_exists(self.collection))
        except Exception as exc:  # the client raises httpx and its own errors alike
            raise ConfigError(f"cannot reach the Qdrant sink at {self.url.split('?')[0]}: "
                              f"{type(exc).__name__}") from None

    def upsert(self, rows: ChunkRows) -> None:
        if not len(rows):
            return
        matrix = rows.matrix()
        if not self._exists:
            params = self._models.VectorParams(size=matrix.shape[1],
                                               distance=self._models.Distance.COSINE)
            self._client.create_collection(self.collection, vectors_config=params)
            self._exists = True
        payloads = [
            {"id": i, "doc_id": d, "chunk": c, "text": t, "hash": h, "metadata": m}
            for i, d, c, t, h, m in zip(rows.ids, rows.doc_ids, rows.chunks, rows.texts,
                                        rows.hashes, rows.metadata, strict=True)
        ]
        self._client.upsert(self.collection, wait=True, points=self._models.Batch(
            ids=[point_id(i) for i in rows.ids], vectors=matrix.tolist(), payloads=payloads))

    def delete(self, ids: Sequence[str]) -> None:
        if not self._exists:
            return
        for batch in batched(ids, _SCROLL_PAGE):
            self._client.delete(self.collection, wait=True, points_selector=(
                self._models.PointIdsList(points=[point_id(i) for i in batch])))

    def stored_hashes(self) -> dict[str, str]:
        hashes: dict[str, str] = {}
        offset = None
        while self._exists:
            points, offset = self._client.scroll(
                self.collection, limit=_SCROLL_PAGE, offset=offset, with_vectors=False,
                with_payload=self._models.PayloadSelectorInclude(include=["id", "hash"]))
            hashes.update((p.payload["id"], p.payload["hash"]) for p in points)
            if offset is None:
                break
        return hashes

    def query(self, vector: np.ndarray, k: int) -> list[Hit]:
        if not self._exists:
            return []
        found = self._client.query_points(
            self.collection, query=np.asarray(vector, dtype=np.float32).tolist(), limit=k,
            with_payload=True)
        return [Hit(p.payload["id"], p.payload["doc_id"], p.payload["chunk"], p.payload["text"],
                    float(p.score), p.payload.get("metadata") or {}) for p in found.points]

    def count(self) -> int:
        if not self._exists:
            return 0
        return int(self._client.count(self.collection, exact=True).count)

    def dimension(self) -> int | None:
        if not self._exists:
            return None
        return int(self._client.get_collection(self.collection).config.params.vectors.size)

    def close(self) -> None:
        self._client.close()
