"""The Gemini Developer API adapter: batch mode through the official ``google-genai`` SDK.

Requests are encoded by the shared Gemini codec (:mod:`.codec` and :mod:`.results`, also used by
``vertex``) into payload lines ``{"key", "request"}``, the Gemini API's own batch-file format,
so the payload is uploaded as it is when a batch goes through the Files API. Small chat shards
(``inline_max_bytes``, default just under the API's 20 MB inline limit) are sent inline instead,
saving the upload; each inline request carries ``metadata.key`` and the API echoes it on its
response, so inline results join by key exactly like file results.

Options: ``inline_max_bytes`` (0 forces the file path), ``max_requests`` (requests per batch,
default 50,000), ``base_url`` (another endpoint), ``find_skew_seconds`` (see
:meth:`GeminiAdapter.find_by_key`).
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

import orjson

from ..._exceptions import (
    MissingCredentialsError,
    MissingDependencyError,
    ProviderError,
)
from ..._requests import ChatRequest, EmbedRequest, Request
from ..._results import Result
from ..._state import JobState
from .._credentials import api_key, redact
from .._transport import TRANSPORT_ERRORS
from ..base import (
    Adapter,
    Limits,
    LineError,
    RemoteStatus,
    ShardInput,
    open_private,
    result_file,
    sandbox_url,
    scan_listing,
)
from .capabilities import CAPABILITIES
from .codec import (
    check_chat_request,
    check_embed_request,
    encode_embed_content_request,
    encode_generate_content_request,
)
from .realtime import GeminiRealtime
from .results import decode_result_line, map_job_state

if TYPE_CHECKING:
    from google.genai import Client
    from google.genai.types import BatchJob

__all__ = ["GeminiAdapter"]

INLINE_MAX_BYTES = 20 * 1000 * 1000 - 512 * 1000
"""The API takes inline requests "under 20MB" in total; the SDK's envelope and the per-request
``metadata`` add a little, so shards over this go through the Files API."""
_MAX_FILE_BYTES = 2 * 1000 * 1000 * 1000
""""2GB" per input file, read as decimal gigabytes (the smaller reading)."""
_MAX_REQUESTS = 50_000
"""Gemini documents no request count per batch, only per-model enqueued-token quotas; 50,000 keeps
one batch well inside those for typical prompts. Raise it with the ``max_requests`` option."""
_LIST_PAGE = 100
_READS: Any = {"retry_options": {"attempts": 4, "initial_delay": 0.25, "max_delay": 4.0}}
"""Per-call HTTP options for reads, which are safe to repeat: the SDK's own retries (on 408, 429,
5xx, lost connections) on top of batchkit's, since the client itself is built without any
(see :meth:`GeminiAdapter.submit`). Without them, one look at a finished batch is three calls
that a flaky network must all get through at once."""
_LISTING: Any = {"http_options": _READS, "page_size": _LIST_PAGE}
_KEY_PATTERN = re.compile(r"AIza[0-9A-Za-z_\-]{20,}")
_DISPLAY_PREFIX = "batchkit:"
_REQUEST_FIELDS = {"contents", "generationConfig", "systemInstruction", "safetySettings",
                   "tools", "toolConfig", "cachedContent"}
"""Top-level ``GenerateContentRequest`` fields the SDK's inline ``InlinedRequest`` can carry."""


class GeminiAdapter(GeminiRealtime, Adapter):
    """Gemini API batch mode: ``batchGenerateContent`` for chat, ``asyncBatchEmbedContent`` for
    embeddings. Chat and embedding requests never share a batch (the base ``group``)."""

    name = "gemini"
    capabilities = CAPABILITIES
    row_id_key = "key"
    """A responses file's line opens with its ``key``; an inline response saved as a line
    (``metadata.key``) has none at the top and is decoded to learn it."""
    option_names = frozenset({"inline_max_bytes", "max_requests"})
    credential_env = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

    def __init__(self, model: str, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(model, options)
        self._client: Client | None = None
        self._api_key: str | None = None

    # -- pure half ---------------------------------------------------------------------------

    def limits(self, group: str) -> Limits:
        """``max_requests`` per batch (default 50,000) and 2 GB per input file."""
        count = int(self.options.get("max_requests") or _MAX_REQUESTS)
        return Limits(max_requests=count, max_bytes=_MAX_FILE_BYTES,
                      max_embedding_inputs=count if group == "embed" else None)

    def check(self, request: Request) -> None:
        if isinstance(request, ChatRequest):
            check_chat_request(request, model=self.model)
        elif isinstance(request, EmbedRequest):
            check_embed_request(request)

    def encode(self, request: Request, vendor_id: str) -> bytes:
        if isinstance(request, ChatRequest):
            body = encode_generate_content_request(request)
        else:
            assert isinstance(request, EmbedRequest)  # moderation: refused by the capabilities
            body = encode_embed_content_request(request, None)
        return orjson.dumps({"key": vendor_id, "request": body})

    def decode(self, line: bytes) -> Result:
        return decode_result_line(line)

    # -- I/O half ----------------------------------------------------------------------------

    def submit(self, shard: ShardInput) -> str:
        """Create the batch named ``batchkit:<shard key>`` (the key ``find_by_key`` looks for).

        Chat shards up to ``inline_max_bytes`` go inline; anything larger, and every embedding
        shard, is uploaded (streamed from disk) through the Files API first. Embeddings always
        take the file path because the SDK's inline embedding source (``EmbedContentBatch``)
        has one config for the whole batch and no per-request key, so its responses could be
        joined only by position. The SDK client is built without retries, so a create is never
        repeated blindly: Gemini batch creation is not idempotent.
        """
        client = self._sdk()
        from google.genai import types

        display_name = _DISPLAY_PREFIX + shard.key
        config = types.CreateBatchJobConfig(display_name=display_name)
        limit = int(self.options.get("inline_max_bytes", INLINE_MAX_BYTES))
        if shard.group != "embed" and shard.payload_path.stat().st_size <= limit:
            inline = _inline_requests(shard.payload_path)
            if inline is not None:
                with self._call("create the batch"):
                    return _name(client.batches.create(model=self.model, src=inline,
                                                       config=config))
        with self._call("upload the batch file"), shard.payload_path.open("rb") as fh:
            uploaded = client.files.upload(file=fh, config=types.UploadFileConfig(
                mime_type="jsonl", display_name=display_name))
        file_name = str(uploaded.name)
        with self._call("create the batch"):
            if shard.group == "embed":
                with warnings.catch_warnings():  # "experimental": it is the only batch route
                    warnings.simplefilter("ignore")
                    batch = client.batches.create_embeddings(
                        model=self.model,
                        src=types.EmbeddingsBatchJobSource(file_name=file_name),
                        config=types.CreateEmbeddingsBatchJobConfig(display_name=display_name),
                    )
            else:
                batch = client.batches.create(model=self.model, src=file_name, config=config)
        return _name(batch)

    def poll(self, remote_id: str) -> RemoteStatus:
        with self._call("read the batch") as client:
            batch = client.batches.get(name=remote_id, config={"http_options": _READS})
        return _status(batch)

    def poll_many(
        self, remote_ids: Sequence[str], *, job_id: str, since: float
    ) -> dict[str, RemoteStatus]:
        """``batches.list`` (100 a page) instead of one ``get`` per shard: a listed batch is the
        same BatchJob. The API documents no list order, so paging stops only once every shard
        is found (or at :func:`..base.scan_listing`'s page cap)."""
        with self._call("list batches") as client:

            def pages() -> Iterator[list[BatchJob]]:
                pager = client.batches.list(config=_LISTING)
                while True:
                    yield pager.page
                    try:
                        pager.next_page()
                    except IndexError:  # the SDK's answer when there is no next page
                        return

            return scan_listing(pages(), remote_ids, batch_id=lambda b: str(b.name),
                                status=_status)

    def cancel(self, remote_id: str) -> None:
        with self._call("cancel the batch") as client:
            client.batches.cancel(name=remote_id)

    def fetch_results(self, remote_id: str, status: RemoteStatus, dest: Path) -> list[Path]:
        """Write the batch's results to ``dest`` as JSONL ``{"key", "response" | "error"}``.

        A responses file is downloaded in chunks straight to disk; inline responses are written
        one line each, their key taken from the echoed ``metadata.key``. An inline response
        without a key is written without one: the normalizer keeps it in ``unmatched``, and
        the request it belonged to gets ``missing_result``, so a count mismatch never shifts
        one request's answer onto another. Files go to ``*.part`` first and are renamed when
        complete, so a crash never leaves a truncated file that looks finished. Files are private
        to the user, and named after the batch id made safe (the vendor's text is never a path).
        """
        with self._call("read the batch") as client:
            batch = client.batches.get(name=remote_id, config={"http_options": _READS})
        out = batch.dest
        if out is None:
            return []
        dest.mkdir(parents=True, exist_ok=True)
        path = result_file(dest, remote_id.rsplit("/", 1)[-1], "_results.jsonl")
        part = path.with_name(path.name + ".part")
        if out.file_name:
            with self._call("download the results file") as client, open_private(part) as fh:
                # open_private returns a real io.BufferedWriter; the SDK's overload asks for IOBase.
                client.files.download(file=out.file_name, destination=cast(io.IOBase, fh),
                                     config={"http_options": _READS})
        elif out.inlined_responses is not None or out.inlined_embed_content_responses is not None:
            items = [*(out.inlined_responses or []), *(out.inlined_embed_content_responses or [])]
            with open_private(part) as fh:
                for position, item in enumerate(items):
                    fh.write(_inline_line(item, position))
                    fh.write(b"\n")
        else:
            return []
        part.replace(path)
        return [path]

    def find_by_key(self, shard: ShardInput) -> str | None:
        """The batch named ``batchkit:<shard.key>`` that no other shard of the job recorded.

        Gemini cannot filter batches by name, so this pages through ``batches.list``, 100 at a
        time, skipping batches created before the job was journaled (less
        ``find_skew_seconds``, default 300, for clock skew); a batch that old cannot be this
        shard's. The API does not document the list's order, so the whole list is read.
        """
        wanted = _DISPLAY_PREFIX + shard.key
        since = self._listing_cutoff(shard.journaled_at)
        with self._call("list batches") as client:
            for batch in client.batches.list(config=_LISTING):
                if batch.display_name != wanted or batch.name in shard.taken:
                    continue
                created = batch.create_time
                if shard.journaled_at and isinstance(created, datetime) and \
                        created.timestamp() < since:
                    continue
                return _name(batch)
        return None

    def count_input_tokens(self, requests: Sequence[Request]) -> list[int] | None:
        """``models.countTokens`` per request, on the body ``encode`` would send.

        google-genai's ``count_tokens`` takes only ``contents`` in Developer-API mode (it
        refuses ``system_instruction``, ``tools`` and ``generation_config`` there), while the
        REST method also takes a whole ``generateContentRequest``, whose ``contents`` then win
        ("contents ... is ignored when generateContentRequest is set"). So a request with
        anything beyond its contents goes as that field, through the SDK's ``extra_body``.
        """
        client = self._sdk()
        from google.genai import types

        model = self.model if self.model.startswith("models/") else f"models/{self.model}"
        counts = []
        for request in requests:
            self.check_request(request)
            if isinstance(request, ChatRequest):
                body = encode_generate_content_request(request)
                contents = body["contents"]
            else:
                assert isinstance(request, EmbedRequest)  # checked just above
                body = encode_embed_content_request(request, None)
                contents = [body["content"]]
            config = types.CountTokensConfig()
            if isinstance(request, ChatRequest) and set(body) != {"contents"}:
                whole = {"generateContentRequest": {"model": model, **body}}
                config = types.CountTokensConfig(http_options=types.HttpOptions(extra_body=whole))
            parsed = [types.Content.model_validate_json(orjson.dumps(c)) for c in contents]
            with self._call("count tokens"):
                answer = client.models.count_tokens(model=self.model, contents=parsed,
                                                    config=config)
            counts.append(int(answer.total_tokens or 0))
        return counts

    def prepare(self) -> None:
        self._sdk()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- helpers -----------------------------------------------------------------------------

    def _sdk(self) -> Client:
        """The SDK client, built once and without retries (see :meth:`submit`).

        The key comes from ``GOOGLE_API_KEY`` or ``GEMINI_API_KEY``, the SDK's own precedence
        (it prefers ``GOOGLE_API_KEY`` when both are set). Sandbox mode points ``base_url`` at
        the emulator and never sends a real key there.
        """
        if self._client is not None:
            return self._client
        try:
            from google import genai
        except ImportError:
            raise MissingDependencyError(
                'the gemini provider needs the Google GenAI SDK: pip install "batchkit[google]"'
            ) from None
        env = "GOOGLE_API_KEY" if os.environ.get("GOOGLE_API_KEY") else "GEMINI_API_KEY"
        try:
            self._api_key = key = api_key(self.name, env, "Gemini")
        except MissingCredentialsError:
            raise MissingCredentialsError(
                "no Gemini API key: set the GEMINI_API_KEY (or GOOGLE_API_KEY) environment "
                "variable"
            ) from None
        base_url = self.options.get("base_url") or sandbox_url(self.name)
        # Milliseconds to wait for any one response (option "timeout", in seconds).
        wait = int(float(self.options["timeout"]) * 1000) if self.options.get("timeout") else None
        http_options = genai.types.HttpOptions(retry_options=None, base_url=base_url or None,
                                               timeout=wait)
        self._client = genai.Client(api_key=key, http_options=http_options)
        return self._client

    def _redact(self, text: str) -> str:
        return redact(text, self._api_key, _KEY_PATTERN, "AIza***")

    @contextmanager
    def _call(self, action: str) -> Iterator[Client]:
        """The client, with SDK and transport errors re-raised as batchkit's. ``from None``:
        the chained SDK exception would print the vendor's unredacted message."""
        client = self._sdk()
        from google.genai import errors

        try:
            yield client
        except errors.APIError as exc:
            self._raise_api_error(action, exc)
        except TRANSPORT_ERRORS as exc:  # google-genai lets httpx's connection errors through
            raise ProviderError(
                f"Gemini could not {action}: {type(exc).__name__}: {self._redact(str(exc))}",
                transient=True,
            ) from None
        except (ValueError, KeyError) as exc:  # the SDK's own checks (e.g. upload not final)
            raise ProviderError(f"Gemini could not {action}: {self._redact(str(exc))}") from None

    def _raise_api_error(self, action: str, exc: Any) -> NoReturn:
        status = f" [{exc.status}]" if exc.status else ""
        message = self._redact(str(exc.message or ""))
        if exc.code in (400, 401, 403) and ("API key" in message
                                            or exc.status == "UNAUTHENTICATED"):
            raise MissingCredentialsError(
                f"Gemini refused the API key while trying to {action} (HTTP {exc.code}): check "
                "the GEMINI_API_KEY (or GOOGLE_API_KEY) environment variable"
            ) from None
        raise ProviderError(f"Gemini could not {action}: HTTP {exc.code}{status}: {message}",
                            status_code=exc.code) from None


def _name(batch: BatchJob) -> str:
    if not batch.name:
        raise ProviderError("Gemini created a batch but returned no name for it")
    return batch.name


def _inline_requests(payload: Path) -> list[Any] | None:
    """The payload as the SDK's ``InlinedRequest`` objects, or None when a line carries a
    field the inline form cannot (the file path then sends the lines verbatim).

    Lines are validated from JSON, not from dicts, so that the SDK decodes base64 image data
    once instead of wrapping the base64 text again.
    """
    from google.genai import types
    from pydantic import ValidationError

    out = []
    with payload.open("rb") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            line = orjson.loads(raw)
            body = line["request"]
            if not set(body) <= _REQUEST_FIELDS:
                return None
            config = {**body.get("generationConfig", {}),
                      **{k: v for k, v in body.items() if k not in ("contents",
                                                                    "generationConfig")}}
            item = {"contents": body.get("contents"), "metadata": {"key": line["key"]},
                    "config": config}
            try:
                out.append(types.InlinedRequest.model_validate_json(orjson.dumps(item)))
            except ValidationError:
                return None
    return out


def _inline_line(item: Any, position: int) -> bytes:
    """One inline response as a results line, in the REST (camelCase) shape of file lines."""
    key = (item.metadata or {}).get("key")
    obj: dict[str, Any] = {"key": key} if isinstance(key, str) else {"position": position}
    if item.error is not None:
        obj["error"] = item.error.model_dump(mode="json", by_alias=True, exclude_none=True)
    elif item.response is not None:
        obj["response"] = item.response.model_dump(mode="json", by_alias=True, exclude_none=True)
    return orjson.dumps(obj)


def _status(batch: BatchJob) -> RemoteStatus:
    """A ``BatchJob`` -> RemoteStatus. The SDK turns ``BATCH_STATE_*`` into ``JOB_STATE_*``;
    both are accepted. google-genai drops ``batchStats`` in Developer-API mode, so counts are
    unknown (None) until the results are read."""
    vendor_state = batch.state.value if batch.state is not None else "JOB_STATE_UNSPECIFIED"
    state = map_job_state(vendor_state)
    if state is None:
        raise ProviderError(
            f"batch {batch.name!r} is in state {vendor_state!r}, which batchkit does not know; "
            "please upgrade or report it"
        )
    errors: tuple[LineError, ...] = ()
    if state == JobState.FAILED:
        message = (batch.error.message if batch.error is not None else None) or \
            "the Gemini API reported the batch as failed"
        errors = (LineError(None, "batch_failed", str(message)),)
    raw = {"name": batch.name, "display_name": batch.display_name, "state": vendor_state,
           "model": batch.model}
    return RemoteStatus(state=state, vendor_status=vendor_state, errors=errors, raw=raw)

