"""Azure OpenAI Global Batch: ``adapter`` (I/O through the ``openai`` SDK, limits); the lines
are OpenAI's, so the codec is the family's
(:mod:`batchkit.providers.openai.codec` and ``.results``)."""

from .adapter import AzureAdapter

__all__ = ["AzureAdapter"]
