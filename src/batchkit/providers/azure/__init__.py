"""Azure OpenAI Global Batch: ``adapter`` (I/O through the ``openai`` SDK, limits); the lines
are OpenAI's, so the codec is :mod:`batchkit.providers.openai.codec`."""

from .adapter import AzureAdapter

__all__ = ["AzureAdapter"]
