"""Text helpers every emulator's default responder uses: the prompt's text, its tokens, a seed.

The seed (:func:`digest`) is what makes a stock reply, an id or a drawn fault a pure function of
the request, so reruns produce identical files.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

__all__ = ["collect_text", "digest", "estimate_tokens"]


def estimate_tokens(text: str) -> int:
    """About four characters per token, the vendors' own rule of thumb."""
    return max(1, math.ceil(len(text) / 4))


def collect_text(value: Any) -> str:
    """All the text inside a prompt: strings, content blocks, messages, input items."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(filter(None, (collect_text(item) for item in value)))
    if isinstance(value, dict):
        return " ".join(filter(None, (collect_text(value.get(k)) for k in ("content", "text"))))
    return ""


def digest(*parts: str) -> str:
    """The SHA-256 hex of ``parts`` joined by a unit separator (no two part lists collide)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
