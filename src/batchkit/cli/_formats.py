"""Files in and out of the CLI: paths or fsspec URLs, and result formats by extension.

Every command reads its input with :data:`SOURCE` (a local file that must exist, or an
``s3://``, ``gs://``, ... URL read as a stream) and writes results through :func:`write_results`
(``-o FILE``), whose extension picks the format. An unknown extension is refused before any work
is done, instead of silently writing JSONL under a ``.csv`` name; a format that cannot hold the
job (a chat job as an ``.npy`` matrix) is refused with one line and the half-written file removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import Any

import click

from .._exceptions import ConfigError
from .._export import write_npy, write_parquet
from .._results import Result, write_jsonl
from .._storage import Target, display_name, is_url

__all__ = ["DESTINATION", "OUTPUT_FORMATS", "SOURCE", "output_writer", "write_results"]

Writer = Callable[[Iterable[Result], Target, int, str, bool], int]


class _Source(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click
    """A request file: an existing local file, or a URL left for the readers to stream."""

    name = "FILE|URL"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Target:
        if isinstance(value, Path) or not is_url(value):
            path = Path(value)
            if not path.is_file():
                self.fail(f"{str(value)!r} is not a file (give a local file or a URL such as "
                          "s3://bucket/requests.jsonl)", param, ctx)
            return path
        return str(value)


class _Destination(click.ParamType):  # type: ignore[type-arg]
    """Where results go: a local path or a URL."""

    name = "FILE|URL"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Target:
        return str(value) if is_url(value) else Path(value)


SOURCE = _Source()
DESTINATION = _Destination()


def _jsonl(results: Iterable[Result], target: Target, count: int, kind: str, raw: bool) -> int:
    return write_jsonl(results, target, include_raw=raw)


def _parquet(results: Iterable[Result], target: Target, count: int, kind: str, raw: bool) -> int:
    return write_parquet(results, target)


def _npy(results: Iterable[Result], target: Target, count: int, kind: str, raw: bool) -> int:
    try:
        return write_npy(results, target, count, kind)
    except ValueError as exc:
        if not is_url(target):
            Path(target).unlink(missing_ok=True)
        raise ConfigError(f"cannot write {display_name(target)}: {exc} (.npy holds an "
                          "embedding matrix; write other results to .jsonl or .parquet)") from None


OUTPUT_FORMATS: dict[str, Writer] = {".jsonl": _jsonl, ".parquet": _parquet, ".npy": _npy}


def output_writer(target: Target) -> Writer:
    """The writer for ``target``'s extension, or a one-line refusal naming the ones there are."""
    name = display_name(target)
    suffix = PurePosixPath(name).suffix
    writer = OUTPUT_FORMATS.get(suffix.lower())
    if writer is None:
        known = ", ".join(OUTPUT_FORMATS)
        raise ConfigError(f"cannot write results as {suffix or 'a file with no extension'}"
                          f" ({name}): choose {known}")
    return writer


def write_results(results: Iterable[Result], target: Target, count: int, *,
                  embedding_kind: str = "float", raw: bool = False) -> int:
    """Write ``results`` (streamed, in input order) to ``target`` in the format its name says."""
    return output_writer(target)(results, target, count, embedding_kind, raw)
