"""The test session's PostgreSQL server (``batchkit.testing._postgres``), or a skip naming the
package to install where the server binaries are missing, except in CI (``CI=true``), where a
missing server must fail the run rather than silently test one backend."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from batchkit.testing._postgres import MISSING, postgres_binaries, throwaway_postgres


@contextmanager
def postgres_server() -> Iterator[str]:
    """A fast throwaway server (no fsync: a crash of the test machine loses nothing we keep)."""
    if postgres_binaries() is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{MISSING} (CI=true: the PostgreSQL tests may not be skipped)")
        pytest.skip(MISSING)
    with throwaway_postgres({"fsync": "off"}) as url:
        yield url
