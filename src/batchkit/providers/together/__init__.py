"""Together AI's Batch API: ``adapter`` (I/O through the ``together`` SDK, limits) and the
Together dialect of the OpenAI line codec."""

from .adapter import TogetherAdapter

__all__ = ["TogetherAdapter"]
