"""A throwaway PostgreSQL server: a cluster in a temporary folder, on 127.0.0.1 only, for tests
and benchmarks of the PostgreSQL job store. It uses the server binaries of Debian's
``postgresql`` package (``/usr/lib/postgresql/*/bin``) or those on ``PATH``.

As root the server runs as the ``postgres`` user (PostgreSQL refuses to run as root); otherwise
as the current user. Only the loopback address and a socket in the temporary folder are opened.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from .._exceptions import ConfigError

__all__ = ["MISSING", "postgres_binaries", "throwaway_postgres"]

MISSING = ("PostgreSQL server binaries (initdb, pg_ctl) not found: "
           "install the Debian package `postgresql` (apt-get install -y postgresql)")


def postgres_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl (the newest installed version), or None."""
    for initdb in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True):
        return Path(initdb).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def throwaway_postgres(settings: Mapping[str, str] | None = None) -> Iterator[str]:
    """Start a fresh cluster with ``settings`` (``postgresql.conf`` names); yields the
    superuser's URL for database ``postgres``; stops the server and deletes the cluster after."""
    bindir = postgres_binaries()
    if bindir is None:
        raise ConfigError(MISSING)
    folder = Path(tempfile.mkdtemp(prefix="batchkit-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()
    chosen = {"listen_addresses": "127.0.0.1", "port": str(port),
              "unix_socket_directories": str(folder), "max_connections": "200", **(settings or {})}

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
            "--no-sync", "-E", "UTF8")
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"),
            "-o", " ".join(f"-c {k}={v}" for k, v in chosen.items()), "-w", "-t", "60", "start")
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
