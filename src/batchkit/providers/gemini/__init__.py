"""The Gemini API's batch mode: ``adapter`` (I/O through ``google-genai``, limits) and ``codec``
(the GenerateContent shape, shared with Vertex)."""

from .adapter import GeminiAdapter

__all__ = ["GeminiAdapter"]
