"""The OpenAI-file family's one adapter loop: "upload a JSONL file, create a batch, poll,
download the output and error files", as OpenAI, Azure, Groq and Together run it.

Why one base: those vendors serve OpenAI's Batch API (Together a dialect of it) through
Stainless-generated SDKs, so the pure half (the family codec), the upload and create, the poll,
the cancel and the streamed download are the same calls; each adapter supplies its client, its
limits, what its create call adds (endpoint, window, expiry) and how it finds a batch again,
since none of them can filter batches by metadata in the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

from ..._exceptions import ProviderError
from ..._requests import Request
from ..._results import Result
from ..._state import JobState
from .._stainless import StainlessAdapter
from ..base import RemoteStatus, ShardInput, open_private, result_file, scan_listing
from .codec import LineFormat
from .results import OPENAI_STATUSES, decode_line, line_id, map_status

__all__ = ["FileBatchAdapter", "newest_tagged"]

ClientT = TypeVar("ClientT")
DOWNLOAD_CHUNK = 1 << 20


class FileBatchAdapter(StainlessAdapter[ClientT]):
    """Base of the file-and-batch adapters; subclasses build the client and set ``_format``."""

    statuses: ClassVar[Mapping[str, JobState]] = OPENAI_STATUSES
    """The vendor's batch statuses (Together spells its own)."""
    _format: LineFormat
    """The family codec as this vendor takes it (URLs, strictness, field names)."""

    # -- pure half ---------------------------------------------------------------------------

    def check(self, request: Request) -> None:
        self._format.check(request)

    def encode(self, request: Request, vendor_id: str) -> bytes:
        return self._format.encode(request, vendor_id)

    def decode(self, line: bytes) -> Result:
        """Output rows and error rows (HTTP-level, expired, cancelled) alike."""
        return decode_line(line)

    def row_id(self, line: bytes) -> str | None:
        return line_id(line)

    def _status(self, batch: Any) -> RemoteStatus:
        """A batch as the SDK returns it -> RemoteStatus."""
        return map_status(batch.to_dict(mode="json"), self.statuses)

    # -- I/O half ----------------------------------------------------------------------------

    def submit(self, shard: ShardInput) -> str:
        """Upload the payload (streamed from disk) and create the batch, tagged with the key.

        The create call is made with SDK retries off: none of these vendors has an idempotency
        header, so a retried create after a lost response could start a second, paid batch. A
        failure here surfaces instead, and the orchestrator's ``find_by_key`` decides whether
        one was made.
        """
        with self._call("upload the batch file") as client, shard.payload_path.open("rb") as fh:
            # A file object, not a Path: the SDK reads a Path whole into memory, while httpx
            # streams a file object in chunks (and rewinds it on retry).
            uploaded = cast(Any, client).files.create(
                file=(shard.payload_path.name, fh, "application/jsonl"), purpose="batch",
                **self._upload_options(),
            )
        if not uploaded.id:
            raise ProviderError(
                f"{self.sdk.vendor} accepted the batch file but returned no file id")
        with self._call("create the batch") as client:
            batch = cast(Any, client).with_options(max_retries=0).batches.create(
                input_file_id=uploaded.id,
                metadata={"batchkit_job": shard.job_id, "batchkit_key": shard.key},
                **self._create_options(shard),
            )
        return str(batch.id)

    def _upload_options(self) -> dict[str, Any]:
        """What this vendor's file upload takes beyond the file and its purpose."""
        return {}

    def _create_options(self, shard: ShardInput) -> dict[str, Any]:
        """The batch create's ``endpoint`` and ``completion_window``, and anything else this
        vendor's create takes beyond the input file and the metadata."""
        return {"endpoint": "/v1/chat/completions", "completion_window": "24h"}

    def poll(self, remote_id: str) -> RemoteStatus:
        with self._call("read the batch") as client:
            batch = cast(Any, client).batches.retrieve(remote_id)
        return self._status(batch)

    def _scan_list(
        self, remote_ids: Sequence[str], page_size: int,
        too_old: Callable[[Any], bool] | None = None,
    ) -> dict[str, RemoteStatus]:
        """``poll_many`` from ``batches.list`` read ``page_size`` at a time: a listed batch is
        the same Batch object ``retrieve`` returns (:func:`..base.scan_listing` says when the
        reading stops)."""
        with self._call("list batches") as client:
            first = cast(Any, client).batches.list(limit=page_size)
            return scan_listing(
                (page.data for page in first.iter_pages()), remote_ids,
                batch_id=lambda batch: batch.id, status=self._status, too_old=too_old,
            )

    def cancel(self, remote_id: str) -> None:
        with self._call("cancel the batch") as client:
            cast(Any, client).batches.cancel(remote_id)

    def fetch_results(self, remote_id: str, status: RemoteStatus, dest: Path) -> list[Path]:
        """Stream the output and the error file (failed, expired and cancelled rows live there)
        to ``dest``. An absent or null id means that file does not exist; an existing empty file
        (Azure writes one when nothing failed) is downloaded like any other and decodes to no
        results. Each file goes to ``*.part`` first and is renamed when complete, so a crash
        never leaves a truncated file that looks finished. Files are private to the user, and
        named after the batch id made safe (the vendor's text is never a path)."""
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
                cast(Any, client).files.with_streaming_response.content(str(file_id)) as response,
                open_private(part) as fh,
            ):
                for chunk in response.iter_bytes(DOWNLOAD_CHUNK):
                    fh.write(chunk)
            part.replace(path)
            paths.append(path)
        return paths


def newest_tagged(
    batches: Iterable[tuple[int, str, Mapping[str, Any] | None]], shard: ShardInput, since: float
) -> str | None:
    """The newest of ``batches`` (``(created_at, id, metadata)``) whose metadata carries
    ``shard.key``, for vendors that keep metadata but neither filter by it nor promise a list
    order: every batch is looked at; those created before ``since`` or already recorded for
    another shard of the job cannot be this shard's."""
    found: tuple[int, str] | None = None
    for created, batch_id, metadata in batches:
        if created < since or batch_id in shard.taken:
            continue
        if (metadata or {}).get("batchkit_key") == shard.key and (
                found is None or created > found[0]):
            found = (created, batch_id)
    return None if found is None else found[1]
