"""Together's dialect of the OpenAI-file codec: what the family codec
(:mod:`batchkit.providers.openai.codec`) does not cover. Pure, no I/O.

Together's statuses are upper-case (plus ``CANCELING``), its ``custom_id`` holds at most 64
characters, and its batches carry no metadata, so the shard key travels in the input file's
name.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..._state import JobState
from .._ids import HASH_CHARS, escaped_id

__all__ = ["MAX_ID_CHARS", "TOGETHER_STATUSES", "upload_name", "vendor_id"]

TOGETHER_STATUSES: Mapping[str, JobState] = {
    "VALIDATING": JobState.VALIDATING,
    "IN_PROGRESS": JobState.RUNNING,
    "COMPLETED": JobState.COMPLETED,
    "FAILED": JobState.FAILED,
    "EXPIRED": JobState.EXPIRED,
    "CANCELING": JobState.CANCELLING,
    "CANCELLED": JobState.CANCELLED,
}
"""The SDK's six ``BatchJob.status`` values and ``CANCELING``, which Together answers a cancel
with although neither its docs nor its SDK list it."""
MAX_ID_CHARS = 64
_SLUG_CHARS = MAX_ID_CHARS - len("bk--") - HASH_CHARS - 1


def vendor_id(custom_id: str) -> str:
    """A ``custom_id`` within Together's 64 characters, deterministic and collision-free.

    Ids that fit are sent unchanged. A longer one becomes ``bk--<slug>-<hash>``: a readable
    start of the original and 32 hex digits of its SHA-256, which is what keeps it unique; ids
    that fit but start with the escape prefix are escaped too, so no two ids can meet. The
    orchestrator keeps the mapping, so results come back under the caller's ids.
    """
    return escaped_id(custom_id, accepted=lambda cid: len(cid) <= MAX_ID_CHARS,
                      slug=lambda cid: cid[:_SLUG_CHARS])


def upload_name(key: str) -> str:
    """The input file's name at Together: the shard key, which the adapter's ``find_by_key``
    looks for."""
    return f"batchkit-{key}.jsonl"
