"""What Vertex AI batch prediction rows can carry of the neutral features: the Gemini table
(the same ``GenerateContentRequest``), with documents by id as Cloud Storage URIs; see
``providers/_capabilities.py``.
"""

from __future__ import annotations

from .._capabilities import complete
from ..gemini.capabilities import google_table

__all__ = ["CAPABILITIES"]

CAPABILITIES = complete(google_table(
    "vertex", "a gs:// URI", "no ids on Vertex: paired by name and order; replies get "
    "call_<n>"), "vertex")
