"""Anthropic's Message Batches: ``adapter`` (I/O through the ``anthropic`` SDK, limits) and
``codec`` (lines, results and status map)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adapter import AnthropicAdapter

__all__ = ["AnthropicAdapter"]


def __getattr__(name: str) -> Any:
    """``AnthropicAdapter`` on first use: Bedrock's Claude family and the batch-file reader
    use this package's message and feature codecs without the adapter's HTTP stack (a tenth
    of a second to load)."""
    if name == "AnthropicAdapter":
        from .adapter import AnthropicAdapter

        return AnthropicAdapter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
