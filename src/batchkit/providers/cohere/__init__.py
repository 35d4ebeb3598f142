"""Cohere's batches and embed jobs: ``adapter`` (I/O through the ``cohere`` SDK, limits) and
``codec`` (rows, results and status maps)."""

from .adapter import CohereAdapter

__all__ = ["CohereAdapter"]
