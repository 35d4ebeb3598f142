"""The job store: the journal that makes jobs resumable and nothing paid twice.

SQLite by default (one file under ``BATCHKIT_HOME``); PostgreSQL when ``BATCHKIT_STORE`` (or
``[store] url`` in batchkit.toml) is a ``postgresql://`` URL, so workers on several machines
share one store. Both are a :class:`SQLStore`, with the same queries and the same migrations.
"""

from __future__ import annotations

import os
from pathlib import Path

from .._config import batchkit_home, load_config
from .._exceptions import ConfigError
from ._records import Event, JobRecord, ShardRecord
from ._sql import SQLStore
from ._sqlite import SQLiteStore

__all__ = [
    "Event",
    "JobRecord",
    "SQLStore",
    "SQLiteStore",
    "ShardRecord",
    "default_store",
    "open_store",
    "store_target",
]

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_store(target: str | Path) -> SQLStore:
    """The store at ``target``: a ``postgresql://`` URL, a SQLite file path, or ``":memory:"``
    for a private in-memory one."""
    if isinstance(target, str) and target.startswith(_POSTGRES_SCHEMES):
        try:
            from ._postgres import PostgresStore
        except ImportError:
            raise ConfigError("a postgresql:// store needs psycopg: "
                              "pip install 'batchkit[postgres]'") from None
        return PostgresStore(target)
    return SQLiteStore(target)


def store_target() -> str | Path:
    """Where the default store is: ``BATCHKIT_STORE``, else ``[store] url`` in batchkit.toml,
    else ``$BATCHKIT_HOME/jobs.db``."""
    chosen = os.environ.get("BATCHKIT_STORE") or load_config().get("store", {}).get("url")
    if chosen:
        return str(chosen)
    return batchkit_home() / "jobs.db"


def default_store() -> SQLStore:
    """The store :func:`store_target` names."""
    return open_store(store_target())
