"""The job store's queries, written once for every SQL backend.

A backend (``_sqlite``, ``_postgres``) supplies connections and transactions; everything a
store does with them lives here, so the two backends cannot drift apart. The SQL uses ``?``
placeholders and only what SQLite and PostgreSQL both accept (``RETURNING``, ``ON CONFLICT``).

Every write is one transaction that re-reads the current state and applies the transition
table, so a stale poll cannot move a shard backwards. A backend's ``_write(job_id)`` must keep
two writers of the same job from interleaving: SQLite takes its database-wide write lock,
PostgreSQL locks the job's row.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import orjson

from .._exceptions import JobNotFoundError
from .._state import JobState, aggregate_state, can_transition
from ._records import Event, JobRecord, ShardRecord

__all__ = ["SQLStore", "Transaction"]

_JOB_COLUMNS = ("id, provider, state, request_count, folder, options, created_at, updated_at,"
                " cancel_requested, estimate, actual_cost_usd, retries, settled_at")
_SHARD_COLUMNS = ("job_id, idx, key, grp, request_count, payload_path, requests_path, state,"
                  " remote_id, vendor_status, counts, errors, result_paths, updated_at, attempt,"
                  " input_tokens, send_started")


class Rows(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Transaction(Protocol):
    """What the queries need of a backend's connection inside a transaction."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any: ...


class SQLStore(ABC):
    """Jobs, shards, state-change events and job leases. Thread-safe; safe across processes."""

    location: str
    """Where the store is, for messages (never with a password in it)."""

    @abstractmethod
    def _write(self, job_id: str | None = None) -> AbstractContextManager[Transaction]:
        """One write transaction; with ``job_id``, no other writer of that job interleaves."""

    @abstractmethod
    def _read(self) -> AbstractContextManager[Transaction]:
        """A consistent read."""

    @abstractmethod
    def close(self) -> None: ...

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
            _refresh_job_state(db, job.id)  # shards may be born done (cached results)

    def add_shards(self, job_id: str, shards: list[ShardRecord], detail: str) -> bool:
        """Journal follow-up shards (a retry round) of an existing job, all or none.

        Returns False, adding nothing, if shards of that attempt are already journaled: two
        processes waiting on one job plan the same round, and only the first may record it.
        """
        now = time.time()
        with self._write(job_id) as db:
            attempts = sorted({s.attempt for s in shards})
            placeholders = ", ".join("?" * len(attempts))
            if db.execute(
                f"SELECT 1 FROM shards WHERE job_id = ? AND attempt IN ({placeholders})",
                (job_id, *attempts),
            ).fetchone():
                return False
            _insert_shards(db, shards, now)
            _event(db, job_id, None, None, "retry_journaled", detail)
            _refresh_job_state(db, job_id)
            return True

    def get_job(self, job_id: str) -> JobRecord:
        with self._read() as db:
            row = db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFoundError(f"no job {job_id!r} in {self.location}")
        return _job_from_row(row)

    def list_jobs(self, limit: int = 50) -> list[JobRecord]:
        with self._read() as db:
            rows = db.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs ORDER BY created_at DESC, id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [_job_from_row(r) for r in rows]

    def unsettled_jobs(self) -> list[str]:
        """Ids of the jobs no worker has yet found finished for good, oldest first."""
        with self._read() as db:
            rows = db.execute(
                "SELECT id FROM jobs WHERE settled_at IS NULL ORDER BY created_at, id"
            ).fetchall()
        return [str(r[0]) for r in rows]

    def settle(self, job_id: str) -> None:
        """Record that the job needs nothing more (finished, collected, no retry round due)."""
        with self._write() as db:  # one UPDATE: it locks the row itself
            db.execute("UPDATE jobs SET settled_at = ? WHERE id = ?", (time.time(), job_id))

    def set_actual_cost(self, job_id: str, cost_usd: float | None) -> None:
        """Record what the finished job cost (from its results' usage)."""
        with self._write() as db:  # one UPDATE: it locks the row itself
            db.execute("UPDATE jobs SET actual_cost_usd = ? WHERE id = ?", (cost_usd, job_id))

    def delete_job(self, job_id: str) -> None:
        """Remove the job, its shards and its events (``batchkit forget``); the caller has
        checked that no vendor may still be billing it."""
        with self._write(job_id) as db:
            for table in ("events", "shards"):
                db.execute(f"DELETE FROM {table} WHERE job_id = ?", (job_id,))
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def request_cancel(self, job_id: str) -> None:
        with self._write(job_id) as db:
            db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
            _event(db, job_id, None, None, "cancel_requested", "")

    # -- leases -------------------------------------------------------------------------------

    def take_lease(
        self, job_id: str, owner: str, seconds: float, *, replacing: str | None = None
    ) -> bool:
        """Lease the job to ``owner`` for ``seconds`` unless someone else holds an unexpired
        lease (other than ``replacing``, a holder known to be dead); True if ``owner`` holds
        it now. Taking one's own lease again extends it.

        Expiry is judged by the callers' clocks, which need only agree to well within a
        lease's length (seconds, not milliseconds)."""
        now = time.time()
        with self._write() as db:  # one UPDATE: it locks the row itself
            rows = db.execute(
                "UPDATE jobs SET lease_owner = ?, lease_expires = ? WHERE id = ? AND"
                " (lease_owner IS NULL OR lease_owner IN (?, ?) OR lease_expires < ?)"
                " RETURNING id",
                (owner, now + seconds, job_id, owner, replacing or owner, now),
            ).fetchall()
        return bool(rows)

    def lease_holder(self, job_id: str) -> str | None:
        """Who holds the job's lease, expired or not (None: nobody)."""
        with self._read() as db:
            row = db.execute("SELECT lease_owner FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def renew_lease(self, job_id: str, owner: str, seconds: float) -> bool:
        """Extend ``owner``'s lease; False if it was lost (expired and taken by another)."""
        with self._write() as db:  # one UPDATE: it locks the row itself
            rows = db.execute(
                "UPDATE jobs SET lease_expires = ? WHERE id = ? AND lease_owner = ? RETURNING id",
                (time.time() + seconds, job_id, owner),
            ).fetchall()
        return bool(rows)

    def release_lease(self, job_id: str, owner: str) -> None:
        with self._write() as db:  # one UPDATE: it locks the row itself
            db.execute(
                "UPDATE jobs SET lease_owner = NULL, lease_expires = NULL"
                " WHERE id = ? AND lease_owner = ?", (job_id, owner),
            )

    # -- shards -------------------------------------------------------------------------------

    def get_shards(self, job_id: str) -> list[ShardRecord]:
        with self._read() as db:
            rows = db.execute(
                f"SELECT {_SHARD_COLUMNS} FROM shards WHERE job_id = ? ORDER BY idx", (job_id,)
            ).fetchall()
        return [_shard_from_row(r) for r in rows]

    def mark_send_started(self, job_id: str, index: int) -> None:
        """Record, before the vendor's create is called, that a create may now exist."""
        with self._write() as db:  # one UPDATE: it locks the row itself
            db.execute(
                "UPDATE shards SET send_started = ? WHERE job_id = ? AND idx = ?"
                " AND send_started IS NULL", (time.time(), job_id, index),
            )

    def set_remote_id(self, job_id: str, index: int, remote_id: str) -> str:
        """Record the vendor id of a shard, unless one is already recorded; returns the kept id."""
        with self._write(job_id) as db:
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
        with self._write(job_id) as db:
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
                _refresh_job_state(db, job_id)
            return True

    def events(self, job_id: str) -> list[Event]:
        with self._read() as db:
            rows = db.execute(
                "SELECT job_id, shard_idx, old_state, new_state, at, detail FROM events"
                " WHERE job_id = ? ORDER BY id",
                (job_id,),
            ).fetchall()
        return [Event(*row) for row in rows]


def _refresh_job_state(db: Transaction, job_id: str) -> None:
    states = [JobState(r[0]) for r in db.execute(
        "SELECT state FROM shards WHERE job_id = ?", (job_id,)
    ).fetchall()]
    new = aggregate_state(states)
    old = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
    if new.value != old:
        db.execute(
            "UPDATE jobs SET state = ?, updated_at = ? WHERE id = ?",
            (new.value, time.time(), job_id),
        )
        _event(db, job_id, None, old, new.value, "")


def _insert_shards(db: Transaction, shards: list[ShardRecord], now: float) -> None:
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


def _event(
    db: Transaction,
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


def _job_from_row(row: Sequence[Any]) -> JobRecord:
    return JobRecord(
        id=row[0], provider=row[1], state=JobState(row[2]), request_count=row[3],
        folder=row[4], options=orjson.loads(row[5]), created_at=row[6], updated_at=row[7],
        cancel_requested=bool(row[8]), estimate=orjson.loads(row[9]) if row[9] else None,
        actual_cost_usd=row[10], retries=row[11], settled_at=row[12],
    )


def _shard_from_row(row: Sequence[Any]) -> ShardRecord:
    return ShardRecord(
        job_id=row[0], index=row[1], key=row[2], group=row[3], request_count=row[4],
        payload_path=row[5], requests_path=row[6], state=JobState(row[7]), remote_id=row[8],
        vendor_status=row[9], counts=orjson.loads(row[10]), errors=orjson.loads(row[11]),
        result_paths=orjson.loads(row[12]) if row[12] is not None else None,
        updated_at=row[13], attempt=row[14], input_tokens=row[15], send_started=row[16],
    )

