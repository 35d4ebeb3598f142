"""The local job store: the journal that makes jobs resumable and nothing paid twice."""

from __future__ import annotations

from pathlib import Path

from .._config import batchkit_home
from ._records import Event, JobRecord, ShardRecord
from ._sqlite import SQLiteStore

__all__ = ["Event", "JobRecord", "SQLiteStore", "ShardRecord", "default_store", "open_store"]


def open_store(path: str | Path) -> SQLiteStore:
    """A store at ``path``; ``":memory:"`` for a private in-memory one."""
    return SQLiteStore(path)


def default_store() -> SQLiteStore:
    """The store at ``$BATCHKIT_HOME/jobs.db``."""
    return SQLiteStore(batchkit_home() / "jobs.db")
