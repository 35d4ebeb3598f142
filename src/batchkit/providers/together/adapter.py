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

import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..._exceptions import ProviderError
from .._stainless import StainlessSDK
from ..base import Limits, RemoteStatus, ShardInput, sandbox_url, scan_listing
from ..openai.codec import LineFormat
from ..openai.files import FileBatchAdapter
from ..openai.realtime import OpenAIRealtime
from .capabilities import CAPABILITIES
from .codec import TOGETHER_STATUSES, upload_name, vendor_id

if TYPE_CHECKING:
    from together import Together

__all__ = ["TogetherAdapter"]

_MAX_REQUESTS = 50_000
_MAX_BYTES = 100 * 1000 * 1000
_MAX_LINE_BYTES = 10 * 1000 * 1000
"""Together's batch overview: 50,000 requests, 100 MB per file, 10 MB per line."""
_NEVER = datetime.min.replace(tzinfo=timezone.utc)
_EFFORTS: dict[str, dict[str, Any]] = {
    "off": {"reasoning": {"enabled": False}},
            **{e: {"reasoning_effort": e} for e in ("low", "medium", "high")}}
"""Together's ``reasoning_effort`` levels, and ``reasoning.enabled`` to turn thinking off."""
_PARAMS_TYPES = {"chat": ("together.types.chat.completion_create_params",
                          "CompletionCreateParamsBase")}


class TogetherAdapter(OpenAIRealtime["Together"], FileBatchAdapter["Together"]):
    """Together's Batch API: one ``{custom_id, body}`` JSONL file per shard, chat only."""

    realtime_keeps_v1 = True
    """In real time: the together SDK's paths start ``/v1`` below its base URL."""

    name = "together"
    capabilities = CAPABILITIES
    option_names = frozenset({"endpoint", "find_max_age_days"})
    credential_env = ("TOGETHER_API_KEY",)
    sdk = StainlessSDK(vendor="Together", module="together", base_error="TogetherError",
                       key_env="TOGETHER_API_KEY",
                       key_pattern=re.compile(r"\b(?:tgp_v1_)?[0-9a-f]{64}\b"))
    statuses = TOGETHER_STATUSES
    """Together reports a ``progress`` percentage (0-100) and no request counts, so a status's
    counts stay None and ``raw["progress"]`` carries the percentage."""

    def __init__(self, model: str, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(model, options)
        # Together's chat body names the cap max_tokens, and its structured outputs take the
        # model's own schema best-effort (strict mode is documented only as an OpenAI subset).
        self._format = LineFormat(model, method_and_url=False, max_tokens_field="max_tokens",
                                  strict=False, embeddings_url=None, vendor="Together",
                                  key="together", efforts=_EFFORTS, params_types=_PARAMS_TYPES)

    # -- pure half ---------------------------------------------------------------------------

    def limits(self, group: str) -> Limits:
        """50,000 requests, 100 MB per file and 10 MB per line."""
        return Limits(max_requests=_MAX_REQUESTS, max_bytes=_MAX_BYTES,
                      max_line_bytes=_MAX_LINE_BYTES)

    def vendor_id(self, custom_id: str) -> str:
        return vendor_id(custom_id)

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

    def poll_many(
        self, remote_ids: Sequence[str], *, job_id: str, since: float
    ) -> dict[str, RemoteStatus]:
        """``batches.list``: Together answers with every batch in one unpaged call, each the
        same BatchJob ``retrieve`` returns."""
        with self._call("list batches") as client:
            jobs = client.batches.list()
        return scan_listing(
            [[j for j in jobs if j.id]], remote_ids, batch_id=lambda j: str(j.id),
            status=self._status,
        )

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

    def _make_client(self, sdk: ModuleType) -> Together:
        base_url = self.options.get("base_url") or sandbox_url(self.name)
        return self._aimed(sdk.Together, base_url, api_key=self._api_key_now())
