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
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..._exceptions import (
    ConfigError,
    MissingCredentialsError,
    MissingDependencyError,
    ProviderError,
)
from ..._requests import Request
from ..._results import Result
from .._credentials import api_key, redact
from .._transport import TRANSPORT_ERRORS
from ..base import (
    Adapter,
    Limits,
    RemoteStatus,
    ShardInput,
    open_private,
    result_file,
    sandbox_url,
    scan_listing,
)
from .codec import LineFormat, decode_line, map_status
from .realtime import OpenAIRealtime

if TYPE_CHECKING:
    from openai import OpenAI

__all__ = ["OpenAIAdapter"]

_Endpoint = Literal["/v1/chat/completions", "/v1/responses", "/v1/embeddings"]
_ENDPOINTS: Mapping[str, _Endpoint] = {
    "chat": "/v1/chat/completions",
    "responses": "/v1/responses",
    "embed": "/v1/embeddings",
}
_MAX_REQUESTS = 50_000
_MAX_BYTES = 200 * 1000 * 1000
"""OpenAI says "200 MB"; counted in decimal megabytes, the smaller reading, to stay inside."""
_DOWNLOAD_CHUNK = 1 << 20
_LIST_PAGE = 100
"""The largest page ``batches.list`` allows."""
_KEY_PATTERN = re.compile(r"sk-[A-Za-z0-9_\-*]{3,}")


class OpenAIAdapter(OpenAIRealtime, Adapter):
    """OpenAI's Batch API: one JSONL file per shard, one endpoint per batch.

    Chat and embedding requests never share a shard because a batch names a single endpoint;
    the base class's ``group`` (the request kind, ``chat`` / ``embed``) already splits them.
    """

    name = "openai"
    credential_env = ("OPENAI_API_KEY",)

    def __init__(self, model: str, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(model, options)
        endpoint = self.options.get("endpoint", "chat")
        if endpoint not in ("chat", "responses"):
            raise ConfigError(
                f"openai option endpoint must be 'chat' or 'responses', not {endpoint!r}"
            )
        self._chat_endpoint: Literal["chat", "responses"] = endpoint
        self._format = LineFormat(model, chat_endpoint=endpoint)
        self._client: OpenAI | None = None
        self._api_key: str | None = None

    # -- pure half ---------------------------------------------------------------------------

    def limits(self, group: str) -> Limits:
        """50,000 requests and 200 MB per file; embedding batches also 50,000 inputs in total."""
        return Limits(
            max_requests=_MAX_REQUESTS,
            max_bytes=_MAX_BYTES,
            max_embedding_inputs=_MAX_REQUESTS if group == "embed" else None,
        )

    def check(self, request: Request) -> None:
        self._format.check(request)

    def encode(self, request: Request, vendor_id: str) -> bytes:
        return self._format.encode(request, vendor_id)

    def decode(self, line: bytes) -> Result:
        return decode_line(line)

    # -- I/O half ----------------------------------------------------------------------------

    def submit(self, shard: ShardInput) -> str:
        """Upload the payload (streamed from disk) and create the batch, tagged with the key.

        The create call is made with SDK retries off: OpenAI has no idempotency header, so a
        retried create after a lost response could start a second, paid batch. A failure here
        surfaces instead, and the orchestrator's ``find_by_key`` decides whether one was made.
        """
        endpoint = self._endpoint(shard.group)
        with self._call("upload the batch file") as client, shard.payload_path.open("rb") as fh:
            # A file object, not a Path: the SDK reads a Path whole into memory, while httpx
            # streams a file object in chunks (and rewinds it on retry).
            uploaded = client.files.create(
                file=(shard.payload_path.name, fh, "application/jsonl"), purpose="batch"
            )
        with self._call("create the batch") as client:
            batch = client.with_options(max_retries=0).batches.create(
                input_file_id=uploaded.id,
                endpoint=endpoint,
                completion_window="24h",
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
        """``batches.list`` (newest first, 100 a page) instead of one retrieve per shard: a
        listed batch is the same Batch object ``retrieve`` returns. Paging stops at the first
        batch created before the job (see :func:`.base.scan_listing` for the other stops)."""
        cutoff = self._listing_cutoff(since)
        with self._call("list batches") as client:
            first = client.batches.list(limit=_LIST_PAGE)
            return scan_listing(
                (page.data for page in first.iter_pages()), remote_ids,
                batch_id=lambda batch: batch.id,
                status=lambda batch: map_status(batch.to_dict(mode="json")),
                too_old=lambda batch: batch.created_at < cutoff,
            )

    def cancel(self, remote_id: str) -> None:
        with self._call("cancel the batch") as client:
            client.batches.cancel(remote_id)

    def fetch_results(self, remote_id: str, status: RemoteStatus, dest: Path) -> list[Path]:
        """Stream the output file and the error file (HTTP-level and expired/cancelled rows
        live there) to ``dest``; a file id that is null means that file would be empty.

        Each file is written to ``*.part`` and renamed when complete, so a crash mid-download
        never leaves a truncated file that looks finished. Files are private to the user, and
        named after the batch id made safe (the vendor's text is never a path).
        """
        raw = status.raw
        if "output_file_id" not in raw and "error_file_id" not in raw:
            raw = self.poll(remote_id).raw
        dest.mkdir(parents=True, exist_ok=True)
        paths = []
        for kind in ("output", "error"):
            file_id = raw.get(f"{kind}_file_id")
            if not file_id:
                continue
            path = result_file(dest, remote_id, f"_{kind}.jsonl")
            part = path.with_name(path.name + ".part")
            with (
                self._call(f"download the {kind} file") as client,
                client.files.with_streaming_response.content(file_id) as response,
                open_private(part) as fh,
            ):
                for chunk in response.iter_bytes(_DOWNLOAD_CHUNK):
                    fh.write(chunk)
            part.replace(path)
            paths.append(path)
        return paths

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

    def prepare(self) -> None:
        self._sdk()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- helpers -----------------------------------------------------------------------------

    def _endpoint(self, group: str) -> _Endpoint:
        return _ENDPOINTS["embed" if group == "embed" else self._chat_endpoint]

    def _sdk(self) -> OpenAI:
        """The SDK client, built once. Sandbox mode never sends a real key to the emulator."""
        if self._client is not None:
            return self._client
        try:
            import openai
        except ImportError:
            raise MissingDependencyError(
                'the openai provider needs the OpenAI SDK: pip install "batchkit[openai]"'
            ) from None
        sandbox = sandbox_url(self.name)
        base_url = self.options.get("base_url") or (f"{sandbox}/v1" if sandbox else None)
        self._api_key = key = api_key(self.name, "OPENAI_API_KEY", "OpenAI")
        # Seconds to wait for any one response (option "timeout"; the SDK default is 10 min).
        timeout = float(self.options.get("timeout", 600))
        if base_url:
            self._client = openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout)
        else:  # let the SDK apply its own environment (OPENAI_BASE_URL) and default
            self._client = openai.OpenAI(api_key=key, timeout=timeout)
        return self._client

    def _redact(self, text: str) -> str:
        """Remove the key, and anything key-shaped (OpenAI's 401 echoes a masked key)."""
        return redact(text, self._api_key, _KEY_PATTERN, "sk-***")

    @contextmanager
    def _call(self, action: str) -> Iterator[OpenAI]:
        """The client, with SDK errors re-raised as batchkit's. ``from None``: the chained SDK
        exception would print the vendor's unredacted message in every traceback."""
        client = self._sdk()
        import openai  # present: _sdk() imported it

        try:
            yield client
        except openai.AuthenticationError:
            raise MissingCredentialsError(
                f"OpenAI refused the API key while trying to {action} (HTTP 401): "
                "check the OPENAI_API_KEY environment variable"
            ) from None
        except openai.APIStatusError as exc:
            # The SDK's own message embeds the whole body; the body's message reads better.
            detail = exc.body.get("message") if isinstance(exc.body, dict) else None
            code = f" [{exc.code}]" if exc.code else ""
            request_id = f" (request id {exc.request_id})" if exc.request_id else ""
            raise ProviderError(
                f"OpenAI could not {action}: HTTP {exc.status_code}{code}: "
                f"{self._redact(str(detail or exc.message))}{request_id}",
                status_code=exc.status_code,
            ) from None
        except openai.APIConnectionError as exc:
            raise ProviderError(
                f"OpenAI could not {action}: {type(exc).__name__}: {self._redact(exc.message)}",
                transient=True,
            ) from None
        except TRANSPORT_ERRORS as exc:  # a body cut off while streaming it
            raise ProviderError(
                f"OpenAI could not {action}: connection lost: {self._redact(str(exc))}",
                transient=True,
            ) from None
        except openai.OpenAIError as exc:
            raise ProviderError(f"OpenAI could not {action}: {self._redact(str(exc))}") from None
        except ValueError as exc:  # the SDK will not put an id like '..' or '' into a URL
            raise ProviderError(f"OpenAI could not {action}: {self._redact(str(exc))}") from None
