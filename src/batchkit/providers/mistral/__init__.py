"""Mistral's batch jobs: ``adapter`` (I/O through the ``mistralai`` SDK, limits) and ``codec``
(lines, results and status map)."""

from .adapter import MistralAdapter

__all__ = ["MistralAdapter"]
