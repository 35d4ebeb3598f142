"""The Mistral adapter: batch jobs through the official ``mistralai`` SDK.

Why the SDK and not httpx: ``mistralai`` (3.x, ``mistralai.client.Mistral``) covers every call a
batch needs (``files.upload`` taking a file object, ``batch.jobs.create`` with inline
``requests`` or ``input_files``, ``get``, ``list`` with a metadata filter, ``cancel``, and
``files.download`` as a streamed response), takes ``server_url`` so tests point it at the
emulator, and takes ``retries`` per call, so creates run with retries off while reads retry.

The pure half lives in :mod:`.codec` and needs no SDK (``bk.encode`` / ``bk.decode``
work offline); the SDK is imported the first time a client is needed.

Options: ``upload`` (``"auto"``, the default, sends small shards inline in the create call and
larger ones as an uploaded file; ``"inline"`` or ``"file"`` force one way), ``timeout_hours``
(1 to 168, default 24: after that the job ends ``TIMEOUT_EXCEEDED``), ``base_url`` (another
server, e.g. ``https://api.eu.mistral.ai``), ``timeout`` (seconds to wait for any one response,
default 300) and ``find_skew_seconds`` (see :meth:`MistralAdapter.find_by_key`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

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
from ..openai.results import line_id
from .capabilities import CAPABILITIES
from .codec import (
    ENDPOINTS,
    check_request,
    decode_line,
    encode_line,
    error_message,
    map_status,
)
from .realtime import MistralRealtime

if TYPE_CHECKING:
    import httpx2
    from mistralai.client import Mistral
    from mistralai.client.utils import RetryConfig

__all__ = ["MistralAdapter"]

_MAX_REQUESTS = 100_000
"""The known-limitations page says 100,000 requests per batch; the batch page says 1 million.
The smaller figure is used so a shard is never refused for its size."""
_MAX_BYTES = 512 * 1000 * 1000
""""512 MB" per uploaded file (``files.upload`` docstring), read as decimal megabytes."""
_INLINE_MAX_REQUESTS = 10_000
"""``CreateBatchJobRequest.requests`` has ``maxItems: 10000``."""
_INLINE_MAX_BYTES = 10 * 1000 * 1000
"""batchkit's own bound: an inline create holds the whole shard in memory and in one POST
body, and Mistral documents no size limit for that body, so bigger shards go as a file."""
_DOWNLOAD_CHUNK = 1 << 20
_LIST_PAGE = 100
_TIMEOUT_HOURS = (1, 168)
_UPLOAD_MODES = ("auto", "inline", "file")
_BEARER = re.compile(r"Bearer\s+\S+", re.IGNORECASE)


class MistralAdapter(MistralRealtime, Adapter):
    """Mistral batch jobs: one job per shard, one endpoint and one model per job.

    Chat and embeddings never share a shard because a job names one endpoint; the base class's
    ``group`` (the request kind) already splits them.
    """

    name = "mistral"
    capabilities = CAPABILITIES
    option_names = frozenset({"timeout_hours", "upload"})
    credential_env = ("MISTRAL_API_KEY",)

    def __init__(self, model: str, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(model, options)
        self._upload = self.options.get("upload", "auto")
        if self._upload not in _UPLOAD_MODES:
            raise ConfigError(f"mistral option upload must be one of {', '.join(_UPLOAD_MODES)}"
                              f", not {self._upload!r}")
        hours = self.options.get("timeout_hours", 24)
        low, high = _TIMEOUT_HOURS
        if not isinstance(hours, int) or isinstance(hours, bool) or not low <= hours <= high:
            raise ConfigError(f"mistral option timeout_hours must be an integer from {low} to "
                              f"{high}, not {hours!r}")
        self._timeout_hours = hours
        self._client: Mistral | None = None
        self._http: httpx2.Client | None = None
        self._api_key: str | None = None

    # -- pure half ---------------------------------------------------------------------------

    def limits(self, group: str) -> Limits:
        """100,000 requests and 512 MB per job; with ``upload="inline"``, what fits inline.
        An embedding line holds one input."""
        inline = self._upload == "inline"
        requests = _INLINE_MAX_REQUESTS if inline else _MAX_REQUESTS
        return Limits(
            max_requests=requests,
            max_bytes=_INLINE_MAX_BYTES if inline else _MAX_BYTES,
            max_embedding_inputs=requests if group == "embed" else None,
        )

    def check(self, request: Request) -> None:
        check_request(request)

    def encode(self, request: Request, vendor_id: str) -> bytes:
        return encode_line(request, vendor_id)

    def decode(self, line: bytes) -> Result:
        return decode_line(line)

    def row_id(self, line: bytes) -> str | None:
        return line_id(line)  # the OpenAI family's lines, ids first

    # -- I/O half ----------------------------------------------------------------------------

    def submit(self, shard: ShardInput) -> str:
        """Create the job, inline or from an uploaded file, tagged with the shard's key.

        ``metadata = {batchkit_job, batchkit_key}`` is what :meth:`find_by_key` looks for. The
        upload and the create run with the SDK's retries off: Mistral has no idempotency key, so
        a retried create after a lost response could start a second, paid job (the orchestrator
        asks ``find_by_key`` instead), and a retried upload would re-send a file object the
        first attempt already read to its end.
        """
        self._sdk()  # first: a missing SDK is a MissingDependencyError, not an ImportError
        from mistralai.client import models

        endpoint = ENDPOINTS[shard.group]
        metadata = {"batchkit_job": shard.job_id, "batchkit_key": shard.key}
        no_retries = _retry_config(enabled=False)
        if self._inline(shard):
            requests = [models.BatchRequest(custom_id=line["custom_id"], body=line["body"])
                        for line in _payload_lines(shard.payload_path)]
            with self._call("create the batch job") as client:
                job = client.batch.jobs.create(
                    endpoint=endpoint, model=self.model, requests=requests, metadata=metadata,
                    timeout_hours=self._timeout_hours, retries=no_retries,
                )
            return job.id
        with self._call("upload the batch file") as client, shard.payload_path.open("rb") as fh:
            # A file object, not bytes: httpx streams it from disk in chunks.
            uploaded = client.files.upload(
                file=models.File(file_name=shard.payload_path.name, content=fh,
                                 content_type="application/jsonl"),
                purpose="batch", retries=no_retries,
            )
        with self._call("create the batch job") as client:
            job = client.batch.jobs.create(
                endpoint=endpoint, model=self.model, input_files=[uploaded.id],
                metadata=metadata, timeout_hours=self._timeout_hours, retries=no_retries,
            )
        return job.id

    def _inline(self, shard: ShardInput) -> bool:
        if self._upload != "auto":
            return bool(self._upload == "inline")
        return (shard.request_count <= _INLINE_MAX_REQUESTS
                and shard.payload_path.stat().st_size <= _INLINE_MAX_BYTES)

    def poll(self, remote_id: str) -> RemoteStatus:
        with self._call("read the batch job") as client:
            job = client.batch.jobs.get(job_id=remote_id)
        return map_status(job.model_dump(mode="json"))

    def poll_many(
        self, remote_ids: Sequence[str], *, job_id: str, since: float
    ) -> dict[str, RemoteStatus]:
        """``batch.jobs.list`` instead of one ``get`` per shard, narrowed on the server to the
        job's batches (metadata ``batchkit_job``) created since it was journaled, newest first,
        100 a page; a listed job is the same BatchJob ``get`` returns. As in
        :meth:`find_by_key`, the filter only narrows: the ids decide."""
        created_after = datetime.fromtimestamp(self._listing_cutoff(since), tz=timezone.utc)
        with self._call("list batch jobs") as client:

            def pages() -> Iterator[list[Any]]:
                page = 0
                while True:
                    listing = client.batch.jobs.list(
                        page=page, page_size=_LIST_PAGE, metadata={"batchkit_job": job_id},
                        created_after=created_after, order_by="-created",
                    )
                    yield listing.data or []
                    page += 1
                    if not listing.data or page * _LIST_PAGE >= listing.total:
                        return

            return scan_listing(pages(), remote_ids, batch_id=lambda job: job.id,
                                status=lambda job: map_status(job.model_dump(mode="json")))

    def cancel(self, remote_id: str) -> None:
        with self._call("cancel the batch job") as client:
            client.batch.jobs.cancel(job_id=remote_id)

    def fetch_results(self, remote_id: str, status: RemoteStatus, dest: Path) -> list[Path]:
        """Stream the output file and the error file (failed requests live there) to ``dest``.

        Each file is written to ``*.part`` and renamed when complete, so a crash mid-download
        never leaves a truncated file that looks finished. A job that ran requests but names no
        file has its results only inline (``get(inline=True)``, as the SDK's inline-batching
        example reads them): those are written out as one JSONL file. That answer arrives as
        one JSON body, so it is the one path that holds results in memory. Files are private to
        the user, and named after the job id made safe (the vendor's text is never a path).
        """
        raw = status.raw if "output_file" in status.raw else self.poll(remote_id).raw
        dest.mkdir(parents=True, exist_ok=True)
        paths = []
        for kind in ("output", "error"):
            file_id = raw.get(f"{kind}_file")
            if file_id:
                path = result_file(dest, remote_id, f"_{kind}.jsonl")
                paths.append(self._download(str(file_id), path))
        ran = raw.get("completed_requests") or raw.get("succeeded_requests") or raw.get(
            "failed_requests")
        if not paths and ran:
            path = result_file(dest, remote_id, "_inline.jsonl")
            paths.append(self._inline_outputs(remote_id, path))
        return paths

    def _download(self, file_id: str, path: Path) -> Path:
        part = path.with_name(path.name + ".part")
        with self._call("download a result file") as client:
            response = client.files.download(file_id=file_id)
            try:
                with open_private(part) as fh:
                    for chunk in response.iter_bytes(_DOWNLOAD_CHUNK):
                        fh.write(chunk)
            finally:
                response.close()
        part.replace(path)
        return path

    def _inline_outputs(self, remote_id: str, path: Path) -> Path:
        part = path.with_name(path.name + ".part")
        with self._call("read the inline results") as client:
            job = client.batch.jobs.get(job_id=remote_id, inline=True)
        with open_private(part) as fh:
            for row in job.outputs or []:
                fh.write(orjson.dumps(row) + b"\n")
        part.replace(path)
        return path

    def find_by_key(self, shard: ShardInput) -> str | None:
        """The newest job whose metadata carries ``shard.key`` and is not another shard's.

        The list call asks Mistral to filter by ``metadata`` and by ``created_after`` (the
        job's journal time less ``find_skew_seconds``, default 300, for clock skew; no job of
        this shard can be older). Each job returned is still checked for the key here: the
        SDK sends the metadata filter as exploded query parameters (``?batchkit_key=...``), a
        form the spec allows but does not spell out, so the filter is trusted to narrow the
        listing, never to decide.
        """
        created_after = None
        if shard.journaled_at:
            created_after = datetime.fromtimestamp(self._listing_cutoff(shard.journaled_at),
                                                   tz=timezone.utc)
        page = 0
        with self._call("list batch jobs") as client:
            while True:
                listing = client.batch.jobs.list(
                    page=page, page_size=_LIST_PAGE, metadata={"batchkit_key": shard.key},
                    created_after=created_after, order_by="-created",
                )
                for job in listing.data or []:
                    if (job.metadata or {}).get("batchkit_key") == shard.key \
                            and job.id not in shard.taken:
                        return job.id
                page += 1
                if not listing.data or page * _LIST_PAGE >= listing.total:
                    return None

    def prepare(self) -> None:
        self._sdk()

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
        self._http = self._client = None

    # -- helpers -----------------------------------------------------------------------------

    def _sdk(self) -> Mistral:
        """The SDK client, built once, on an HTTP client batchkit owns (so ``close`` can close
        it). Sandbox mode never sends a real key to the emulator. Reads retry 429/5xx and
        connection errors with backoff; :meth:`submit` turns retries off per call."""
        if self._client is not None:
            return self._client
        try:
            import httpx2
            from mistralai.client import Mistral
        except ImportError:
            raise MissingDependencyError(
                'the mistral provider needs the Mistral SDK: pip install "batchkit[mistral]"'
            ) from None
        sandbox = sandbox_url(self.name)
        server_url = self.options.get("base_url") or sandbox
        self._api_key = key = api_key(self.name, "MISTRAL_API_KEY", "Mistral")
        self._http = httpx2.Client(follow_redirects=True)
        # Seconds to wait for any one response (option "timeout"; the SDK default is 5 min).
        timeout_ms = int(float(self.options.get("timeout", 300)) * 1000)
        self._client = Mistral(api_key=key, server_url=server_url, client=self._http,
                               retry_config=_retry_config(enabled=True), timeout_ms=timeout_ms)
        return self._client

    def _redact(self, text: str) -> str:
        return redact(text, self._api_key, _BEARER, "Bearer ***")

    @contextmanager
    def _call(self, action: str) -> Iterator[Mistral]:
        """The client, with SDK errors re-raised as batchkit's. ``from None``: the chained SDK
        exception would print the vendor's unredacted message in every traceback."""
        client = self._sdk()
        from mistralai.client import errors  # present: _sdk() imported the SDK

        lost: tuple[type[BaseException], ...] = (errors.NoResponseError, *TRANSPORT_ERRORS)

        try:
            yield client
        except errors.ResponseValidationError as exc:
            raise ProviderError(
                f"Mistral's answer to '{action}' did not match the SDK's types: "
                f"{self._redact(exc.message[:500])}"
            ) from None
        except errors.MistralError as exc:
            if exc.status_code == 401:
                raise MissingCredentialsError(
                    f"Mistral refused the API key while trying to {action} (HTTP 401): "
                    "check the MISTRAL_API_KEY environment variable"
                ) from None
            raise ProviderError(
                f"Mistral could not {action}: HTTP {exc.status_code}: "
                f"{self._redact(_error_text(exc.body))}",
                status_code=exc.status_code,
            ) from None
        except lost as exc:  # incl. a body cut off while streaming it
            raise ProviderError(
                f"Mistral could not {action}: {type(exc).__name__}: {self._redact(str(exc))}",
                transient=True,
            ) from None


def _retry_config(*, enabled: bool) -> RetryConfig:
    from mistralai.client.utils import BackoffStrategy, RetryConfig

    # Milliseconds: first wait 0.5 s, growing 1.5x to 20 s, giving up after 60 s in all.
    backoff = BackoffStrategy(500, 20_000, 1.5, 60_000)
    return RetryConfig("backoff" if enabled else "none", backoff, enabled)


def _payload_lines(payload: Path) -> Iterator[dict[str, Any]]:
    with payload.open("rb") as fh:
        for line in fh:
            if line.strip():
                yield orjson.loads(line)


def _error_text(body: str) -> str:
    """The readable part of a Mistral HTTP error body: its ``message`` (or a bare ``detail``)."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:500]
    if isinstance(parsed, dict) and ("message" in parsed or "detail" in parsed):
        return error_message(parsed.get("message", parsed.get("detail")))
    return body[:500]
