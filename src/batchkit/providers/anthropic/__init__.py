"""Anthropic's Message Batches: ``adapter`` (I/O through the ``anthropic`` SDK, limits) and
``codec`` (lines, results and status map)."""

from .adapter import AnthropicAdapter

__all__ = ["AnthropicAdapter"]
