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
from contextlib import AbstractContextManager
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from ..._exceptions import ConfigError, ProviderError
from ..._requests import Request
from ..._results import Result
from .._credentials import api_key
from .._file_batches import FileBatchAdapter
from ..base import Limits, RemoteStatus, ShardInput, sandbox_url
from ..openai.codec import LineFormat, decode_line, map_status

if TYPE_CHECKING:
    from groq import Groq

__all__ = ["GroqAdapter", "window_hours"]

_MAX_REQUESTS = 50_000
_MAX_BYTES = 100 * 1000 * 1000
_MULTI_GET_IDS = 200
"""The most batch ids one ``GET /batches?id=...`` takes (Groq's docs)."""
"""The groq SDK says "up to 100 MB" where Groq's docs say 200 MB: the smaller one is kept."""
_WINDOW = re.compile(r"^(\d+)([hd])$")
_MIN_HOURS, _MAX_HOURS = 24, 7 * 24
_STRICT_PREFIXES = ("openai/gpt-oss-",)
"""Groq's structured-outputs page lists strict mode (constrained decoding) for these only."""


def window_hours(value: object) -> int:
    """Hours in a Groq completion window (``"36h"``, ``"7d"``); ``ConfigError`` outside 24h-7d."""
    match = _WINDOW.match(value) if isinstance(value, str) else None
    hours = None if match is None else int(match[1]) * (1 if match[2] == "h" else 24)
    if hours is None or not _MIN_HOURS <= hours <= _MAX_HOURS:
        raise ConfigError(f"groq option completion_window must be a duration from 24h to 7d "
                          f"such as '24h', '72h' or '7d', not {value!r}")
    return hours


class GroqAdapter(FileBatchAdapter["Groq"]):
    """Groq's Batch API: one JSONL file per shard, chat completions only."""

    name = "groq"
    credential_env = ("GROQ_API_KEY",)
    vendor = "Groq"
    sdk_module = "groq"
    extra = "groq"
    sdk_error = "GroqError"
    key_env = "GROQ_API_KEY"
    key_pattern = re.compile(r"gsk_[A-Za-z0-9*]{3,}")

    def __init__(self, model: str, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(model, options)
        self._window = str(self.options.get("completion_window", "24h"))
        window_hours(self._window)
        self._format = LineFormat(model, embeddings_url=None, vendor="Groq",
                                  strict=model.startswith(_STRICT_PREFIXES))

    # -- pure half ---------------------------------------------------------------------------

    def limits(self, group: str) -> Limits:
        """50,000 requests and 100 MB per file."""
        return Limits(max_requests=_MAX_REQUESTS, max_bytes=_MAX_BYTES)

    def check(self, request: Request) -> None:
        self._format.check(request)

    def encode(self, request: Request, vendor_id: str) -> bytes:
        return self._format.encode(request, vendor_id)

    def decode(self, line: bytes) -> Result:
        return decode_line(line)

    # -- I/O half ----------------------------------------------------------------------------

    def submit(self, shard: ShardInput) -> str:
        """Upload the payload (streamed from disk) and create the batch, tagged with the key.

        The create runs with SDK retries off: Groq has no idempotency header, so a retried create
        after a lost response could start a second, paid batch; ``find_by_key`` settles whether a
        failed create went through.
        """
        with self._call("upload the batch file") as client, shard.payload_path.open("rb") as fh:
            uploaded = client.files.create(
                file=(shard.payload_path.name, fh, "application/jsonl"), purpose="batch"
            )
        if not uploaded.id:
            raise ProviderError("Groq accepted the batch file but returned no file id")
        with self._call("create the batch") as client:
            batch = client.with_options(max_retries=0).batches.create(
                input_file_id=uploaded.id,
                endpoint="/v1/chat/completions",
                completion_window=self._window,
                metadata={"batchkit_job": shard.job_id, "batchkit_key": shard.key},
            )
        return batch.id

    def poll(self, remote_id: str) -> RemoteStatus:
        with self._call("read the batch") as client:
            batch = client.batches.retrieve(remote_id)
        return map_status(batch.to_dict(mode="json"))

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
                    found[batch.id] = map_status(batch.to_dict(mode="json"))
        return found

    def cancel(self, remote_id: str) -> None:
        with self._call("cancel the batch") as client:
            client.batches.cancel(remote_id)

    def find_by_key(self, shard: ShardInput) -> str | None:
        """The newest batch whose metadata carries ``shard.key``, or None.

        Groq keeps batch metadata but cannot filter by it, and documents no list order, so
        every page is read (Groq keeps batches for 30 days, which bounds that); batches created
        before the job was journaled (less ``find_skew_seconds``, default 300) are skipped.
        """
        since = self._listing_cutoff(shard.journaled_at)
        found: tuple[int, str] | None = None
        for batch in self._all_batches():
            created = int(batch.get("created_at") or 0)
            if created < since or batch.get("id") in shard.taken:
                continue
            if (batch.get("metadata") or {}).get("batchkit_key") == shard.key and (
                    found is None or created > found[0]):
                found = (created, str(batch["id"]))
        return None if found is None else found[1]

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

    def _file_stream(self, client: Groq, file_id: str) -> AbstractContextManager[Any]:
        return client.files.with_streaming_response.content(file_id)

    def _make_client(self, sdk: ModuleType) -> Groq:
        base_url = self.options.get("base_url") or sandbox_url(self.name)
        self._api_key = key = api_key(self.name, "GROQ_API_KEY", "Groq")
        if base_url:
            client: Groq = sdk.Groq(api_key=key, base_url=base_url)
        else:  # let the SDK apply its own environment (GROQ_BASE_URL) and default
            client = sdk.Groq(api_key=key)
        return client
