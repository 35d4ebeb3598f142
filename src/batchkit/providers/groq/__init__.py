"""Groq's Batch API: ``adapter`` (I/O through the ``groq`` SDK, limits); the lines are
OpenAI's, so the codec is the family's
(:mod:`batchkit.providers.openai.codec` and ``.results``)."""

from .adapter import GroqAdapter

__all__ = ["GroqAdapter"]
