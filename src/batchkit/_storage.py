"""Where batchkit reads request files and writes results: a local path or any fsspec URL.

Teams keep ten-million-row inputs and outputs in object storage, so every reader and writer
takes ``s3://``, ``gs://``, ``az://``, ``file://`` (or any other protocol fsspec knows) as well as a
path. Files are opened as streams: reads go through a buffered reader over fsspec's block cache,
writes through fsspec's buffered file, which uploads in parts as it fills; nothing holds a whole
file. fsspec and the protocol's package (s3fs, gcsfs, adlfs) are imported only when a URL is
used, with an install hint when missing.

Credentials come from where each package looks (AWS/Google/Azure environment and config files)
or from ``storage_options``, passed straight to fsspec. Those named like a key, secret, token or
password, and a password inside a URL, are registered with the redactor, and messages show a
URL without its user part (:func:`display_url`). In sandbox mode
(``BATCHKIT_SANDBOX``) ``s3://`` and ``gs://`` go to the emulators' object stores with dummy
keys, so a job can read and write buckets on 127.0.0.1 without an account.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from ._exceptions import BatchkitError, ConfigError, MissingDependencyError
from ._redact import register_secrets

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

__all__ = ["Target", "display_name", "display_url", "filesystem", "is_url", "open_target"]

Target = str | Path
"""A local path, or a URL such as ``s3://bucket/key.jsonl``."""

READ_BUFFER = 1 << 20
"""Bytes handed to the line reader at a time when iterating a URL."""
BLOCK_SIZE = 8 << 20
"""Bytes fetched per ranged read, and per uploaded part (S3 wants at least 5 MiB a part, Cloud
Storage a multiple of 256 KiB). The packages' own default (50 MiB for s3fs and gcsfs) would
hold a whole 40 MiB file in one block: this is what keeps memory flat."""

# The package each protocol needs, for the install hint (fsspec names it too, less plainly).
_PROTOCOL_PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs",
                      "az": "adlfs", "abfs": "adlfs", "abfss": "adlfs"}


def is_url(target: Target) -> bool:
    """True for ``protocol://...`` (``file://`` included); a ``Path`` is always local."""
    return isinstance(target, str) and "://" in target


def display_url(target: Target) -> str:
    """``target`` for a message: a URL without ``user:password@``."""
    text = str(target)
    if not is_url(text):
        return text
    parts = urlsplit(text)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host)) if "@" in parts.netloc else text


def display_name(target: Target) -> str:
    """The file name at the end of a path or URL (for messages and suffix checks)."""
    if is_url(target):
        return PurePosixPath(str(target).split("://", 1)[1].split("?", 1)[0]).name
    return Path(target).name


@contextmanager
def open_target(target: Target, mode: Literal["rb", "wb"],
                storage_options: dict[str, Any] | None = None) -> Iterator[IO[bytes]]:
    """A binary stream on ``target``; for a URL reading is buffered (fast line iteration),
    writing goes through fsspec's multipart-uploading file.

    A URL's object is written uncommitted (fsspec's ``autocommit=False``) and committed only
    when the block ends without an error: a failed export is discarded (a multipart upload
    aborted, a temporary file removed), not left as half an object. The store's own
    failures (refused, not found, a bad answer) are one :class:`BatchkitError` line naming the
    URL; a local path's are the usual ``OSError``.
    """
    if not is_url(target):
        with open(target, mode) as local:
            yield local
        return
    fs, path = filesystem(str(target), storage_options)
    if mode == "rb":
        reader = _store_call("open", target, lambda: fs.open(path, "rb", block_size=BLOCK_SIZE))
        with reader:
            yield io.BufferedReader(reader, READ_BUFFER)
        return
    writer = _store_call("open", target, lambda: fs.open(path, "wb", block_size=BLOCK_SIZE,
                                                         autocommit=False))
    try:
        yield writer
    except BaseException:
        with contextlib.suppress(Exception):  # the export's own error is the one to see
            writer.close()
            writer.discard()
        raise
    _store_call("write", target, lambda: (writer.close(), writer.commit()))


def _store_call(action: str, target: Target, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except (BatchkitError, FileNotFoundError, PermissionError, IsADirectoryError):
        raise  # a reader turns these into its own message, naming the line or the file
    except Exception as exc:
        raise BatchkitError(f"cannot {action} {display_url(target)!r}: "
                            f"{type(exc).__name__}: {exc}") from exc


def filesystem(url: str, storage_options: dict[str, Any] | None = None
               ) -> tuple[AbstractFileSystem, str]:
    """The fsspec filesystem for ``url`` and the path inside it."""
    try:
        import fsspec.core
    except ImportError:
        raise MissingDependencyError(
            f'reading or writing {url.split("://")[0]}:// URLs needs fsspec: '
            'pip install "batchkit[io]"') from None
    protocol = url.split("://", 1)[0]
    _register_secrets(url, storage_options)
    sandbox = _sandbox_store(protocol)
    options = {**(sandbox[1] if sandbox else {}), **(storage_options or {})}
    try:
        if sandbox and sandbox[0]:
            module, _, name = sandbox[0].partition(":")
            made = getattr(importlib.import_module(module), name)
            fs: AbstractFileSystem = made(**options)
            return fs, made._strip_protocol(url)
        fs, path = fsspec.core.url_to_fs(url, **options)
    except ImportError:
        package = _PROTOCOL_PACKAGES.get(protocol, f"the fsspec package for {protocol}://")
        raise MissingDependencyError(
            f'{protocol}:// URLs need {package}: pip install "batchkit[io]"'
            + ("" if protocol in ("s3", "gs") else f" {package}")) from None
    except ValueError as exc:
        raise ConfigError(f"cannot open {display_url(url)!r}: {exc}") from None
    return fs, path


_SECRET_WORDS = ("key", "secret", "token", "password", "credential", "sas")


def _register_secrets(url: str, storage_options: dict[str, Any] | None) -> None:
    """Credentials given with the URL never reach a message, a log line or a repr."""
    secrets = [v for k, v in (storage_options or {}).items()
               if isinstance(v, str) and any(word in k.lower() for word in _SECRET_WORDS)]
    secrets.append(urlsplit(url).password or "")
    register_secrets(secrets)


def _sandbox_store(protocol: str) -> tuple[str | None, dict[str, Any]] | None:
    """In sandbox mode, ``(filesystem class or None, options)`` that point ``s3://`` /
    ``gs://`` at the emulators with dummy keys; None otherwise or for other protocols."""
    if os.environ.get("BATCHKIT_SANDBOX", "") in ("", "0") or protocol not in _SANDBOX:
        return None
    from .providers.base import sandbox_url

    emulator, cls, make = _SANDBOX[protocol]
    url = sandbox_url(emulator)
    return None if url is None else (cls, make(url))


def _s3_sandbox(url: str) -> dict[str, Any]:
    return {"key": "sandbox", "secret": "sandbox", "endpoint_url": url,
            "client_kwargs": {"region_name": "us-east-1"}}


def _gcs_sandbox(url: str) -> dict[str, Any]:
    return {"endpoint_url": url, "token": "anon", "project": "batchkit-sandbox"}


# protocol -> (emulator, filesystem class to use instead of the registered one, options).
# gcsfs's registered class first asks the Storage Control gRPC API for a bucket's layout, which
# the emulator (the JSON API only) does not serve; its JSON-API base class is what it speaks.
_SANDBOX: dict[str, tuple[str, str | None, Callable[[str], dict[str, Any]]]] = {
    "s3": ("s3", None, _s3_sandbox), "s3a": ("s3", None, _s3_sandbox),
    "gs": ("gcs", "gcsfs.core:GCSFileSystem", _gcs_sandbox),
    "gcs": ("gcs", "gcsfs.core:GCSFileSystem", _gcs_sandbox)}
