"""Which store a process uses: BATCHKIT_STORE, then [store] url in batchkit.toml, then SQLite
under BATCHKIT_HOME; a PostgreSQL password never reaches a message."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import batchkit as bk
from batchkit.store import SQLiteStore, default_store
from batchkit.store._postgres import PostgresStore


def test_sqlite_under_the_home_by_default(_isolated_home: Path) -> None:
    store = default_store()
    assert isinstance(store, SQLiteStore) and store.path == str(_isolated_home / "jobs.db")


def test_the_environment_then_the_config_file_choose_postgres(
    fresh_postgres: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "batchkit.toml").write_text(f'[store]\nurl = "{fresh_postgres}"\n')
    from_file = default_store()
    assert isinstance(from_file, PostgresStore)
    job = bk.submit([bk.ChatRequest(custom_id="a", messages=[{"role": "user", "content": "hi"}])],
                    "fake:m", options={"states": ["completed"]})
    assert [j.id for j in from_file.list_jobs()] == [job.id]  # submit used the same store
    monkeypatch.setenv("BATCHKIT_STORE", str(tmp_path / "other.db"))
    assert isinstance(default_store(), SQLiteStore)  # the environment wins over the file


def test_a_password_never_reaches_a_message() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://team:s3cret-pw@127.0.0.1:{port}/jobs?sslmode=disable"
    with pytest.raises(bk.StoreError) as caught:
        PostgresStore(url)
    message = str(caught.value)
    assert "s3cret-pw" not in message and "\n" not in message
    assert f"postgresql://team@127.0.0.1:{port}/jobs" in message
