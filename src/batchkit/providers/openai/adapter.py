"""The OpenAI adapter: the shared OpenAI line codec plus the Batch API through the ``openai`` SDK.

The pure half (``check``, ``encode``, ``decode``, ``limits``) works without the SDK installed, so
``bk.encode`` / ``bk.decode`` run offline; the SDK is imported the first time a client is needed.

Options: ``endpoint`` (``"chat"``, the default, sends chat requests to ``/v1/chat/completions``;
``"responses"`` to ``/v1/responses``), ``base_url`` (an OpenAI-compatible server), and
``find_max_age_days`` (see :meth:`OpenAIAdapter.find_by_key`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from ..._exceptions import ConfigError
from .._stainless import StainlessSDK
from ..base import Limits, RemoteStatus, ShardInput, sandbox_url
from .capabilities import CAPABILITIES
from .codec import LineFormat
from .files import FileBatchAdapter
from .realtime import OpenAIRealtime

if TYPE_CHECKING:
    from openai import OpenAI

__all__ = ["OpenAIAdapter"]

_Endpoint = Literal["/v1/chat/completions", "/v1/responses", "/v1/embeddings",
                    "/v1/moderations"]
_ENDPOINTS: Mapping[str, _Endpoint] = {
    "chat": "/v1/chat/completions",
    "responses": "/v1/responses",
    "embed": "/v1/embeddings",
    "moderation": "/v1/moderations",
}
_MAX_REQUESTS = 50_000
_MAX_BYTES = 200 * 1000 * 1000
"""OpenAI says "200 MB"; counted in decimal megabytes, the smaller reading, to stay inside."""
_LIST_PAGE = 100
"""The largest page ``batches.list`` allows."""


class OpenAIAdapter(OpenAIRealtime["OpenAI"], FileBatchAdapter["OpenAI"]):
    """OpenAI's Batch API: one JSONL file per shard, one endpoint per batch.

    Chat and embedding requests never share a shard because a batch names a single endpoint;
    the base class's ``group`` (the request kind, ``chat`` / ``embed``) already splits them.
    """

    name = "openai"
    capabilities = CAPABILITIES
    option_names = frozenset({"completion_window", "endpoint", "find_max_age_days"})
    credential_env = ("OPENAI_API_KEY",)
    sdk = StainlessSDK(vendor="OpenAI", module="openai", base_error="OpenAIError",
                       key_env="OPENAI_API_KEY", key_pattern=re.compile(r"sk-[A-Za-z0-9_\-*]{3,}"),
                       key_mask="sk-***")
    """Anything key-shaped is masked too: OpenAI's 401 echoes a masked key."""

    def __init__(self, model: str, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(model, options)
        endpoint = self.options.get("endpoint", "chat")
        if endpoint not in ("chat", "responses"):
            raise ConfigError(
                f"openai option endpoint must be 'chat' or 'responses', not {endpoint!r}"
            )
        self._chat_endpoint: Literal["chat", "responses"] = endpoint
        self._format = LineFormat(model, chat_endpoint=endpoint)

    # -- pure half ---------------------------------------------------------------------------

    def limits(self, group: str) -> Limits:
        """50,000 requests and 200 MB per file; embedding batches also 50,000 inputs in total."""
        return Limits(
            max_requests=_MAX_REQUESTS,
            max_bytes=_MAX_BYTES,
            max_embedding_inputs=_MAX_REQUESTS if group == "embed" else None,
        )

    # -- I/O half ----------------------------------------------------------------------------

    def _create_options(self, shard: ShardInput) -> dict[str, Any]:
        """The batch names one endpoint: embeddings, or the chat endpoint chosen."""
        endpoint = _ENDPOINTS[self._chat_endpoint if shard.group == "chat" else shard.group]
        return {"endpoint": endpoint, "completion_window": "24h"}

    def poll_many(
        self, remote_ids: Sequence[str], *, job_id: str, since: float
    ) -> dict[str, RemoteStatus]:
        """``batches.list`` (newest first, 100 a page) instead of one retrieve per shard: a
        listed batch is the same Batch object ``retrieve`` returns. Paging stops at the first
        batch created before the job (see :func:`..base.scan_listing` for the other stops)."""
        cutoff = self._listing_cutoff(since)
        return self._scan_list(remote_ids, _LIST_PAGE,
                               too_old=lambda batch: batch.created_at < cutoff)

    def find_by_key(self, shard: ShardInput) -> str | None:
        """The newest batch whose metadata carries ``shard.key``, or None.

        OpenAI cannot filter batches by metadata, so this pages through ``batches.list``
        (newest first, 100 per page) and stops at the first batch older than
        ``find_max_age_days`` (default 30). Why 30 days: OpenAI deletes batch input and output
        files after 30 days, so an older batch could not be collected anyway, and the cut keeps
        an organisation with thousands of batches from paging through its whole history. A
        journaled-at time on ``ShardInput`` would allow a much tighter cut.
        """
        max_age = float(self.options.get("find_max_age_days", 30)) * 86_400
        cutoff = time.time() - max_age
        with self._call("list batches") as client:
            for batch in client.batches.list(limit=_LIST_PAGE):
                if (batch.metadata or {}).get("batchkit_key") == shard.key:
                    return batch.id
                if batch.created_at < cutoff:
                    return None
        return None

    # -- helpers -----------------------------------------------------------------------------

    def _make_client(self, sdk: ModuleType) -> OpenAI:
        sandbox = sandbox_url(self.name)
        base_url = self.options.get("base_url") or (f"{sandbox}/v1" if sandbox else None)
        key = self._api_key_now()
        # Seconds to wait for any one response (option "timeout"; the SDK default is 10 min).
        timeout = float(self.options.get("timeout", 600))
        return self._aimed(sdk.OpenAI, base_url, api_key=key, timeout=timeout)
