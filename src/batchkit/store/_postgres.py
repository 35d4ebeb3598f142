"""The job store on PostgreSQL (psycopg 3), for a team whose workers run on several machines.

Chosen by ``BATCHKIT_STORE=postgresql://user@host/db`` (or ``[store] url`` in batchkit.toml).
The queries are ``SQLStore``'s, the same as SQLite's; what differs is only how writers are kept
apart: where SQLite has one database-wide write lock, each write here locks the one job row it
touches (``SELECT ... FOR UPDATE``), so writers of different jobs never wait on each other.
Migrations run under a transaction-scoped advisory lock, so two processes starting against a
fresh database do not both create the tables. A connection lost (a server restart, a network
cut) is a one-line :class:`StoreError` for the call at hand and is opened afresh by the next
call, so a long-running worker rides out an outage.

psycopg is imported here only, and this module only when a PostgreSQL URL is used.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from .._exceptions import StoreError
from ._migrations import MIGRATIONS, statements
from ._sql import SQLStore

__all__ = ["PostgresStore", "safe_label"]

_MIGRATION_LOCK = 0x62617463686B6974  # "batchkit" as an advisory-lock number


def safe_label(url: str) -> str:
    """``postgresql://user@host:port/db`` for messages: never the password or other options."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unparseable URL)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"


class _Transaction:
    """``SQLStore``'s ``?`` placeholders on a psycopg connection (psycopg spells them ``%s``)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self._conn.execute(sql.replace("?", "%s"), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(sql.replace("?", "%s"), rows)


class PostgresStore(SQLStore):
    """The store in a PostgreSQL database. Thread-safe; safe across processes and machines."""

    def __init__(self, url: str) -> None:
        self.location = safe_label(url)
        self._url = url
        self._lock = threading.RLock()
        self._conn = self._connect("cannot open job store")
        self._migrate()

    def _connect(self, doing: str) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self._url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(f"{doing} {self.location}: {_first_line(exc)}") from None

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _session(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection (reopened if it was lost), with a lost one reported in one line."""
        with self._lock:
            if self._conn.closed or self._conn.broken:
                self._conn = self._connect("cannot reconnect to job store")
            try:
                yield self._conn
            except psycopg.OperationalError as exc:
                raise StoreError(f"job store {self.location}: {_first_line(exc)}") from None

    @contextmanager
    def _read(self) -> Iterator[_Transaction]:
        with self._session() as conn:
            yield _Transaction(conn)

    @contextmanager
    def _write(self, job_id: str | None = None) -> Iterator[_Transaction]:
        """One transaction; with ``job_id``, holding that job's row lock until it commits."""
        with self._session() as conn, conn.transaction():
            tx = _Transaction(conn)
            if job_id is not None:
                tx.execute("SELECT 1 FROM jobs WHERE id = ? FOR UPDATE", (job_id,))
            yield tx

    def _migrate(self) -> None:
        with self._write() as db:
            db.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            db.execute("CREATE TABLE IF NOT EXISTS _migrations"
                       " (name TEXT PRIMARY KEY, at DOUBLE PRECISION)")
            done = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
            for name, sql in MIGRATIONS:
                if name in done:
                    continue
                for statement in statements(sql, "postgresql"):
                    db.execute(statement)
                db.execute("INSERT INTO _migrations VALUES (?, ?)", (name, time.time()))


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
