"""The Together adapter: Together AI's Batch API through the official ``together`` SDK.

Together runs OpenAI-shaped chat requests but in its own dialect (see ``providers.md``): lines
are ``{custom_id, body}`` with ``custom_id`` at most 64 characters, the body takes ``max_tokens``,
files upload with purpose ``batch-api``, statuses are upper-case (plus the undocumented
``CANCELING`` seen live), a job reports a ``progress`` percentage instead of request counts and
ISO timestamps, and a failed request is an error row with code ``batch_client_error``.

Re-attaching: Together batches carry no metadata, so the shard key is kept in a field Together
does keep, the input file's name (``batchkit-<key>.jsonl``); see
:meth:`TogetherAdapter.find_by_key`.

Options: ``base_url``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..._exceptions import ProviderError
from ..._requests import Request
from ..._results import Result
from ..._state import JobState
from .._credentials import api_key
from .._file_batches import FileBatchAdapter
from ..base import Limits, RemoteStatus, ShardInput, sandbox_url, scan_listing
from ..openai.codec import LineFormat, decode_line, map_status

if TYPE_CHECKING:
    from together import Together

__all__ = ["TOGETHER_STATUSES", "TogetherAdapter", "upload_name", "vendor_id"]

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
_MAX_REQUESTS = 50_000
_MAX_BYTES = 100 * 1000 * 1000
_MAX_LINE_BYTES = 10 * 1000 * 1000
"""Together's batch overview: 50,000 requests, 100 MB per file, 10 MB per line."""
MAX_ID_CHARS = 64
_ESCAPE = "bk--"
_NEVER = datetime.min.replace(tzinfo=timezone.utc)
_HASH_CHARS = 32


def vendor_id(custom_id: str) -> str:
    """A ``custom_id`` within Together's 64 characters, deterministic and collision-free.

    Ids that fit are sent unchanged. A longer one becomes ``bk--<slug>-<hash>``: a readable
    start of the original and 32 hex digits of its SHA-256, which is what keeps it unique; ids
    that fit but start with the escape prefix are escaped too, so no two ids can meet. The
    orchestrator keeps the mapping, so results come back under the caller's ids.
    """
    if len(custom_id) <= MAX_ID_CHARS and not custom_id.startswith(_ESCAPE):
        return custom_id
    digest = hashlib.sha256(custom_id.encode("utf-8", "surrogatepass")).hexdigest()
    slug = custom_id[: MAX_ID_CHARS - len(_ESCAPE) - _HASH_CHARS - 1]
    return f"{_ESCAPE}{slug}-{digest[:_HASH_CHARS]}"


def upload_name(key: str) -> str:
    """The input file's name at Together: the shard key, which :meth:`find_by_key` looks for."""
    return f"batchkit-{key}.jsonl"


class TogetherAdapter(FileBatchAdapter["Together"]):
    """Together's Batch API: one ``{custom_id, body}`` JSONL file per shard, chat only."""

    name = "together"
    credential_env = ("TOGETHER_API_KEY",)
    vendor = "Together"
    sdk_module = "together"
    extra = "together"
    sdk_error = "TogetherError"
    key_env = "TOGETHER_API_KEY"
    key_pattern = re.compile(r"\b(?:tgp_v1_)?[0-9a-f]{64}\b")

    def __init__(self, model: str, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(model, options)
        # Together's chat body names the cap max_tokens, and its structured outputs take the
        # model's own schema best-effort (strict mode is documented only as an OpenAI subset).
        self._format = LineFormat(model, method_and_url=False, max_tokens_field="max_tokens",
                                  strict=False, embeddings_url=None, vendor="Together")

    # -- pure half ---------------------------------------------------------------------------

    def limits(self, group: str) -> Limits:
        """50,000 requests, 100 MB per file and 10 MB per line."""
        return Limits(max_requests=_MAX_REQUESTS, max_bytes=_MAX_BYTES,
                      max_line_bytes=_MAX_LINE_BYTES)

    def check(self, request: Request) -> None:
        self._format.check(request)

    def vendor_id(self, custom_id: str) -> str:
        return vendor_id(custom_id)

    def encode(self, request: Request, vendor_id: str) -> bytes:
        return self._format.encode(request, vendor_id)

    def decode(self, line: bytes) -> Result:
        """Output rows ``{id, custom_id, response}`` and error rows ``{id, custom_id, error:
        {code: batch_client_error, message}}`` both decode with the family codec."""
        return decode_line(line)

    # -- I/O half ----------------------------------------------------------------------------

    def submit(self, shard: ShardInput) -> str:
        """Upload the payload under the shard key's name, then create the batch.

        The SDK uploads a path (it streams the bytes to the storage URL Together hands out) and
        names the file after it, so the payload is linked under :func:`upload_name` first. The
        SDK's local file check is skipped: batchkit wrote every line itself. The create runs
        with SDK retries off: Together has no idempotency key, so a retried create could start
        a second, paid batch.
        """
        with self._named(shard) as named, self._call("upload the batch file") as client:
            uploaded = client.files.upload(named, purpose="batch-api", check=False)
        with self._call("create the batch") as client:
            created = client.with_options(max_retries=0).batches.create(
                endpoint="/v1/chat/completions", input_file_id=uploaded.id
            )
        if created.job is None or not created.job.id:
            raise ProviderError(f"Together created no batch job: {created.warning or 'no reason'}")
        return created.job.id

    def poll(self, remote_id: str) -> RemoteStatus:
        """Together's status -> JobState. Together reports ``progress`` (0-100) and no request
        counts, so the counts stay None and ``raw["progress"]`` carries the percentage."""
        with self._call("read the batch") as client:
            job = client.batches.retrieve(remote_id)
        return map_status(job.to_dict(mode="json"), TOGETHER_STATUSES)

    def poll_many(
        self, remote_ids: Sequence[str], *, job_id: str, since: float
    ) -> dict[str, RemoteStatus]:
        """``batches.list``: Together answers with every batch in one unpaged call, each the
        same BatchJob ``retrieve`` returns."""
        with self._call("list batches") as client:
            jobs = client.batches.list()
        return scan_listing(
            [[j for j in jobs if j.id]], remote_ids, batch_id=lambda j: str(j.id),
            status=lambda j: map_status(j.to_dict(mode="json"), TOGETHER_STATUSES),
        )

    def cancel(self, remote_id: str) -> None:
        with self._call("cancel the batch") as client:
            client.batches.cancel(remote_id)

    def find_by_key(self, shard: ShardInput) -> str | None:
        """The newest batch whose input file is named after ``shard.key``, or None.

        Together keeps no batch metadata, but it keeps each file's name, and :meth:`submit`
        uploads every shard as :func:`upload_name`. So: the ids of files with that name, then
        the batches made from one of them. The only miss: Together answers an upload whose
        bytes it already holds with the earlier file (and its name), so a shard whose payload
        is byte-identical to an earlier job's is found only under that job's key.
        """
        wanted = upload_name(shard.key)
        with self._call("list files") as client:
            files = {f.id for f in client.files.list().data if f.filename == wanted}
        if not files:
            return None
        with self._call("list batches") as client:
            jobs = [j for j in client.batches.list()
                    if j.input_file_id in files and j.id and j.id not in shard.taken]
        if not jobs:
            return None
        newest = max(jobs, key=lambda j: j.created_at or _NEVER)
        return newest.id

    # -- helpers -----------------------------------------------------------------------------

    @contextmanager
    def _named(self, shard: ShardInput) -> Iterator[Path]:
        """The payload under :func:`upload_name`: a symbolic link in a private temporary folder
        (a copy where links are not allowed), removed afterwards."""
        with tempfile.TemporaryDirectory(prefix="batchkit-") as folder:
            named = Path(folder) / upload_name(shard.key)
            try:
                os.symlink(shard.payload_path.resolve(), named)
            except OSError:
                shutil.copyfile(shard.payload_path, named)
            yield named

    def _file_stream(self, client: Together, file_id: str) -> AbstractContextManager[Any]:
        return client.files.with_streaming_response.content(file_id)

    def _make_client(self, sdk: ModuleType) -> Together:
        base_url = self.options.get("base_url") or sandbox_url(self.name)
        self._api_key = key = api_key(self.name, "TOGETHER_API_KEY", "Together")
        if base_url:
            client: Together = sdk.Together(api_key=key, base_url=base_url)
        else:  # let the SDK apply its own environment (TOGETHER_BASE_URL) and default
            client = sdk.Together(api_key=key)
        return client
