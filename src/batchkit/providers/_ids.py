"""Request ids a vendor accepts, made from any ``custom_id``: deterministic and collision-free.

Why shared: Anthropic, Bedrock, Together and Vertex each restrict their per-request ids (length,
characters), and each had its own copy of the same scheme. An id the vendor takes as it is, and
that does not start with the escape prefix, is sent unchanged; every other id becomes the prefix,
a readable slug of the original and 32 hex digits of its SHA-256 (128 bits: collisions are out
of reach for any real job). Since unchanged ids never start with the prefix, the two sets never
meet. The orchestrator keeps the mapping in the shard's request index, so results come back under
the caller's ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

__all__ = ["HASH_CHARS", "escaped_id"]

HASH_CHARS = 32


def escaped_id(
    custom_id: str,
    *,
    accepted: Callable[[str], object],
    slug: Callable[[str], str],
    escape: str = "bk--",
    separator: str = "-",
) -> str:
    """``custom_id`` unchanged when the vendor ``accepted`` it and it does not start with
    ``escape``; else ``escape + slug(custom_id) + separator + 32 hex digits of its SHA-256``."""
    if accepted(custom_id) and not custom_id.startswith(escape):
        return custom_id
    digest = hashlib.sha256(custom_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{escape}{slug(custom_id)}{separator}{digest[:HASH_CHARS]}"
