"""The job store on SQLite (stdlib ``sqlite3``), one file under ``BATCHKIT_HOME``.

Why SQLite: jobs outlive processes, a crash must never lose a journaled shard, and two processes
(a ``batchkit wait`` beside a notebook) may work on the same job. WAL mode lets readers proceed
while one writer commits; every write is one ``BEGIN IMMEDIATE`` transaction that re-reads the
current state and applies the transition table, so a stale poll cannot move a shard backwards.

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
from typing import Any

import orjson

from .._exceptions import JobNotFoundError, StoreError
from .._state import JobState, aggregate_state, can_transition
from ._records import Event, JobRecord, ShardRecord

__all__ = ["SQLiteStore"]

# Append-only: never edit a migration that has shipped, add a new one.
_MIGRATIONS: list[tuple[str, str]] = [
    (
        "001_initial",
        """
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            state TEXT NOT NULL,
            request_count INTEGER NOT NULL,
            folder TEXT NOT NULL,
            options TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            cancel_requested INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE shards (
            job_id TEXT NOT NULL REFERENCES jobs(id),
            idx INTEGER NOT NULL,
            key TEXT NOT NULL UNIQUE,
            grp TEXT NOT NULL,
            request_count INTEGER NOT NULL,
            payload_path TEXT NOT NULL,
            requests_path TEXT NOT NULL,
            state TEXT NOT NULL,
            remote_id TEXT,
            vendor_status TEXT,
            counts TEXT NOT NULL DEFAULT '{}',
            errors TEXT NOT NULL DEFAULT '[]',
            result_paths TEXT,
            updated_at REAL NOT NULL,
            PRIMARY KEY (job_id, idx)
        );
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id TEXT NOT NULL,
            shard_idx INTEGER,
            old_state TEXT,
            new_state TEXT NOT NULL,
            at REAL NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX events_job ON events(job_id);
        """,
    ),
    ("002_job_estimate", "ALTER TABLE jobs ADD COLUMN estimate TEXT"),
    ("003_job_actual_cost", "ALTER TABLE jobs ADD COLUMN actual_cost_usd REAL"),
    (
        "004_retry_rounds",
        """
        ALTER TABLE jobs ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE shards ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1
        """,
    ),
    ("005_shard_input_tokens", "ALTER TABLE shards ADD COLUMN input_tokens INTEGER"),
    (
        # Shards journaled before this column existed may have had a create sent: they keep
        # being looked up by key before a new create, as they always were.
        "006_shard_send_started",
        """
        ALTER TABLE shards ADD COLUMN send_started REAL;
        UPDATE shards SET send_started = updated_at WHERE remote_id IS NULL
        """,
    ),
]


class SQLiteStore:
    """Jobs, shards and state-change events. Thread-safe; safe across processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            _create_private(Path(self.path))
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA busy_timeout = 30000")
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode = WAL")
                self._conn.execute("PRAGMA synchronous = NORMAL")
            self._lock = threading.RLock()
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open job store {self.path}: {exc}") from None

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
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
        with self._write() as db:
            db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, at REAL)")
            done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
            for name, sql in _MIGRATIONS:
                if name in done:
                    continue
                for statement in filter(str.strip, sql.split(";")):
                    db.execute(statement)
                db.execute("INSERT INTO _migrations VALUES (?, ?)", (name, time.time()))

    # -- jobs ---------------------------------------------------------------------------------

    def create_job(self, job: JobRecord, shards: list[ShardRecord]) -> None:
        """Record a job and all its shards at once: the journal entry before any vendor call."""
        now = time.time()
        job.created_at = job.updated_at = now
        with self._write() as db:
            db.execute(
                "INSERT INTO jobs (id, provider, state, request_count, folder, options,"
                " created_at, updated_at, estimate, retries) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.id, job.provider, job.state.value, job.request_count, job.folder,
                    orjson.dumps(job.options).decode(), now, now,
                    None if job.estimate is None else orjson.dumps(job.estimate).decode(),
                    job.retries,
                ),
            )
            _insert_shards(db, shards, now)
            _event(db, job.id, None, None, job.state.value, "journaled")
            self._refresh_job_state(db, job.id)  # shards may be born done (cached results)

    def add_shards(self, job_id: str, shards: list[ShardRecord], detail: str) -> bool:
        """Journal follow-up shards (a retry round) of an existing job, all or none.

        Returns False, adding nothing, if shards of that attempt are already journaled: two
        processes waiting on one job plan the same round, and only the first may record it.
        """
        now = time.time()
        with self._write() as db:
            attempts = {s.attempt for s in shards}
            placeholders = ", ".join("?" * len(attempts))
            if db.execute(
                f"SELECT 1 FROM shards WHERE job_id = ? AND attempt IN ({placeholders})",
                (job_id, *attempts),
            ).fetchone():
                return False
            _insert_shards(db, shards, now)
            _event(db, job_id, None, None, "retry_journaled", detail)
            self._refresh_job_state(db, job_id)
            return True

    def get_job(self, job_id: str) -> JobRecord:
        with self._lock:
            row = self._conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFoundError(f"no job {job_id!r} in {self.path}")
        return _job_from_row(row)

    def list_jobs(self, limit: int = 50) -> list[JobRecord]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM jobs ORDER BY created_at DESC, id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_job_from_row(r) for r in rows]

    def set_actual_cost(self, job_id: str, cost_usd: float | None) -> None:
        """Record what the finished job cost (from its results' usage)."""
        with self._write() as db:
            db.execute("UPDATE jobs SET actual_cost_usd = ? WHERE id = ?", (cost_usd, job_id))

    def request_cancel(self, job_id: str) -> None:
        with self._write() as db:
            db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
            _event(db, job_id, None, None, "cancel_requested", "")

    # -- shards -------------------------------------------------------------------------------

    def get_shards(self, job_id: str) -> list[ShardRecord]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM shards WHERE job_id = ? ORDER BY idx", (job_id,)
            ).fetchall()
        return [_shard_from_row(r) for r in rows]

    def mark_send_started(self, job_id: str, index: int) -> None:
        """Record, before the vendor's create is called, that a create may now exist."""
        with self._write() as db:
            db.execute(
                "UPDATE shards SET send_started = ? WHERE job_id = ? AND idx = ?"
                " AND send_started IS NULL", (time.time(), job_id, index),
            )

    def set_remote_id(self, job_id: str, index: int, remote_id: str) -> str:
        """Record the vendor id of a shard, unless one is already recorded; returns the kept id."""
        with self._write() as db:
            row = db.execute(
                "SELECT remote_id FROM shards WHERE job_id = ? AND idx = ?", (job_id, index)
            ).fetchone()
            if row[0] is not None:
                return str(row[0])
            db.execute(
                "UPDATE shards SET remote_id = ?, updated_at = ? WHERE job_id = ? AND idx = ?",
                (remote_id, time.time(), job_id, index),
            )
            _event(db, job_id, index, None, "submitted", remote_id)
            return remote_id

    def update_shard(
        self,
        job_id: str,
        index: int,
        *,
        state: JobState | None = None,
        vendor_status: str | None = None,
        counts: dict[str, int] | None = None,
        errors: list[dict[str, Any]] | None = None,
        result_paths: list[str] | None = None,
    ) -> bool:
        """Apply what a poll or a download learned. Returns False if the state change was stale.

        A state change the transition table forbids (a slower process reporting an older status)
        is ignored rather than raised: the vendor never moves backwards, so the newer write wins.
        """
        with self._write() as db:
            row = db.execute(
                "SELECT state FROM shards WHERE job_id = ? AND idx = ?", (job_id, index)
            ).fetchone()
            if row is None:
                raise JobNotFoundError(f"no shard {index} in job {job_id!r}")
            current = JobState(row[0])
            if state is not None and not can_transition(current, state):
                return False
            sets: dict[str, Any] = {"updated_at": time.time()}
            if state is not None:
                sets["state"] = state.value
            if vendor_status is not None:
                sets["vendor_status"] = vendor_status
            if counts is not None:
                sets["counts"] = orjson.dumps(counts).decode()
            if errors is not None:
                sets["errors"] = orjson.dumps(errors).decode()
            if result_paths is not None:
                sets["result_paths"] = orjson.dumps(result_paths).decode()
            assignments = ", ".join(f"{k} = ?" for k in sets)
            db.execute(
                f"UPDATE shards SET {assignments} WHERE job_id = ? AND idx = ?",
                (*sets.values(), job_id, index),
            )
            if state is not None and state != current:
                _event(db, job_id, index, current.value, state.value, vendor_status or "")
                self._refresh_job_state(db, job_id)
            return True

    def _refresh_job_state(self, db: sqlite3.Connection, job_id: str) -> None:
        states = [JobState(r[0]) for r in db.execute(
            "SELECT state FROM shards WHERE job_id = ?", (job_id,)
        )]
        new = aggregate_state(states)
        old = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
        if new.value != old:
            db.execute(
                "UPDATE jobs SET state = ?, updated_at = ? WHERE id = ?",
                (new.value, time.time(), job_id),
            )
            _event(db, job_id, None, old, new.value, "")

    def events(self, job_id: str) -> list[Event]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT job_id, shard_idx, old_state, new_state, at, detail FROM events"
                " WHERE job_id = ? ORDER BY id",
                (job_id,),
            ).fetchall()
        return [Event(*row) for row in rows]


def _insert_shards(db: sqlite3.Connection, shards: list[ShardRecord], now: float) -> None:
    db.executemany(
        "INSERT INTO shards (job_id, idx, key, grp, request_count, payload_path,"
        " requests_path, state, updated_at, attempt, input_tokens)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (s.job_id, s.index, s.key, s.group, s.request_count, s.payload_path,
             s.requests_path, s.state.value, now, s.attempt, s.input_tokens)
            for s in shards
        ],
    )


def _create_private(path: Path) -> None:
    """Create the database file (and its folder) readable by the owner only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def _event(
    db: sqlite3.Connection,
    job_id: str,
    shard_idx: int | None,
    old: str | None,
    new: str,
    detail: str,
) -> None:
    db.execute(
        "INSERT INTO events (job_id, shard_idx, old_state, new_state, at, detail)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (job_id, shard_idx, old, new, time.time(), detail),
    )


def _job_from_row(row: tuple[Any, ...]) -> JobRecord:
    return JobRecord(
        id=row[0], provider=row[1], state=JobState(row[2]), request_count=row[3],
        folder=row[4], options=orjson.loads(row[5]), created_at=row[6], updated_at=row[7],
        cancel_requested=bool(row[8]), estimate=orjson.loads(row[9]) if row[9] else None,
        actual_cost_usd=row[10], retries=row[11],
    )


def _shard_from_row(row: tuple[Any, ...]) -> ShardRecord:
    return ShardRecord(
        job_id=row[0], index=row[1], key=row[2], group=row[3], request_count=row[4],
        payload_path=row[5], requests_path=row[6], state=JobState(row[7]), remote_id=row[8],
        vendor_status=row[9], counts=orjson.loads(row[10]), errors=orjson.loads(row[11]),
        result_paths=orjson.loads(row[12]) if row[12] is not None else None,
        updated_at=row[13], attempt=row[14], input_tokens=row[15], send_started=row[16],
    )
