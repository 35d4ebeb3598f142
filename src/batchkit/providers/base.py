"""The adapter contract: everything batchkit needs to know about one vendor, in one class.

An adapter has two halves:

* a **pure half** — ``limits``, ``group``, ``check``, ``vendor_id``, ``encode``, ``decode`` and
  the status mapping — that never touches the network, so it can be tested line by line and used
  offline (``bk.encode`` / ``bk.decode``);
* an **I/O half** — ``submit``, ``poll``, ``cancel``, ``fetch_results``, ``find_by_key`` — that
  talks to the vendor through its official SDK and maps vendor exceptions to batchkit's.

The orchestration never names a vendor: it plans shards with ``limits`` and ``group``, writes
``encode``'d lines to a payload file, journals the shard, then hands the file to ``submit``.
Results come back as JSONL files from ``fetch_results``, one ``decode`` call per line.

Apart from ``__init__``, an adapter's methods are private or are the ones defined here.
"""

from __future__ import annotations

import difflib
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, TypeVar

from .._exceptions import ConfigError
from .._requests import Request
from .._results import Result
from .._state import JobState
from ._capabilities import Capabilities, check_capabilities, refuses_any
from ._lines import line_id

__all__ = [
    "JOB_OPTIONS",
    "Adapter",
    "Limits",
    "LineError",
    "RealtimeAnswer",
    "RemoteStatus",
    "ShardInput",
    "open_private",
    "result_file",
    "sandbox_url",
    "scan_listing",
]

T = TypeVar("T")

JOB_OPTIONS = frozenset({
    "allow_unknown_model", "enqueued_tokens", "find_skew_seconds", "concurrency", "timeout",
    "base_url", "rpm", "tpm", "mode", "realtime_below", "batch_window_s", "batcher",
})
"""Options every provider takes: the planner's, the queue's, the real-time mode's and the
transport's (see README "Options")."""


@dataclass(frozen=True)
class Limits:
    """What one vendor batch (one shard) may hold. ``None`` means no such limit."""

    max_requests: int
    max_bytes: int
    max_embedding_inputs: int | None = None
    max_line_bytes: int | None = None
    min_requests: int | None = None
    """The fewest requests the vendor takes in one batch (Bedrock's per-model quota); the
    planner refuses a job whose shards would fall below it, before anything is sent."""


@dataclass(frozen=True)
class LineError:
    """A vendor's complaint about one input line (1-based within the shard) at validation."""

    line: int | None
    code: str
    message: str


@dataclass(frozen=True)
class RemoteStatus:
    """A vendor batch as last seen, mapped to batchkit's vocabulary."""

    state: JobState
    vendor_status: str
    total: int | None = None
    succeeded: int | None = None
    failed: int | None = None
    errors: tuple[LineError, ...] = ()
    """Validation errors when the vendor rejected the batch as a whole."""
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ShardInput:
    """One planned shard, as handed to :meth:`Adapter.submit`."""

    job_id: str
    index: int
    key: str
    """Idempotency key; the adapter stores it on the vendor side where the vendor allows."""
    group: str
    payload_path: Path
    request_count: int
    journaled_at: float = 0.0
    """When the job was journaled (unix time): no batch for it can be older."""
    taken: frozenset[str] = frozenset()
    """Vendor ids already recorded for the job's other shards, which cannot be this shard's."""


@dataclass(frozen=True)
class RealtimeAnswer:
    """A vendor's synchronous answer to one payload line, in the vendor's own batch shape.

    ``line`` is what the vendor's batch output file would hold for that request (no trailing
    newline), so :meth:`Adapter.decode` reads real-time answers like downloaded batch results;
    ``headers`` are the HTTP response headers (the rate-limit figures are read from them).
    """

    line: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


_REALTIME_THREADS: list[Any] = []


def _realtime_pool() -> Any:
    """One thread pool shared by every adapter's default :meth:`Adapter.asend_now`: big enough
    for the real-time engine's highest concurrency, where asyncio's default pool holds only a
    few threads on a small machine."""
    if not _REALTIME_THREADS:
        from concurrent.futures import ThreadPoolExecutor

        _REALTIME_THREADS.append(ThreadPoolExecutor(128, thread_name_prefix="batchkit-rt"))
    return _REALTIME_THREADS[0]


def sandbox_url(provider: str) -> str | None:
    """The emulator base URL for ``provider`` when sandbox mode is on, else None.

    ``BATCHKIT_SANDBOX`` holds the address of a running ``batchkit emulator`` (every vendor is
    served under its own path prefix there), or ``1`` to start the emulators inside this
    process on first use.
    """
    base = os.environ.get("BATCHKIT_SANDBOX", "")
    if not base or base == "0":
        return None
    if base == "1":
        from ..testing._emulate import process_sandbox_url

        base = process_sandbox_url()
    return f"{base.rstrip('/')}/{provider}"


def result_file(dest: Path, remote_id: str, suffix: str) -> Path:
    """Where a result file of vendor batch ``remote_id`` goes in ``dest``.

    The id is the vendor's text, never a path: anything but letters, digits, ``_`` and ``-``
    becomes ``_`` (so no ``/``, ``..`` or absolute path) and a long id is cut, so the file always
    lands directly in ``dest``.
    """
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", remote_id)[:100] or "batch"
    return dest / f"{stem}{suffix}"


def open_private(path: Path, buffering: int = -1) -> BinaryIO:
    """``path`` opened for writing from the start, readable by its owner only (0600).

    Job files hold prompts and replies; a default umask would let other users read them.
    ``buffering`` is the write buffer's size (-1: Python's default, 8 KiB).
    """
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb",
                     buffering)


class Adapter(ABC):
    """Base class of every provider adapter."""

    name: ClassVar[str]
    """The provider name in ``name:model`` strings. Stored in the job store: never rename."""
    credential_env: ClassVar[tuple[str, ...]] = ()
    """Environment variables that hold credentials (shown by ``batchkit providers``)."""
    capabilities: ClassVar[Capabilities | None] = None
    """How the vendor spells each neutral feature, or why it can't (``_capabilities``); None
    leaves every decision to :meth:`check` (a third-party adapter without a table)."""
    option_names: ClassVar[frozenset[str] | None] = None
    """The adapter options this vendor reads (``options={...}``, ``-s key=value``) beyond
    :data:`JOB_OPTIONS`; an option in neither is refused before anything is written. None
    leaves options unchecked (a third-party adapter that declares none)."""
    case_insensitive_ids: ClassVar[bool] = False
    """Whether the vendor keys requests by a name where case does not count (an object key on
    a case-folding store): the planner then refuses ids that differ only by case."""
    parallel_submit: ClassVar[bool] = True
    """Whether shards may be created at the same time. False for a vendor whose batches carry
    no key, where re-attaching after a crash tells shards apart by the order they were made."""
    row_id_key: ClassVar[str | None] = None
    """The top-level key of an output line that holds the id :meth:`decode` files it under,
    for the default :meth:`row_id`; None when no such key names every row."""
    row_id_other_kind: ClassVar[str | None] = None
    """A top-level key that makes a line one :meth:`decode` files under something other than
    :attr:`row_id_key` (such a line is decoded to learn its id)."""

    def __init__(self, model: str, options: Mapping[str, Any] | None = None) -> None:
        self.model = model
        self.options: dict[str, Any] = dict(options or {})

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}:{self.model}>"

    # -- pure half ---------------------------------------------------------------------------

    def group(self, request: Request) -> str:
        """Requests with different groups never share a shard (e.g. chat vs embeddings)."""
        return request.kind

    @abstractmethod
    def limits(self, group: str) -> Limits:
        """The per-batch limits for shards of ``group``."""

    def check_options(self) -> None:
        """Refuse, in one line, an option this adapter would silently ignore (a typo, or a
        vendor's option passed to another): the job would run without it."""
        if self.option_names is None:
            return
        known = JOB_OPTIONS | self.option_names
        for name in self.options:
            if name not in known:
                near = difflib.get_close_matches(name, sorted(known), n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                raise ConfigError(f"{self.name}: unknown option {name!r}{hint}; this provider "
                                  f"takes {', '.join(sorted(known))}")

    def check_request(self, request: Request) -> None:
        """Refuse a request this vendor cannot take, before anything is written: first the
        features its capability table refuses, then the adapter's own rules (``check``)."""
        if self.capabilities is not None:
            check_capabilities(request, self.name, self.capabilities)
        self.check(request)

    def request_checker(self) -> Callable[[Request], None]:
        """:meth:`check_request` as the planner calls it on each request of a job, decided
        once: a capability table that refuses nothing (or none at all) has nothing to add to
        :meth:`check`, and a million-row job should not ask it a million times."""
        if type(self).check_request is Adapter.check_request and (
                self.capabilities is None or not refuses_any(self.capabilities)):
            return self.check
        return self.check_request

    def check(self, request: Request) -> None:  # noqa: B027 - optional hook
        """Raise ``InvalidRequestError`` for requests this vendor cannot take."""

    def vendor_id(self, custom_id: str) -> str:
        """The id sent to the vendor for ``custom_id`` (itself, unless the vendor restricts ids)."""
        return custom_id

    def row_keys(self, request: Request, vendor_id: str) -> tuple[str, ...]:
        """Other ids a result row for ``request`` may be filed under by :meth:`decode`.

        For vendors whose output rows carry no request id but echo the request itself (a
        Vertex AI job batchkit did not write): ``decode`` files such a row under a key made
        from the echo, and this gives the same key made from ``request``, so ``bk.decode`` can
        join the two. None by default: every row carries its id.
        """
        return ()

    def row_id(self, line: bytes) -> str | None:
        """The id :meth:`decode` files ``line`` under, read without decoding the line, or None
        when it cannot be read that way. ``bk.decode`` indexes a file by these ids before
        decoding each row once, in the requests' order; None costs a second decode.

        By default the string :attr:`row_id_key` holds where it opens or closes the line
        (``_lines.line_id``, exact or None)."""
        if self.row_id_key is None:
            return None
        return line_id(line, self.row_id_key, self.row_id_other_kind)

    @abstractmethod
    def encode(self, request: Request, vendor_id: str) -> bytes:
        """One line of the shard payload (no trailing newline)."""

    @abstractmethod
    def decode(self, line: bytes) -> Result:
        """One result line -> a Result whose ``custom_id`` is the *vendor* id.

        Must not raise on a well-formed line the vendor could send: errors become an errored
        Result. May raise ``ValueError`` for a line that is not valid at all; the caller turns
        that into a ``malformed_line`` result.
        """

    # -- I/O half ----------------------------------------------------------------------------

    @abstractmethod
    def submit(self, shard: ShardInput) -> str:
        """Create the vendor batch for ``shard``; returns the vendor's batch id."""

    @abstractmethod
    def poll(self, remote_id: str) -> RemoteStatus:
        """Fetch the vendor batch and map it."""

    @abstractmethod
    def cancel(self, remote_id: str) -> None:
        """Ask the vendor to cancel (returns at once; poll to see it end)."""

    @abstractmethod
    def fetch_results(self, remote_id: str, status: RemoteStatus, dest: Path) -> list[Path]:
        """Download every result file of a finished batch into ``dest``, streamed.

        Returns JSONL files whose lines :meth:`decode` reads.
        """

    @abstractmethod
    def find_by_key(self, shard: ShardInput) -> str | None:
        """The vendor id of a batch already created for ``shard.key``, or None.

        Called before re-submitting a shard that was journaled but has no recorded vendor id,
        so that a crash between "vendor created it" and "we wrote it down" never pays twice.
        """

    def poll_many(
        self, remote_ids: Sequence[str], *, job_id: str, since: float
    ) -> dict[str, RemoteStatus]:
        """The statuses of as many of ``remote_ids`` as the vendor's list call shows at once.

        Why: a job of hundreds of shards would otherwise cost hundreds of calls per refresh,
        against the vendor's rate limit. ``job_id`` is batchkit's job (a vendor that filters a
        listing by label or name can narrow it to the job's batches) and ``since`` is when the
        job was journaled (none of its batches is older, so a listing newest first can stop
        there). An id missing from the answer is polled with :meth:`poll` by the caller, so an
        adapter returns what it saw and never guesses; the default, for vendors without a list
        call that carries every status field, lists nothing.
        """
        return {}

    def _listing_cutoff(self, since: float) -> float:
        """``since`` less ``find_skew_seconds`` (default 300): the vendor's clock may run behind
        the local one, so a batch may look a little older than the job that made it. Every
        listing that stops at a job's journal time (``find_by_key``, ``poll_many``) uses this."""
        return since - float(self.options.get("find_skew_seconds", 300))

    def poll_interval(self) -> float:
        """Seconds before the first poll; later polls back off from here.

        Real batches take minutes to hours, so the default is unhurried; the emulators (sandbox
        mode) answer at once, and the fake provider says so itself.
        """
        return 0.05 if sandbox_url(self.name) else 5.0

    def count_input_tokens(self, requests: Sequence[Request]) -> list[int] | None:
        """Input tokens of each request as the vendor counts them, or None if it cannot.

        An optional hook for vendors with a count-tokens endpoint (``batchkit estimate
        --exact``): one figure per request, in order, from the same body ``encode`` would send.
        Counting talks to the vendor, so it needs the SDK and a key, and raises batchkit's
        exceptions like the rest of the I/O half. None (the default) means the vendor, or this
        kind of request, has no exact count; the estimate then keeps its approximation.
        """
        return None

    # -- real-time half (optional) -----------------------------------------------------------

    def send_now(self, line: bytes, group: str = "") -> RealtimeAnswer:
        """Send one payload line (as :meth:`encode` made it) to the vendor's synchronous
        endpoint; return the answer wrapped as the vendor's batch output line. ``group`` is
        the line's shard group (:meth:`group`): some vendors name a setting once per batch
        job rather than on each line (Vertex's embedding size, Cohere's input type).

        An optional hook: adapters without it cannot run ``mode="realtime"`` jobs. A request
        the vendor refuses for good (a bad request) is an answer too, an error line in the
        batch shape; a 429 raises :class:`~batchkit.RateLimitedError` (with the vendor's
        ``retry-after``) and a passing failure raises a transient ``ProviderError``.
        """
        raise NotImplementedError(f"{self.name} has no real-time endpoint in batchkit")

    async def asend_now(self, line: bytes, group: str = "") -> RealtimeAnswer:
        """:meth:`send_now` for an event loop: on a worker thread unless the adapter overrides
        it with its SDK's async client."""
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(
            _realtime_pool(), self.send_now, line, group)

    @property
    def supports_realtime(self) -> bool:
        """Whether this adapter implements :meth:`send_now`."""
        return type(self).send_now is not Adapter.send_now

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Build the SDK client now: ``submit`` calls this once the requests are validated and
        before it records anything, so a wrong line is named first, and a missing SDK, key or
        setting fails at once instead of leaving a job that cannot be sent."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients and connections."""


def scan_listing(
    pages: Iterable[Iterable[T]],
    wanted: Collection[str],
    *,
    batch_id: Callable[[T], str],
    status: Callable[[T], RemoteStatus],
    too_old: Callable[[T], bool] | None = None,
) -> dict[str, RemoteStatus]:
    """Pick the ``wanted`` batches out of a vendor listing read page by page (``pages`` must be
    lazy: pages not asked for are never fetched), stopping as early as possible.

    Reading stops once every wanted id is found; once a page reaches a batch ``too_old`` to be
    one of them (for listings that go newest first); or after as many pages as there are wanted
    ids, since beyond that polling each id would cost fewer calls than reading on.
    """
    targets = frozenset(wanted)
    found: dict[str, RemoteStatus] = {}
    for number, page in enumerate(pages, start=1):
        oldest_reached = False
        for item in page:
            ident = batch_id(item)
            if ident in targets:
                found[ident] = status(item)
            oldest_reached = oldest_reached or (too_old is not None and too_old(item))
        if len(found) == len(targets) or oldest_reached or number >= len(targets):
            break
    return found
