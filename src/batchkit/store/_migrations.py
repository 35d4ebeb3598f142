"""The store's schema, as one append-only list of migrations for every backend.

Each migration is written once. The few words the two engines spell differently are
placeholders filled per dialect (``{real}``: a double-precision float, which PostgreSQL's own
``REAL`` is not; ``{serial_key}``: an auto-numbered primary key), so SQLite's text is exactly
what it always was and PostgreSQL gets the same tables, column for column.

Append-only: never edit a migration that has shipped, add a new one.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["MIGRATIONS", "Dialect", "statements"]

Dialect = Literal["sqlite", "postgresql"]

_SPELLINGS: dict[Dialect, dict[str, str]] = {
    "sqlite": {"real": "REAL", "serial_key": "INTEGER PRIMARY KEY AUTOINCREMENT"},
    "postgresql": {"real": "DOUBLE PRECISION", "serial_key": "BIGSERIAL PRIMARY KEY"},
}

MIGRATIONS: list[tuple[str, str]] = [
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
            created_at {real} NOT NULL,
            updated_at {real} NOT NULL,
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
            counts TEXT NOT NULL DEFAULT '{{}}',
            errors TEXT NOT NULL DEFAULT '[]',
            result_paths TEXT,
            updated_at {real} NOT NULL,
            PRIMARY KEY (job_id, idx)
        );
        CREATE TABLE events (
            id {serial_key},
            job_id TEXT NOT NULL,
            shard_idx INTEGER,
            old_state TEXT,
            new_state TEXT NOT NULL,
            at {real} NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX events_job ON events(job_id);
        """,
    ),
    ("002_job_estimate", "ALTER TABLE jobs ADD COLUMN estimate TEXT"),
    ("003_job_actual_cost", "ALTER TABLE jobs ADD COLUMN actual_cost_usd {real}"),
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
        ALTER TABLE shards ADD COLUMN send_started {real};
        UPDATE shards SET send_started = updated_at WHERE remote_id IS NULL
        """,
    ),
    (
        # A lease on the job row: who may submit, collect or plan a retry round of the job
        # now, and until when (see ``_lease``); and when a worker found it finished for good.
        "007_job_leases",
        """
        ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
        ALTER TABLE jobs ADD COLUMN lease_expires {real};
        ALTER TABLE jobs ADD COLUMN settled_at {real};
        CREATE INDEX jobs_open ON jobs(settled_at, created_at)
        """,
    ),
]


def statements(sql: str, dialect: Dialect) -> list[str]:
    """The migration's statements, one per item, spelt for ``dialect``."""
    return [s for s in sql.format(**_SPELLINGS[dialect]).split(";") if s.strip()]
