"""A PostgreSQL store whose connection is cut (server restart, network) reports it in one line
and reconnects on the next call, so a long-running worker rides out the outage."""

from __future__ import annotations

import psycopg
import pytest

import batchkit as bk
from batchkit.store._postgres import PostgresStore


def test_a_cut_connection_is_one_error_then_reopened(fresh_postgres: str) -> None:
    store = PostgresStore(fresh_postgres)
    assert store.unsettled_jobs() == []
    pid = store._conn.info.backend_pid
    with psycopg.connect(fresh_postgres, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(bk.StoreError) as caught:
        store.unsettled_jobs()
    assert "\n" not in str(caught.value) and "postgresql://postgres@127.0.0.1" in str(caught.value)
    assert store.unsettled_jobs() == []  # reconnected
    assert store._conn.info.backend_pid != pid
    store.close()
