"""What Azure OpenAI's batch lines (OpenAI's shape) can carry of the neutral features.

The table starts from ``pending`` (every feature refused before anything is sent) and says
``yes`` only for what this vendor's codec spells; see ``providers/_capabilities.py``.
"""

from __future__ import annotations

from .._capabilities import complete, pending, yes

__all__ = ["CAPABILITIES"]

CAPABILITIES = complete({
    **pending("azure"),
    "images": yes("image_url parts in user messages"),
}, "azure")
