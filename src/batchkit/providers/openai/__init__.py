"""OpenAI's Batch API: ``adapter`` (I/O through the ``openai`` SDK) and ``codec`` (the
OpenAI-shaped JSONL line codec and status map, shared by Azure, Groq, Together and Mistral)."""

from .adapter import OpenAIAdapter

__all__ = ["OpenAIAdapter"]
