"""The job store on SQLite (stdlib ``sqlite3``), one file under ``BATCHKIT_HOME``.

Why SQLite: jobs outlive processes, a crash must never lose a journaled shard, and two processes
(a ``batchkit wait`` beside a notebook, several ``batchkit worker``) may work on the same job.
WAL mode lets readers proceed while one writer commits; every write is one ``BEGIN IMMEDIATE``
transaction, which also serialises the writers of any one job as ``SQLStore`` requires. The
queries themselves are ``SQLStore``'s, shared with the PostgreSQL store.

``":memory:"`` gives a private in-memory store with the same code path, for tests.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .._clock import Backoff
from .._exceptions import StoreError
from ._integrity import backup_before_migrations, check_before_open, refuse_forgotten_jobs
from ._journaled import JournaledStore
from ._migrations import MIGRATIONS, statements

__all__ = ["SQLiteStore"]


class SQLiteStore(JournaledStore):
    """The store in one SQLite file. Thread-safe; safe across processes on one machine.

    ``verify=False`` skips the checks that refuse a lost or broken store (``_integrity``):
    only ``batchkit doctor`` opens a store that way, to report on it or rebuild it.
    """

    def __init__(self, path: str | Path, *, verify: bool = True) -> None:
        self.path = self.location = str(path)
        if self.path != ":memory:":
            if verify:
                check_before_open(Path(self.path))
            _create_private(Path(self.path))
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA busy_timeout = 30000")
            if self.path != ":memory:":
                _use_wal(self._conn)
                self._conn.execute("PRAGMA synchronous = NORMAL")
            self._lock = threading.RLock()
            self._migrate()
            if verify:
                has_jobs = self._conn.execute("SELECT 1 FROM jobs LIMIT 1").fetchone()
                refuse_forgotten_jobs(self.path, has_jobs is not None)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open job store {self.path}: {exc}; run `batchkit doctor`"
                             " to check it") from None

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    @contextmanager
    def _write(self, job_id: str | None = None) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: other writers wait, readers carry on (WAL)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _migrate(self) -> None:
        with self._lock:
            backup_before_migrations(self._conn, self.path, [name for name, _ in MIGRATIONS])
        with self._write() as db:
            db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, at REAL)")
            done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
            for name, sql in MIGRATIONS:
                if name in done:
                    continue
                for statement in statements(sql, "sqlite"):
                    db.execute(statement)
                db.execute("INSERT INTO _migrations VALUES (?, ?)", (name, time.time()))


def _use_wal(conn: sqlite3.Connection, wait_s: float = 30.0) -> None:
    """Put the store in WAL mode (kept in the file, so its first opener does it).

    Why a loop: switching a file's journal needs the file to itself, and SQLite answers
    "database is locked" at once, not after its busy timeout, when another connection opens
    the same new store at that moment (as async jobs started together from one event loop
    do: 21 of 600 such opens failed, three threads at a time).
    """
    deadline, pauses = time.monotonic() + wait_s, Backoff(initial=0.001, factor=2, maximum=0.05)
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pauses.next_delay())


def _create_private(path: Path) -> None:
    """Create the database file (and its folder) readable by the owner only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
