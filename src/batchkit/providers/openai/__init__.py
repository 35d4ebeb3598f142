"""OpenAI's Batch API: ``adapter`` (I/O through the ``openai`` SDK) and ``codec`` (the
OpenAI-shaped JSONL line codec and status map, shared by Azure, Groq, Together and Mistral)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adapter import OpenAIAdapter

__all__ = ["OpenAIAdapter"]


def __getattr__(name: str) -> Any:
    """``OpenAIAdapter`` on first use: the package also holds the batch-file reader, which
    reading or converting an OpenAI file loads without the adapter's HTTP stack (a tenth of a
    second)."""
    if name == "OpenAIAdapter":
        from .adapter import OpenAIAdapter

        return OpenAIAdapter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
