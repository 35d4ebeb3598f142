"""The Anthropic adapter: Message Batches through the official ``anthropic`` SDK.

The pure half lives in :mod:`.codec`; the SDK is imported the first time a client is
needed (and for ``response_model`` schemas, which use the SDK's own ``transform_schema``).

Options: ``max_tokens`` (the default for requests without one; Anthropic requires a value, and
without either batchkit sends
:data:`.messages.DEFAULT_MAX_TOKENS`, 4096), ``cache_system`` (mark the system prompt
``cache_control: ephemeral`` in every request), ``base_url`` and ``find_skew_seconds`` (see
:meth:`AnthropicAdapter.find_by_key`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import orjson

from ..._exceptions import InvalidRequestError, ProviderError
from ..._requests import ChatRequest, Request
from ..._results import Result
from .._stainless import StainlessAdapter, StainlessSDK
from ..base import (
    Limits,
    RemoteStatus,
    ShardInput,
    open_private,
    result_file,
    sandbox_url,
    scan_listing,
)
from .capabilities import CAPABILITIES
from .codec import (
    check_request,
    decode_line,
    encode_request,
    map_status,
    vendor_id,
    vendor_ids,
)
from .realtime import AnthropicRealtime

if TYPE_CHECKING:
    from anthropic import Anthropic

__all__ = ["AnthropicAdapter"]

_MAX_REQUESTS = 100_000
_MAX_BYTES = 256 * 1000 * 1000 - 64
""""256 MB" read as decimal megabytes (the smaller reading), less the ``{"requests": [...]}``
envelope that wraps the lines; each line's newline stands for its separating comma."""
_DOWNLOAD_CHUNK = 1 << 20
_LIST_PAGE = 1000
"""The largest page ``batches.list`` allows."""


class AnthropicAdapter(AnthropicRealtime["Anthropic"], StainlessAdapter["Anthropic"]):
    """Anthropic's Message Batches: one JSON body per shard, chat only."""

    name = "anthropic"
    capabilities = CAPABILITIES
    row_id_key = "custom_id"
    """A results line opens with its ``custom_id`` (``{"custom_id": ..., "result": ...}``)."""
    option_names = frozenset({"cache_system", "drop_sampling", "max_tokens"})
    # Batches carry no key: re-attaching tells a job's shards apart by creation order.
    parallel_submit = False
    credential_env = ("ANTHROPIC_API_KEY",)
    sdk = StainlessSDK(vendor="Anthropic", module="anthropic", base_error="AnthropicError",
                       key_env="ANTHROPIC_API_KEY",
                       key_pattern=re.compile(r"sk-ant-[A-Za-z0-9_\-*]{3,}"), key_mask="sk-ant-***")

    # -- pure half ---------------------------------------------------------------------------

    def limits(self, group: str) -> Limits:
        """100,000 requests or 256 MB per batch, whichever comes first."""
        return Limits(max_requests=_MAX_REQUESTS, max_bytes=_MAX_BYTES)

    def check(self, request: Request) -> None:
        check_request(request, self.options)

    def vendor_id(self, custom_id: str) -> str:
        return vendor_id(custom_id)

    def vendor_ids(self, raw_ids: list[bytes]) -> list[bytes]:
        """:meth:`vendor_id` of many UTF-8 ids at once (what a conversion's splice asks)."""
        return vendor_ids(raw_ids)

    def encode(self, request: Request, vendor_id: str) -> bytes:
        if not isinstance(request, ChatRequest):  # check() refuses these first
            raise InvalidRequestError("anthropic takes chat requests only",
                                      custom_id=request.custom_id)
        return encode_request(request, vendor_id, self.model, self.options)

    def decode(self, line: bytes) -> Result:
        return decode_line(line)

    # -- I/O half ----------------------------------------------------------------------------

    def submit(self, shard: ShardInput) -> str:
        """Create the batch, streaming ``{"requests": [line, line, ...]}`` from the payload.

        The body is sent through the SDK's client as a byte stream rather than through
        ``batches.create(requests=[...])``, which would hold up to 256 MB of parsed dicts in
        memory. Retries are off: Anthropic has no idempotency key, so a retried create after a
        lost response could start a second, paid batch; ``find_by_key`` handles that case.
        """
        from anthropic.types.messages import MessageBatch

        with self._call("create the batch") as client:
            batch = client.with_options(max_retries=0).post(
                "/v1/messages/batches",
                cast_to=MessageBatch,
                content=_request_body(shard.payload_path),
                options={"headers": {"Content-Type": "application/json"}},
            )
        return batch.id

    def poll(self, remote_id: str) -> RemoteStatus:
        with self._call("read the batch") as client:
            batch = client.messages.batches.retrieve(remote_id)
        return map_status(batch.to_dict(mode="json"))

    def poll_many(
        self, remote_ids: Sequence[str], *, job_id: str, since: float
    ) -> dict[str, RemoteStatus]:
        """``messages.batches.list`` (most recent first, up to 1,000 a page) instead of one
        retrieve per shard: a listed batch is the same MessageBatch ``retrieve`` returns.
        Paging stops at the first batch created before the job."""
        cutoff = self._listing_cutoff(since)
        with self._call("list batches") as client:
            first = client.messages.batches.list(limit=_LIST_PAGE)
            return scan_listing(
                (page.data for page in first.iter_pages()), remote_ids,
                batch_id=lambda batch: batch.id,
                status=lambda batch: map_status(batch.to_dict(mode="json")),
                too_old=lambda batch: batch.created_at.timestamp() < cutoff,
            )

    def cancel(self, remote_id: str) -> None:
        with self._call("cancel the batch") as client:
            client.messages.batches.cancel(remote_id)

    def fetch_results(self, remote_id: str, status: RemoteStatus, dest: Path) -> list[Path]:
        """Stream the results file to ``dest`` (``*.part`` first, renamed when complete, so a
        crash never leaves a truncated file that looks finished). The file is private to the
        user, and named after the batch id made safe (the vendor's text is never a path)."""
        dest.mkdir(parents=True, exist_ok=True)
        path = result_file(dest, remote_id, "_results.jsonl")
        part = path.with_name(path.name + ".part")
        with (
            self._call("download the results") as client,
            client.messages.batches.with_streaming_response.results(remote_id) as response,
            open_private(part) as fh,
        ):
            for chunk in response.iter_bytes(_DOWNLOAD_CHUNK):
                fh.write(chunk)
        part.replace(path)
        return [path]

    def find_by_key(self, shard: ShardInput) -> str | None:
        """The batch created for ``shard`` before a crash, from what ``list`` shows.

        Anthropic batches carry no metadata, so the key cannot be stored at the vendor. What
        ``list`` does show is each batch's creation time and request counts. The rule:

        * candidates are batches created no earlier than the job was journaled (less
          ``find_skew_seconds``, default 300, for clock skew), holding exactly the shard's
          number of requests, and not already recorded for another shard of the job;
        * the orchestrator submits one shard at a time, in order, and looks shards up in that
          order, so at most one shard of a job can have been created without being recorded:
          one candidate is that shard's batch, none means it was never created;
        * several candidates mean some other client created batches of the same size in the
          window: batchkit refuses to guess and raises ``ProviderError`` listing them.

        It can attach wrongly only if another client created a batch of exactly this size in
        the window *and* this shard's own create never reached Anthropic.
        """
        if shard.request_count == 0:
            return None
        since = self._listing_cutoff(shard.journaled_at)
        candidates: list[str] = []
        with self._call("list batches") as client:
            for batch in client.messages.batches.list(limit=_LIST_PAGE):  # newest first
                if batch.created_at.timestamp() < since:
                    break
                counts = batch.request_counts
                total = (counts.processing + counts.succeeded + counts.errored
                         + counts.canceled + counts.expired)
                if total == shard.request_count and batch.id not in shard.taken:
                    candidates.append(batch.id)
        if len(candidates) > 1:
            raise ProviderError(
                f"job {shard.job_id}: cannot tell which Anthropic batch is shard {shard.index} "
                f"({shard.request_count} requests): {len(candidates)} unclaimed batches of that "
                f"size were created since the job was journaled. Candidates: "
                f"{', '.join(candidates)}. Anthropic batches carry no key, so batchkit will not "
                "guess; cancel the batches that are not this job's, or start the job again"
            )
        return candidates[0] if candidates else None

    def count_input_tokens(self, requests: Sequence[Request]) -> list[int] | None:
        """``POST /v1/messages/count_tokens`` per request, with the ``params`` ``encode`` would
        batch, less the fields the count endpoint does not take (``max_tokens``, sampling).

        Anthropic documents the figure as an estimate that may include a few system tokens it
        does not bill; it is the closest count there is (there is no offline Claude tokenizer).
        """
        self.prepare()  # a missing SDK or key fails here, as batchkit's exception
        from anthropic.types.message_count_tokens_params import MessageCountTokensParams

        accepted = set(MessageCountTokensParams.__annotations__)
        counts = []
        for request in requests:
            self.check_request(request)
            line = orjson.loads(self.encode(request, self.vendor_id(request.custom_id)))
            params = {k: v for k, v in line["params"].items() if k in accepted}
            with self._call("count tokens") as client:
                counts.append(client.messages.count_tokens(**params).input_tokens)
        return counts

    # -- helpers -----------------------------------------------------------------------------

    def _make_client(self, sdk: ModuleType) -> Anthropic:
        base_url = self.options.get("base_url") or sandbox_url(self.name)
        key = self._api_key_now()
        # Seconds to wait for any one response (option "timeout"; the SDK default is 10 min).
        timeout = float(self.options.get("timeout", 600))
        return self._aimed(sdk.Anthropic, base_url, api_key=key, timeout=timeout)

    def _error_kind(self, exc: Any) -> str | None:
        """Anthropic's error ``type`` (``invalid_request_error``...), from the body's ``error``."""
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error")
        return error.get("type") if isinstance(error, dict) else None


def _request_body(payload: Path) -> Iterator[bytes]:
    """``{"requests": [...]}`` from a payload of one request object per line, in chunks."""
    yield b'{"requests":['
    with payload.open("rb") as fh:
        first = True
        for line in fh:
            line = line.rstrip(b"\r\n")
            if not line:
                continue
            yield line if first else b"," + line
            first = False
    yield b"]}"
