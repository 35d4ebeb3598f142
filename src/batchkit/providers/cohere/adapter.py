"""The Cohere adapter: Embed Jobs for embeddings, the Batches API for chat, via the ``cohere`` SDK.

Both kinds run over a dataset. ``submit`` uploads the shard's payload as a dataset (a file object,
so the SDK's httpx streams it), waits for Cohere's validation, then creates the embed job
(``/v1/embed-jobs``) or batch (``/v2/batches``) named with the shard key. Results are an output
dataset whose Avro parts are streamed record by record into one JSONL file.

The pure half lives in :mod:`.codec`; the SDK is imported the first time a client is
needed.

Options: ``input_type`` (for EmbedRequests without one; default ``search_document``),
``embedding_types`` (default ``["float"]``; any of float, int8, uint8, binary, ubinary),
``truncate`` (``START`` / ``END``; Cohere's default is END), ``keep_fields`` /
``optional_fields`` (force metadata fields either way; the rest are detected per shard),
``send_metadata`` (default True; False sends only text and id), ``validation_timeout`` (seconds
to wait for a dataset to validate, default 3600), ``find_skew_seconds`` (default 300) and
``base_url``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..._clock import Backoff
from ..._exceptions import (
    BatchFailedError,
    MissingCredentialsError,
    MissingDependencyError,
    ProviderError,
)
from ..._requests import ChatRequest, EmbedRequest, Request
from ..._results import Result
from .._credentials import api_key, redact
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
from .capabilities import CAPABILITIES
from .codec import (
    check_request,
    dataset_fields,
    decode_line,
    encode_chat,
    encode_embed,
    map_batch,
    map_embed_job,
    text_identity,
)
from .datasets import copy_part, payload_rows
from .options import OPTION_NAMES, EmbedJobSettings
from .realtime import CohereRealtime

if TYPE_CHECKING:
    import httpx
    from cohere import ClientV2
    from cohere.batches.types import Batch

__all__ = ["CohereAdapter"]

_MAX_REQUESTS = 50_000
"""Cohere sets no count per dataset, but the normalizer holds one shard's decoded results in
memory; 50,000 vectors of 1,024 floats is the same order as an OpenAI shard."""
_MAX_BYTES = 1_500_000_000
""""A Dataset can be as large as 1.5GB" (datasets guide), read as decimal, the smaller reading."""
_EMBED_JOB, _BATCH = "embed-job:", "batch:"
"""Prefixes of batchkit's remote ids: both kinds have bare UUIDs, and poll must know which API."""
_CHAT_DATASET, _EMBED_DATASET = "batch-chat-v2-input", "embed-input"
_VALIDATION_FAILED = frozenset({"failed", "skipped", "unknown"})
"""What the SDK's own ``wait`` treats as a dataset that will never validate."""
_NO_RETRY: Any = {"max_retries": 0}
"""Creates are never retried by the SDK: a retry after a lost response would make a second
dataset or job; ``find_by_key`` attaches to the first one instead."""
_LIST_PAGE = 1000
_KEY_PATTERN = re.compile(r"\b[A-Za-z0-9]{40}\b")
"""Cohere keys are 40 letters and digits, with no prefix."""
"""``EmbedRequest.input_type``'s values, all of which Cohere's ``EmbedInputType`` takes."""


class CohereAdapter(CohereRealtime, Adapter):
    """Cohere: one dataset plus one embed job (per input type) or one batch per shard; real
    time (:mod:`.realtime`) sends the same lines to ``/v2/embed`` and ``/v2/chat``."""

    name = "cohere"
    capabilities = CAPABILITIES
    row_id_key, row_id_other_kind = "custom_id", "embeddings"
    """A batch record opens with its ``custom_id``. An embed-job record is decoded to learn
    its id: it is ``batchkit_id`` after the record's text (any length, escapes common) and,
    in a job batchkit did not write, a hash of that text, which only decoding it gives."""
    option_names = OPTION_NAMES
    credential_env = ("CO_API_KEY", "COHERE_API_KEY")

    def __init__(self, model: str, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(model, options)
        settings = EmbedJobSettings.from_options(self.options)
        self._input_type, self._embedding_types = settings.input_type, settings.embedding_types
        self._truncate, self._send_metadata = settings.truncate, settings.send_metadata
        self._keep, self._optional = settings.keep, settings.optional
        self._client: ClientV2 | None = None
        self._http: httpx.Client | None = None
        self._api_key: str | None = None
        self._datasets_by_key: dict[str, str] = {}
        """Datasets ``find_by_key`` found uploaded for a shard with no job yet: reused by submit."""

    # -- pure half ---------------------------------------------------------------------------

    def group(self, request: Request) -> str:
        """Chat shards apart from embeddings, and embeddings by input type (one per job)."""
        if isinstance(request, EmbedRequest):
            return f"embed:{request.input_type or self._input_type}"
        return "chat"

    def limits(self, group: str) -> Limits:
        return Limits(max_requests=_MAX_REQUESTS, max_bytes=_MAX_BYTES)

    def check(self, request: Request) -> None:
        check_request(request, self.model, {"keep_fields": self._keep,
                                            "send_metadata": self._send_metadata})

    def encode(self, request: Request, vendor_id: str) -> bytes:
        if isinstance(request, EmbedRequest):
            return encode_embed(request, vendor_id, send_metadata=self._send_metadata)
        assert isinstance(request, ChatRequest)  # moderation: refused by the capability table
        return encode_chat(request, vendor_id)

    def decode(self, line: bytes) -> Result:
        return decode_line(line)

    def row_keys(self, request: Request, vendor_id: str) -> tuple[str, ...]:
        """An embed-job record of a job batchkit did not write has no id: found by its text."""
        return ((text_identity(request.text),)
                if isinstance(request, EmbedRequest) and request.text is not None else ())

    # -- I/O half ----------------------------------------------------------------------------

    def submit(self, shard: ShardInput) -> str:
        """Upload (or reuse) the shard's dataset, wait until it validates, create the job.

        A dataset that fails validation raises ``BatchFailedError`` with Cohere's
        ``validation_error``, so the shard is recorded as rejected with the vendor's reason.
        """
        dataset_id = self._datasets_by_key.pop(shard.key, None) or self._upload(shard)
        self._await_validation(dataset_id, shard)
        if shard.group == "chat":
            from cohere.batches import Batch

            with self._call("create the batch") as client:
                created = client.batches.create(
                    request=Batch(name=shard.key, input_dataset_id=dataset_id, model=self.model),
                    request_options=_NO_RETRY,
                )
            if not created.batch.id:  # the SDK types the id optional (it is read-only)
                raise ProviderError(f"Cohere created a batch for shard {shard.index} but "
                                    "returned no id; resuming the job finds it by name")
            return _BATCH + str(created.batch.id)
        extra = {"truncate": self._truncate} if self._truncate else {}
        with self._call("create the embed job") as client:
            job = client.embed_jobs.create(
                model=self.model, dataset_id=dataset_id, input_type=shard.group.partition(":")[2],
                name=shard.key, embedding_types=self._embedding_types,
                request_options=_NO_RETRY, **extra,
            )
        return _EMBED_JOB + str(job.job_id)

    def _upload(self, shard: ShardInput) -> str:
        """Create the dataset named with the shard key, the payload streamed from disk."""
        fields: dict[str, Any] = {}
        if shard.group == "chat":
            kind = _CHAT_DATASET
        else:
            kind = _EMBED_DATASET
            keep, optional = dataset_fields(payload_rows(shard.payload_path), keep=self._keep,
                                            optional=self._optional)
            fields = {"keep_fields": keep or None, "optional_fields": optional or None}
        with self._call("upload the dataset") as client, shard.payload_path.open("rb") as fh:
            created = client.datasets.create(
                name=shard.key, type=kind, data=(f"{shard.key}.jsonl", fh, "application/jsonl"),
                request_options=_NO_RETRY, **fields,
            )
        return str(created.id)

    def _await_validation(self, dataset_id: str, shard: ShardInput) -> None:
        """Poll the dataset until Cohere has validated it (the job may not start before)."""
        timeout = float(self.options.get("validation_timeout", 3600))
        deadline = time.monotonic() + timeout
        backoff = Backoff(initial=self.poll_interval() / 2, maximum=30.0)
        while True:
            with self._call("read the dataset") as client:
                dataset = client.datasets.get(dataset_id).dataset
            status = dataset.validation_status
            if status == "validated":
                return
            if status in _VALIDATION_FAILED:
                raise BatchFailedError(
                    f"Cohere did not validate dataset {dataset_id} for shard {shard.index} "
                    f"(status {status}): "
                    f"{self._redact(dataset.validation_error or 'no reason given')}"
                )
            if time.monotonic() >= deadline:
                raise ProviderError(
                    f"Cohere dataset {dataset_id} is still {status} after {timeout:g}s; it is "
                    "kept, and resuming the job attaches to it instead of uploading again"
                )
            time.sleep(backoff.next_delay())

    def poll(self, remote_id: str) -> RemoteStatus:
        kind, vendor_id = _split(remote_id)
        if kind == _BATCH:
            with self._call("read the batch") as client:
                batch = client.batches.retrieve(vendor_id).batch
            return map_batch(batch.model_dump(mode="json"))
        with self._call("read the embed job") as client:
            job = client.embed_jobs.get(vendor_id)
        return map_embed_job(job.model_dump(mode="json"))

    def poll_many(
        self, remote_ids: Sequence[str], *, job_id: str, since: float
    ) -> dict[str, RemoteStatus]:
        """Chat batches from ``batches.list`` (1,000 a page) and embed jobs from
        ``embed_jobs.list`` (one unpaged call), instead of one get per shard: the listed items
        are the same Batch and EmbedJob objects. No list order is documented, so batch pages
        are read until every shard is found (or to :func:`..base.scan_listing`'s page cap)."""
        batches = [i for i in remote_ids if i.startswith(_BATCH)]
        embed_jobs = [i for i in remote_ids if i.startswith(_EMBED_JOB)]
        found: dict[str, RemoteStatus] = {}
        with self._call("list jobs") as client:
            if batches:
                found.update(scan_listing(
                    _batch_pages(client), batches, batch_id=lambda b: _BATCH + str(b.id),
                    status=lambda b: map_batch(b.model_dump(mode="json"))))
            if embed_jobs:
                found.update(scan_listing(
                    [client.embed_jobs.list().embed_jobs or []], embed_jobs,
                    batch_id=lambda j: _EMBED_JOB + j.job_id,
                    status=lambda j: map_embed_job(j.model_dump(mode="json"))))
        return found

    def cancel(self, remote_id: str) -> None:
        kind, vendor_id = _split(remote_id)
        with self._call("cancel the job") as client:
            if kind == _BATCH:
                client.batches.cancel(vendor_id)
            else:
                client.embed_jobs.cancel(vendor_id)

    def fetch_results(self, remote_id: str, status: RemoteStatus, dest: Path) -> list[Path]:
        """Stream every part of the output dataset into one JSONL file, record by record.

        No output dataset (a failed or cancelled job: Cohere keeps no partial results of a
        cancelled embed job) means no file; the normalizer accounts for every request then.
        The file is written to ``*.part`` and renamed when complete. It is private to the user,
        and named after the job id made safe (the vendor's text is never a path).
        """
        raw = status.raw if "output_dataset_id" in status.raw else self.poll(remote_id).raw
        output_id = raw.get("output_dataset_id")
        if not output_id:
            return []
        with self._call("read the output dataset") as client:
            dataset = client.datasets.get(output_id).dataset
        dest.mkdir(parents=True, exist_ok=True)
        path = result_file(dest, _split(remote_id)[1], "_output.jsonl")
        part_path = path.with_name(path.name + ".part")
        with open_private(part_path) as out:
            for part in sorted(dataset.dataset_parts or [], key=lambda p: p.index or 0):
                copy_part(output_id, part, out)
        part_path.replace(path)
        return [path]

    def find_by_key(self, shard: ShardInput) -> str | None:
        """The job or batch named ``shard.key``, or None.

        Neither kind carries metadata, so the key is the name. Finding none, it also looks for
        a dataset already uploaded under the key (a crash between upload and create, or a
        validation that outlasted ``validation_timeout``): ``submit`` then reuses it instead of
        uploading the shard again.
        """
        with self._call("list jobs") as client:
            if shard.group == "chat":
                found = _find_batch(client, shard.key)
            else:
                jobs = client.embed_jobs.list().embed_jobs or []
                found = next((_EMBED_JOB + j.job_id for j in jobs if j.name == shard.key), None)
        if found is None:
            dataset_id = self._find_dataset(shard)
            if dataset_id is not None:
                self._datasets_by_key[shard.key] = dataset_id
        return found

    def _find_dataset(self, shard: ShardInput) -> str | None:
        """The dataset named ``shard.key`` created since the job was journaled (less
        ``find_skew_seconds`` for clock skew)."""
        kind = _CHAT_DATASET if shard.group == "chat" else _EMBED_DATASET
        after = None
        if shard.journaled_at:
            after = datetime.fromtimestamp(self._listing_cutoff(shard.journaled_at), timezone.utc)
        offset = 0
        with self._call("list datasets") as client:
            while True:
                page = client.datasets.list(dataset_type=kind, after=after, limit=_LIST_PAGE,
                                            offset=offset).datasets or []
                for dataset in page:
                    if dataset.name == shard.key:
                        return str(dataset.id)
                if len(page) < _LIST_PAGE:
                    return None
                offset += len(page)

    def count_input_tokens(self, requests: Sequence[Request]) -> list[int] | None:
        """Embedding texts through ``/v1/tokenize`` (``offline=False``: not the SDK's download
        of the tokenizer file). Chat is None: tokenize sees no chat template, so no better."""
        texts = [r.text for r in requests if isinstance(r, EmbedRequest) and r.text is not None]
        if len(texts) != len(requests):
            return None
        with self._call("count tokens") as client:
            return [len(client.tokenize(text=t, model=self.model, offline=False).tokens)
                    for t in texts]

    def prepare(self) -> None:
        self._sdk()

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http, self._client = None, None

    # -- helpers -----------------------------------------------------------------------------

    def _sdk(self) -> ClientV2:
        """The SDK client, built once. Sandbox mode never sends a real key to the emulator."""
        if self._client is not None:
            return self._client
        try:
            import cohere
            import httpx
        except ImportError:
            raise MissingDependencyError(
                'the cohere provider needs the Cohere SDK: pip install "batchkit[cohere]"'
            ) from None
        self._api_key = key = _cohere_key(self.name)
        sandbox = sandbox_url(self.name)
        base_url = self.options.get("base_url") or sandbox
        # Seconds to wait for any one response (option "timeout", default 300).
        wait = float(self.options.get("timeout") or 300)
        self._http = httpx.Client(timeout=wait, follow_redirects=True)
        kwargs: dict[str, Any] = {"base_url": base_url} if base_url else {}
        # Without base_url the SDK applies its own environment (CO_API_URL) and default.
        self._client = cohere.ClientV2(
            api_key=key, client_name="batchkit", httpx_client=self._http, timeout=wait,
            log_warning_experimental_features=False, **kwargs,
        )
        return self._client

    def _redact(self, text: str) -> str:
        return redact(text, self._api_key, _KEY_PATTERN, "***")

    @contextmanager
    def _call(self, action: str) -> Iterator[ClientV2]:
        """The client, with SDK and transport errors re-raised as batchkit's. ``from None``: the
        chained SDK exception would print the vendor's unredacted text in every traceback."""
        client = self._sdk()
        import httpx
        from cohere.core.api_error import ApiError
        from cohere.core.parse_error import ParsingError

        try:
            yield client
        except ApiError as exc:
            if exc.status_code in (401, 498):
                raise MissingCredentialsError(
                    f"Cohere refused the API key while trying to {action} "
                    f"(HTTP {exc.status_code}): check the CO_API_KEY environment variable"
                ) from None
            body = exc.body if isinstance(exc.body, dict) else {}
            detail = body.get("message") or exc.body
            raise ProviderError(
                f"Cohere could not {action}: HTTP {exc.status_code}: "
                f"{self._redact(str(detail))[:500]}",
                status_code=exc.status_code,
            ) from None
        except ParsingError as exc:
            raise ProviderError(f"Cohere could not {action}: its answer (HTTP "
                                f"{exc.status_code}) did not parse") from None
        except httpx.HTTPError as exc:  # the SDK lets transport errors through unwrapped
            raise ProviderError(
                f"Cohere could not {action}: {type(exc).__name__}: {self._redact(str(exc))}",
                transient=True,
            ) from None


def _cohere_key(provider: str) -> str:
    """``CO_API_KEY`` (Cohere's documented variable), else ``COHERE_API_KEY`` (the SDK's
    undocumented fallback)."""
    try:
        return api_key(provider, "CO_API_KEY", "Cohere")
    except MissingCredentialsError:
        fallback = os.environ.get("COHERE_API_KEY")
        if fallback:
            return fallback
        raise


def _split(remote_id: str) -> tuple[str, str]:
    for kind in (_BATCH, _EMBED_JOB):
        if remote_id.startswith(kind):
            return kind, remote_id[len(kind):]
    raise ProviderError(f"{remote_id!r} is not a Cohere batch or embed job id recorded by "
                        "batchkit (expected 'batch:...' or 'embed-job:...')")


def _find_batch(client: ClientV2, key: str) -> str | None:
    for page in _batch_pages(client):
        for batch in page:
            if batch.name == key:
                return _BATCH + str(batch.id)
    return None


def _batch_pages(client: ClientV2) -> Iterator[list[Batch]]:
    """Every chat batch, a page at a time, fetched as the caller reads on."""
    token: str | None = None
    while True:
        page = client.batches.list(page_size=_LIST_PAGE, page_token=token)
        yield page.batches or []
        token = page.next_page_token
        if not token:
            return
