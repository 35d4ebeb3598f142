"""Vertex AI batch prediction: ``adapter`` (I/O through ``google-cloud-aiplatform``, limits)
and ``codec`` (Vertex's rows around the Gemini GenerateContent shape)."""

from .adapter import VertexAdapter

__all__ = ["VertexAdapter"]
