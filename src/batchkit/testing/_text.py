"""Text helpers every emulator's default responder uses: the prompt's text, and its tokens."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["collect_text", "estimate_tokens"]


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
