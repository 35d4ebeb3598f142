"""A throwaway PostgreSQL server for the tests: initdb and pg_ctl from Debian's ``postgresql``
package, a cluster in a temporary folder, listening on 127.0.0.1 at a free port only.

As root the server runs as the ``postgres`` user (PostgreSQL refuses to run as root); otherwise
as the current user. Where the binaries are missing the PostgreSQL tests skip with the package
to install, except in CI (``CI=true``), where a missing server must fail the run rather than
silently test one backend.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

MISSING = ("PostgreSQL server binaries (initdb, pg_ctl) not found: "
           "install the Debian package `postgresql` (apt-get install -y postgresql)")


def _bin_dir() -> Path | None:
    for initdb in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True):
        return Path(initdb).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the PostgreSQL tests may not be skipped)")
    pytest.skip(reason)


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a cluster; yields the superuser's URL for database ``postgres``; stops it after."""
    bindir = _bin_dir()
    if bindir is None:
        skip_or_fail(MISSING)
        raise AssertionError("unreachable")
    as_postgres = os.geteuid() == 0
    folder = Path(tempfile.mkdtemp(prefix="batchkit-pg-"))
    data = folder / "data"
    prefix: list[str] = []
    if as_postgres:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
            "--no-sync", "-E", "UTF8")
        options = (f"-c listen_addresses=127.0.0.1 -c port={port} "
                   f"-c unix_socket_directories={folder} -c fsync=off -c max_connections=200")
        run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
            str(folder / "server.log"), "-w", "-t", "60", "start")
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
