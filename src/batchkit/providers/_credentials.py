"""API keys for SDK-based adapters: where they come from, and keeping them out of messages.

Every vendor SDK takes a key the same way and echoes it (or part of it) in some error bodies,
so each adapter resolves its key and cleans vendor text with these two functions rather than
its own copy.
"""

from __future__ import annotations

import os
import re

from .._exceptions import MissingCredentialsError
from .base import sandbox_url

__all__ = ["api_key", "redact"]

SANDBOX_KEY = "sandbox"


def api_key(provider: str, env_var: str, vendor: str) -> str:
    """The key to send: a dummy in sandbox mode (a real key never reaches an emulator), else
    ``env_var``; a missing key is a :class:`MissingCredentialsError` naming the variable."""
    if sandbox_url(provider):
        return SANDBOX_KEY
    key = os.environ.get(env_var)
    if not key:
        raise MissingCredentialsError(
            f"no {vendor} API key: set the {env_var} environment variable"
        )
    return key


def redact(text: str, key: str | None, key_shape: re.Pattern[str], mask: str) -> str:
    """``text`` with the key, and anything shaped like a key of this vendor, masked.

    Keys shorter than 8 characters are not searched for: masking every "abc" in a message
    would hide more than it protects.
    """
    if key and len(key) >= 8:
        text = text.replace(key, "***")
    return key_shape.sub(mask, text)
