"""Every store test runs on both backends: ``store_target`` is a SQLite file or a fresh schema
in a real PostgreSQL server started once per session (see ``_postgres_server``)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchkit.store import SQLStore, open_store

from ._postgres_server import postgres_server


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def fresh_postgres(request: pytest.FixtureRequest) -> str:
    """A URL whose tables land in a schema of their own, so every test starts empty."""
    import psycopg

    url: str = request.getfixturevalue("postgres_url")
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{url}?options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's store lives, once per backend."""
    if request.param == "sqlite":
        return str(tmp_path / "store" / "jobs.db")
    url: str = request.getfixturevalue("fresh_postgres")
    return url


@pytest.fixture
def store(store_target: str) -> Iterator[SQLStore]:
    opened = open_store(store_target)
    yield opened
    opened.close()
