"""Vector-store sinks that :func:`batchkit.index` writes to, chosen by URL (fsspec style).

    lancedb://./index            LanceDB, embedded (the default; ``batchkit[lancedb]``)
    qdrant://./index             Qdrant local on-disk mode (``batchkit[qdrant]``)
    qdrant+http://host:6333      a Qdrant server (``QDRANT_API_KEY`` from the environment)
    chroma://./index             Chroma's persistent client (``batchkit[chroma]``)
    parquet://./vectors          a folder of Parquet files (``batchkit[parquet]``); a bare path too

Engines are imported only when a sink of theirs is opened, and a missing one is named with the
extra that installs it. :func:`register_sink` adds a scheme: a class taking ``(url, scheme,
rest)`` and implementing :class:`Sink`.
"""

from __future__ import annotations

import importlib
from typing import Any

from .._exceptions import ConfigError
from ._base import ChunkRows, Hit, Sink, split_url

__all__ = ["ChunkRows", "Hit", "Sink", "open_sink", "register_sink"]

_SINKS: dict[str, str] = {
    "lancedb": "batchkit.sinks._lancedb:LanceDBSink",
    "qdrant": "batchkit.sinks._qdrant:QdrantSink",
    "qdrant+http": "batchkit.sinks._qdrant:QdrantSink",
    "qdrant+https": "batchkit.sinks._qdrant:QdrantSink",
    "chroma": "batchkit.sinks._chroma:ChromaSink",
    "parquet": "batchkit.sinks._parquet:ParquetSink",
}
"""scheme -> ``module:Class``; the module is imported on first use of the scheme."""

def register_sink(scheme: str, target: str) -> None:
    """Make ``scheme://...`` open ``target`` (``"package.module:Class"``, imported lazily)."""
    if ":" not in target:
        raise ConfigError(f"sink target must be 'module:Class', got {target!r}")
    _SINKS[scheme.lower()] = target


def open_sink(sink: str | Sink) -> Sink:
    """The sink at ``sink`` (a URL as above), or ``sink`` itself if it is already open."""
    if not isinstance(sink, str):
        return sink
    scheme, rest = split_url(sink)
    target = _SINKS.get(scheme)
    if target is None:
        raise ConfigError(
            f"unknown sink scheme {scheme!r} in {sink!r}; known: {', '.join(sorted(_SINKS))}")
    module_name, _, class_name = target.partition(":")
    cls: Any = getattr(importlib.import_module(module_name), class_name)
    opened: Sink = cls(sink, scheme, rest)
    return opened
