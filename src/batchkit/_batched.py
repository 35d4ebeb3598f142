"""Consecutive lists of at most ``size`` items of an iterable, read lazily.

Why a module of its own: planning claims, Arrow record batches and the vector sinks' per-call
caps all cut a stream into lists, and ``itertools.batched`` only arrived in Python 3.12
(batchkit supports 3.10).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

__all__ = ["batched"]

_Item = TypeVar("_Item")


def batched(items: Iterable[_Item], size: int) -> Iterator[list[_Item]]:
    """Lists of ``size`` items in order, the last one shorter; none for no items."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk
