"""Without the server binaries the PostgreSQL tests skip on a developer's machine, naming the
package, and fail under CI=true."""

from __future__ import annotations

import pytest

from tests.store import _postgres_server


@pytest.fixture
def no_binaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_postgres_server, "postgres_binaries", lambda: None)


@pytest.mark.usefixtures("no_binaries")
def test_missing_server_skips_with_the_package_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Debian package `postgresql`"), \
            _postgres_server.postgres_server():
        pass


@pytest.mark.usefixtures("no_binaries")
def test_missing_server_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="may not be skipped"), \
            _postgres_server.postgres_server():
        pass
