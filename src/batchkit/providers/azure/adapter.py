"""The Azure OpenAI adapter: Global Batch deployments through the ``openai`` SDK.

Azure runs OpenAI's Batch API on a resource of its own, with these differences (see
``providers.md``): ``body.model`` is a Global Batch *deployment name* and must be the same on
every line, so the provider string's model is the deployment (``azure:my-gpt-4o-mini-batch``);
the endpoint is spelled ``/chat/completions``; embeddings are not supported; a file may hold
100,000 requests (200 MB); a completed batch always has an error file, empty when nothing
failed; the key goes in an ``api-key`` header.

Which client: Azure serves the batch API on two path families, and batchkit uses the client
Microsoft documents for each. With a dated ``api_version`` (``2024-10-21``...) it is
``openai.AzureOpenAI``, which adds ``?api-version=`` to every call and sends ``api-key``. With
``api_version="v1"`` (the default when neither the option nor ``OPENAI_API_VERSION`` is set) it
is the plain ``openai.OpenAI`` client on ``{endpoint}/openai/v1``, which Microsoft recommends
and which needs no version to keep up with new models.

Options: ``api`` (``"chat"``, the default, or ``"responses"``: chat requests go to the Responses
API, as with OpenAI's ``endpoint`` option, whose name Azure's resource URL already has),
``endpoint`` (default ``AZURE_OPENAI_ENDPOINT``), ``api_version`` (default
``OPENAI_API_VERSION``, else ``v1``), ``file_expiry_days`` (default 14; see
:meth:`AzureAdapter.submit`), ``find_skew_seconds`` (see :meth:`AzureAdapter.find_by_key`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from ..._exceptions import ConfigError
from .._stainless import StainlessSDK
from ..base import Limits, RemoteStatus, ShardInput, sandbox_url
from ..openai.codec import LineFormat
from ..openai.files import FileBatchAdapter, newest_tagged
from ..openai.realtime import OpenAIRealtime
from .capabilities import CAPABILITIES

if TYPE_CHECKING:
    from openai import OpenAI

__all__ = ["AzureAdapter"]

CHAT_ENDPOINT = "/chat/completions"
"""Azure's spelling in both the line ``url`` and the batch ``endpoint`` (its batch how-to)."""
RESPONSES_ENDPOINT = "/v1/responses"
"""The Responses API in a batch, as Azure's REST batch how-to spells its lines' ``url``."""
_MAX_REQUESTS = 100_000
_MAX_BYTES = 200 * 1000 * 1000
"""Azure says "200 MB"; counted in decimal megabytes, the smaller reading, to stay inside."""
_EXPIRY_RANGE_DAYS = (14, 30)
"""Azure accepts file and output expiry of 1,209,600 to 2,592,000 seconds."""
_LIST_PAGE = 100


class AzureAdapter(OpenAIRealtime["OpenAI"], FileBatchAdapter["OpenAI"]):
    """Azure OpenAI Global Batch: one JSONL file per shard, one deployment per file."""

    name = "azure"
    capabilities = CAPABILITIES
    option_names = frozenset({
        "api", "api_version", "completion_window", "endpoint", "file_expiry_days",
        "find_max_age_days",
    })
    credential_env = ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT")
    sdk = StainlessSDK(
        vendor="Azure OpenAI", module="openai", base_error="OpenAIError",
        key_env="AZURE_OPENAI_API_KEY",
        key_pattern=re.compile(r"(?i)(api-key[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9]{16,}"))

    def __init__(self, model: str, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(model, options)
        # No embeddings: Azure's batch docs call them "currently not supported".
        api = self.options.get("api", "chat")
        if api not in ("chat", "responses"):
            raise ConfigError(f"azure option api must be 'chat' or 'responses', not {api!r}")
        self._api: Literal["chat", "responses"] = api
        self._format = LineFormat(model, chat_endpoint=api, chat_url=CHAT_ENDPOINT,
                                  responses_url=RESPONSES_ENDPOINT, embeddings_url=None,
                                  vendor="Azure OpenAI Global Batch", key="azure")
        days = self.options.get("file_expiry_days", 14)
        low, high = _EXPIRY_RANGE_DAYS
        if not isinstance(days, int) or not low <= days <= high:
            raise ConfigError(f"azure option file_expiry_days must be a whole number of days "
                              f"from {low} to {high}, not {days!r}")
        self._expiry_seconds = days * 86_400

    # -- pure half ---------------------------------------------------------------------------

    def limits(self, group: str) -> Limits:
        """100,000 requests and 200 MB per file (Azure's global batch limits table)."""
        return Limits(max_requests=_MAX_REQUESTS, max_bytes=_MAX_BYTES)

    # -- I/O half ----------------------------------------------------------------------------

    def _upload_options(self) -> dict[str, Any]:
        """Both the input and the output files get an expiry (``file_expiry_days``): Azure
        allows 500 batch files per resource without one and 10,000 with one."""
        return {"expires_after": self._expiry()}

    def _create_options(self, shard: ShardInput) -> dict[str, Any]:
        endpoint = RESPONSES_ENDPOINT if self._api == "responses" else CHAT_ENDPOINT
        return {"endpoint": endpoint, "completion_window": "24h",
                "output_expires_after": self._expiry()}

    def poll_many(
        self, remote_ids: Sequence[str], *, job_id: str, since: float
    ) -> dict[str, RemoteStatus]:
        """``batches.list`` (100 a page) instead of one retrieve per shard: a listed batch is
        the same Batch object. Azure documents no list order, so paging stops only once every
        shard is found (or at :func:`..base.scan_listing`'s page cap)."""
        return self._scan_list(remote_ids, _LIST_PAGE)

    def find_by_key(self, shard: ShardInput) -> str | None:
        """The newest batch whose metadata carries ``shard.key``, or None.

        Azure keeps batch metadata (its create example sets it) but cannot filter by it, and its
        docs promise no list order, so every page is read; batches created before the job was
        journaled (less ``find_skew_seconds``, default 300, for clock skew) cannot be the
        shard's and are skipped.
        """
        since = self._listing_cutoff(shard.journaled_at)
        with self._call("list batches") as client:
            return newest_tagged(
                ((b.created_at, b.id, b.metadata) for b in client.batches.list(limit=_LIST_PAGE)),
                shard, since)

    # -- helpers -----------------------------------------------------------------------------

    def _expiry(self) -> Any:
        return {"anchor": "created_at", "seconds": self._expiry_seconds}

    def _make_client(self, sdk: ModuleType) -> OpenAI:
        endpoint = (sandbox_url(self.name) or self.options.get("endpoint")
                    or os.environ.get("AZURE_OPENAI_ENDPOINT"))
        if not endpoint:
            raise ConfigError("no Azure OpenAI endpoint: set AZURE_OPENAI_ENDPOINT (e.g. "
                              "https://my-resource.openai.azure.com) or the azure option endpoint")
        version = self.options.get("api_version") or os.environ.get("OPENAI_API_VERSION") or "v1"
        key = self._api_key_now()
        endpoint = str(endpoint).rstrip("/")
        if version == "v1":
            client: OpenAI = sdk.OpenAI(api_key=key, base_url=f"{endpoint}/openai/v1")
        else:
            client = sdk.AzureOpenAI(api_key=key, azure_endpoint=endpoint, api_version=version)
        return client
