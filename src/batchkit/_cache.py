"""An opt-in local cache of finished results, so re-running a job does not buy them again.

A result is cached under a digest of the provider string and the exact vendor line that was
sent, with the request's id left blank: the same request to the same model, byte for byte.
Only ``succeeded`` results are kept (a failure is worth asking again). The cache is a SQLite file
``$BATCHKIT_HOME/cache.db``, private to the user; it holds replies, never credentials.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ._config import batchkit_home
from ._results import Choice, ErrorInfo, Moderation, Result, Usage
from ._tools import ToolCall

__all__ = ["ResultCache", "result_from_dict"]

_FLUSH_EVERY = 1000


def result_from_dict(data: dict[str, Any]) -> Result:
    """Rebuild a Result from :meth:`Result.to_dict` (the caller re-parses ``parsed``).

    JSON keeps no numpy type, so the cache stores each typed vector's dtype beside it
    (``dtypes``): an int8 or bit-packed uint8 vector must come back as it was sent out.
    """
    vectors = data.get("embeddings_by_type")
    dtypes = data.get("dtypes") or {}
    return Result(
        custom_id=data["custom_id"],
        status=data["status"],
        text=data.get("text"),
        embedding=None if data.get("embedding") is None
        else np.asarray(data["embedding"], dtype=np.float32),
        embeddings_by_type={k: np.asarray(v, dtype=dtypes.get(k)) for k, v in vectors.items()}
        if vectors else None,
        finish_reason=data.get("finish_reason"),
        usage=Usage(**data["usage"]) if data.get("usage") else None,
        error=ErrorInfo(**data["error"]) if data.get("error") else None,
        metadata=data.get("metadata") or {},
        raw=data.get("raw"),
        tool_calls=_tool_calls(data.get("tool_calls")),
        reasoning=data.get("reasoning"),
        refusal=data.get("refusal"),
        choices=None if data.get("choices") is None else [
            Choice(**{**c, "tool_calls": _tool_calls(c.get("tool_calls"))})
            for c in data["choices"]],
        logprobs=data.get("logprobs"),
        vendor_finish_reason=data.get("vendor_finish_reason"),
        moderation=None if data.get("moderation") is None
        else [Moderation(**m) for m in data["moderation"]],
    )


def _tool_calls(items: list[dict[str, Any]] | None) -> list[ToolCall]:
    return [ToolCall(**item) for item in items or ()]


class ResultCache:
    """Results by request digest. Writes are buffered and committed in batches."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else batchkit_home() / "cache.db"
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        self._conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, result BLOB NOT NULL,"
            " created_at REAL NOT NULL)"
        )
        self._pending: list[tuple[str, bytes, float]] = []

    @staticmethod
    def key(provider: str, line_without_id: bytes) -> str:
        return hashlib.blake2b(provider.encode() + b"\n" + line_without_id,
                               digest_size=20).hexdigest()

    def __contains__(self, key: str) -> bool:
        row = self._conn.execute("SELECT 1 FROM results WHERE key = ?", (key,)).fetchone()
        return row is not None

    def get(self, key: str) -> Result | None:
        row = self._conn.execute("SELECT result FROM results WHERE key = ?", (key,)).fetchone()
        return None if row is None else result_from_dict(orjson.loads(row[0]))

    def put(self, key: str, result: Result) -> None:
        """Remember a succeeded result (others are ignored); call :meth:`flush` at the end."""
        if result.status != "succeeded":
            return
        record = result.to_dict(include_raw=True)
        if result.embeddings_by_type:
            record["dtypes"] = {k: v.dtype.str for k, v in result.embeddings_by_type.items()}
        data = orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY)
        self._pending.append((key, data, time.time()))
        if len(self._pending) >= _FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        self._conn.execute("BEGIN IMMEDIATE")
        self._conn.executemany(
            "INSERT OR REPLACE INTO results VALUES (?, ?, ?)", self._pending
        )
        self._conn.execute("COMMIT")
        self._pending.clear()

    def close(self) -> None:
        self.flush()
        self._conn.close()
