"""Result files by extension: one table for every command that writes results (``-o FILE``).

An unknown extension is refused before any work is done, instead of silently writing JSONL
under a ``.csv`` name; a format that cannot hold the job (a chat job as an ``.npy`` matrix)
is refused with one line, and the half-written file removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from .._exceptions import ConfigError
from .._export import write_npy, write_parquet
from .._results import Result, write_jsonl

__all__ = ["OUTPUT_FORMATS", "output_writer", "write_results"]

Writer = Callable[[Iterable[Result], Path, int, str, bool], int]


def _jsonl(results: Iterable[Result], path: Path, count: int, kind: str, raw: bool) -> int:
    return write_jsonl(results, path, include_raw=raw)


def _parquet(results: Iterable[Result], path: Path, count: int, kind: str, raw: bool) -> int:
    return write_parquet(results, path)


def _npy(results: Iterable[Result], path: Path, count: int, kind: str, raw: bool) -> int:
    try:
        return write_npy(results, path, count, kind)
    except ValueError as exc:
        path.unlink(missing_ok=True)
        raise ConfigError(f"cannot write {path.name}: {exc} (.npy holds an embedding matrix; "
                          "write other results to .jsonl or .parquet)") from None


OUTPUT_FORMATS: dict[str, Writer] = {".jsonl": _jsonl, ".parquet": _parquet, ".npy": _npy}


def output_writer(path: Path) -> Writer:
    """The writer for ``path``'s extension, or a one-line refusal naming the ones there are."""
    writer = OUTPUT_FORMATS.get(path.suffix.lower())
    if writer is None:
        known = ", ".join(OUTPUT_FORMATS)
        raise ConfigError(f"cannot write results as {path.suffix or 'a file with no extension'}"
                          f" ({path.name}): choose {known}")
    return writer


def write_results(results: Iterable[Result], path: Path, count: int, *,
                  embedding_kind: str = "float", raw: bool = False) -> int:
    """Write ``results`` (streamed, in input order) to ``path`` in the format its name says."""
    return output_writer(path)(results, path, count, embedding_kind, raw)
