"""The Groq adapter: Groq's Batch API through the official ``groq`` SDK.

Groq serves OpenAI's Batch API under ``https://api.groq.com/openai/v1``: the same lines, batch
object and result files, so the shared OpenAI codec does the encoding and decoding. What differs
(see ``providers.md``): the completion window may be anything from ``24h`` to ``7d``
(option ``completion_window``), listing pages by cursor, batches take chat completions only, and
strict structured outputs exist only on the gpt-oss models (other models get the schema in
best-effort mode).

Options: ``completion_window`` (default ``"24h"``), ``base_url``, ``find_skew_seconds`` (see
:meth:`GroqAdapter.find_by_key`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from ..._exceptions import ConfigError
from .._stainless import StainlessSDK
from ..base import Limits, RemoteStatus, ShardInput, sandbox_url
from ..openai.codec import LineFormat
from ..openai.files import FileBatchAdapter, newest_tagged
from ..openai.realtime import OpenAIRealtime
from .capabilities import CAPABILITIES

if TYPE_CHECKING:
    from groq import Groq

__all__ = ["GroqAdapter", "window_hours"]

_MAX_REQUESTS = 50_000
_MAX_BYTES = 100 * 1000 * 1000
"""The groq SDK says "up to 100 MB" where Groq's docs say 200 MB: the smaller one is kept."""
_MULTI_GET_IDS = 200
"""The most batch ids one ``GET /batches?id=...`` takes (Groq's docs)."""
_WINDOW = re.compile(r"^(\d+)([hd])$")
_MIN_HOURS, _MAX_HOURS = 24, 7 * 24
_STRICT_PREFIXES = ("openai/gpt-oss-",)
"""Groq's structured-outputs page lists strict mode (constrained decoding) for these only."""
_EFFORTS = {"off": {"reasoning_effort": "none"},
            **{e: {"reasoning_effort": e} for e in ("low", "medium", "high")}}
"""Groq's ``reasoning_effort``: ``none`` (qwen3) and low/medium/high (gpt-oss); no minimal."""
_PARAMS_TYPES = {"chat": ("groq.types.chat.completion_create_params", "CompletionCreateParams")}


def window_hours(value: object) -> int:
    """Hours in a Groq completion window (``"36h"``, ``"7d"``); ``ConfigError`` outside 24h-7d."""
    match = _WINDOW.match(value) if isinstance(value, str) else None
    hours = None if match is None else int(match[1]) * (1 if match[2] == "h" else 24)
    if hours is None or not _MIN_HOURS <= hours <= _MAX_HOURS:
        raise ConfigError(f"groq option completion_window must be a duration from 24h to 7d "
                          f"such as '24h', '72h' or '7d', not {value!r}")
    return hours


class GroqAdapter(OpenAIRealtime["Groq"], FileBatchAdapter["Groq"]):
    """Groq's Batch API: one JSONL file per shard, chat completions only."""

    name = "groq"
    capabilities = CAPABILITIES
    option_names = frozenset({"completion_window", "endpoint", "find_max_age_days"})
    credential_env = ("GROQ_API_KEY",)
    realtime_prefix, realtime_keeps_v1 = "/openai", True
    """The groq SDK's paths start ``/openai/v1`` below its base URL."""
    sdk = StainlessSDK(vendor="Groq", module="groq", base_error="GroqError",
                       key_env="GROQ_API_KEY", key_pattern=re.compile(r"gsk_[A-Za-z0-9*]{3,}"))

    def __init__(self, model: str, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(model, options)
        self._window = str(self.options.get("completion_window", "24h"))
        window_hours(self._window)
        self._format = LineFormat(model, embeddings_url=None, vendor="Groq", key="groq",
                                  strict=model.startswith(_STRICT_PREFIXES),
                                  efforts=_EFFORTS, params_types=_PARAMS_TYPES)

    # -- pure half ---------------------------------------------------------------------------

    def limits(self, group: str) -> Limits:
        """50,000 requests and 100 MB per file."""
        return Limits(max_requests=_MAX_REQUESTS, max_bytes=_MAX_BYTES)

    # -- I/O half ----------------------------------------------------------------------------

    def _create_options(self, shard: ShardInput) -> dict[str, Any]:
        """Chat completions, within the completion window chosen (24h to 7d)."""
        return {"endpoint": "/v1/chat/completions", "completion_window": self._window}

    def poll_many(
        self, remote_ids: Sequence[str], *, job_id: str, since: float
    ) -> dict[str, RemoteStatus]:
        """Groq's multi-get, ``GET /batches?id=a&id=b`` (up to 200 ids a call), instead of one
        retrieve per shard. The SDK's ``list`` would join a list of ids with commas, while the
        docs repeat ``id``, so the query is written out and sent through the client's ``get``
        (the SDKs' way to reach a call their methods do not cover)."""
        from groq.types import BatchListResponse

        wanted, found = set(remote_ids), {}
        for start in range(0, len(remote_ids), _MULTI_GET_IDS):
            query = urlencode({"id": list(remote_ids[start:start + _MULTI_GET_IDS])},
                              doseq=True)
            with self._call("list batches") as client:
                page = client.get(f"/openai/v1/batches?{query}", cast_to=BatchListResponse)
            for batch in page.data:
                if batch.id in wanted:
                    found[batch.id] = self._status(batch)
        return found

    def find_by_key(self, shard: ShardInput) -> str | None:
        """The newest batch whose metadata carries ``shard.key``, or None.

        Groq keeps batch metadata but cannot filter by it, and documents no list order, so
        every page is read (Groq keeps batches for 30 days, which bounds that); batches created
        before the job was journaled (less ``find_skew_seconds``, default 300) are skipped.
        """
        since = self._listing_cutoff(shard.journaled_at)
        return newest_tagged(
            ((int(b.get("created_at") or 0), str(b.get("id")), b.get("metadata"))
             for b in self._all_batches()), shard, since)

    # -- helpers -----------------------------------------------------------------------------

    def _all_batches(self) -> Iterator[dict[str, Any]]:
        """Every batch, page by page: the SDK's ``list`` takes no paging arguments, so the
        cursor goes in as ``extra_query`` and ``paging.next_cursor`` (a field the SDK's type
        does not declare but keeps) says where the next page starts, as Groq's docs show."""
        cursor: str | None = None
        while True:
            query = {} if cursor is None else {"cursor": cursor}
            with self._call("list batches") as client:
                page: dict[str, Any] = client.batches.list(extra_query=query).to_dict(mode="json")
            yield from page.get("data") or []
            cursor = (page.get("paging") or {}).get("next_cursor")
            if not cursor:
                return

    def _make_client(self, sdk: ModuleType) -> Groq:
        base_url = self.options.get("base_url") or sandbox_url(self.name)
        return self._aimed(sdk.Groq, base_url, api_key=self._api_key_now())
