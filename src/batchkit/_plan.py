"""Validate requests and cut them into shards within a provider's limits, streaming to disk.

Each shard becomes two files in the job folder:

* ``shard-NNNN.payload.jsonl`` — the vendor's lines, exactly what is uploaded;
* ``shard-NNNN.requests.jsonl`` — batchkit's index of the same requests, in the same order:
  the caller's id, the id sent to the vendor, the position in the input, the payload line, the
  metadata and the response model. Results are joined back through it, so nothing about a
  request has to stay in memory while a job runs, and another process can finish the job.

Identical requests whose reply is meant to be the same — embeddings, and chat at
``temperature=0`` — are sent once: later copies get an index record (with no payload line)
that points at the first copy's vendor id, and share its result.

With an enqueued-token limit (``_queue``), each request's input tokens are counted too, and a
shard is closed before it would hold more than the limit: a bigger one could never be queued.

Runs of requests of one shape (the same settings; only ids and texts differ) are planned a
window at a time by ``_plan_fast``, spliced into bytes the vendor's encoder wrote once per
shape; every other request by :meth:`Planner.add`, with the same files and errors.

Nothing is sent here. A bad request stops planning with an error naming it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel

from ._cache import ResultCache
from ._exceptions import ConfigError, InvalidRequestError
from ._plan_fast import plan_all
from ._plan_minimum import check_minimum
from ._requests import ChatRequest, EmbedRequest, ModerationRequest, Request, response_model_path
from ._validate import model_rules
from .providers.base import Adapter, Limits, open_private

if TYPE_CHECKING:
    from ._queue import QueueLimit

__all__ = [
    "OpenShard", "Plan", "PlannedShard", "Planner", "RequestRecord", "check_minimum",
    "plan_shards", "read_request_records",
]


@dataclass
class PlannedShard:
    """A shard written to disk, not yet journaled."""

    index: int
    group: str
    payload_path: Path
    requests_path: Path
    request_count: int = 0
    byte_count: int = 0
    embedding_inputs: int = 0
    input_tokens: int = 0
    """Counted only for a job with an enqueued-token limit (0 otherwise)."""


@dataclass
class Plan:
    shards: list[PlannedShard]
    request_count: int
    response_models: dict[str, type[BaseModel]] = field(default_factory=dict)
    """Response models seen, by import path, so this process can parse without importing."""
    duplicates: int = 0
    """Requests not sent because an identical one is sent (they share its result)."""
    cached: int = 0
    """Requests not sent because the result cache already has their result."""


@dataclass(frozen=True)
class RequestRecord:
    """One line of a shard's request index."""

    position: int
    custom_id: str
    vendor_id: str
    metadata: dict[str, Any]
    response_model: str | None
    line: int | None
    """1-based line in the shard payload; None for a request that was not sent."""
    cache_key: str | None = None
    """Where the result is (or will be) in the result cache, when the job uses one."""


_WRITE_BUFFER = 1 << 20
"""Bytes buffered per open shard file: a line is a few hundred bytes, and Python's default
8 KiB buffer would make a system call every few dozen of them."""


class OpenShard:
    """A shard being written: its files and running totals."""

    @classmethod
    def new(cls, folder: Path, index: int, group: str, limits: Limits,
            max_tokens: int | None = None) -> OpenShard:
        """Shard ``index`` of ``group``, its two files created (empty) in ``folder``."""
        return cls(PlannedShard(
            index=index,
            group=group,
            payload_path=folder / f"shard-{index:04d}.payload.jsonl",
            requests_path=folder / f"shard-{index:04d}.requests.jsonl",
        ), limits, max_tokens)

    def __init__(self, shard: PlannedShard, limits: Limits,
                 max_tokens: int | None = None) -> None:
        self.shard = shard
        self.limits = limits
        self.max_tokens = max_tokens
        """The enqueued-token limit, when the job has one: no shard may hold more."""
        # Held open across many add() calls and closed by close(): not a with-block's shape.
        self.payload: IO[bytes] = open_private(shard.payload_path, _WRITE_BUFFER)
        self.index: IO[bytes] = open_private(shard.requests_path, _WRITE_BUFFER)

    def fits(self, line_bytes: int, inputs: int, tokens: int = 0) -> bool:
        s, lim = self.shard, self.limits
        if s.request_count + 1 > lim.max_requests or s.byte_count + line_bytes > lim.max_bytes:
            return False
        if self.max_tokens is not None and s.input_tokens + tokens > self.max_tokens:
            return False
        cap = lim.max_embedding_inputs
        return cap is None or s.embedding_inputs + inputs <= cap

    def add_index_only(self, record: bytes) -> None:
        """A request that is not sent (a copy, or cached): indexed here, no payload line."""
        self.index.write(record + b"\n")

    def add(self, line: bytes, record: bytes, inputs: int, tokens: int = 0) -> None:
        shard = self.shard
        self.payload.write(line + b"\n")
        self.index.write(record + b"\n")
        shard.request_count += 1
        shard.byte_count += len(line) + 1
        if inputs:
            shard.embedding_inputs += inputs
        if tokens:
            shard.input_tokens += tokens

    def close(self) -> None:
        self.payload.close()
        self.index.close()


def plan_shards(
    requests: Iterable[Request],
    adapter: Adapter,
    folder: Path,
    *,
    shard_size: int | None = None,
    dedupe: bool = True,
    observe: Callable[[Request], None] | None = None,
    cache: ResultCache | None = None,
    cache_scope: str = "",
    queue: QueueLimit | None = None,
    enforce_minimum: bool = True,
    shapes: bool = True,
) -> Plan:
    """Validate every request and write shard files under ``folder``.

    ``shard_size`` caps requests per shard below the provider's own limit (smaller shards
    finish, fail and retry in smaller pieces). ``dedupe=False`` sends identical requests
    separately. ``observe`` sees every request that will be sent (not the de-duplicated or
    cached ones), e.g. to tally a cost estimate in the same pass. With a ``cache``, requests
    whose exact vendor line (under ``cache_scope``, the provider string) has a cached result
    are not sent. With a ``queue`` limit, every sent request's input tokens are counted
    (``PlannedShard.input_tokens`` and ``"tk"`` in the index) and no shard holds more than it.

    Raises :class:`InvalidRequestError` at the first bad request (by its position, 1-based,
    and custom_id), or when a shard would send fewer requests than the provider's
    ``Limits.min_requests`` (unless ``enforce_minimum`` is False: a job that may yet run in real
    time checks with :func:`check_minimum` once its mode is known); the caller removes the
    partial folder. A ``shard_size`` below 1 is a
    :class:`ConfigError` (it would otherwise make one vendor batch per request).

    Runs of requests of one shape are planned by the fast lane (``_plan_fast``), with the same
    files and errors; ``shapes=False`` plans every request by itself (tests compare the two).
    """
    if shard_size is not None and (
        isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1
    ):
        raise ConfigError(f"shard_size must be a whole number of requests >= 1, not {shard_size!r}")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    planner = Planner(adapter, folder, shard_size, dedupe, observe, cache, cache_scope, queue)
    if hasattr(requests, "splicer"):  # the rows of one ChatRequest.batch (_bulk_splice)
        planner.spliced = requests.splicer(adapter)
    try:
        plan_all(planner, requests, shapes and planner.spliced is None)
    finally:
        for open_shard in planner.open_by_group.values():
            open_shard.close()
    if enforce_minimum:
        check_minimum(planner.shards, adapter)
    return Plan(shards=planner.shards, request_count=planner.count,
                response_models={path: model for model, path in planner.model_paths.items()},
                duplicates=planner.duplicates,
                cached=planner.cached)


class Planner:
    """The state of one planning pass: ids seen, open shards, first copies of requests."""

    def __init__(
        self, adapter: Adapter, folder: Path, shard_size: int | None, dedupe: bool,
        observe: Callable[[Request], None] | None, cache: ResultCache | None, cache_scope: str,
        queue: QueueLimit | None = None,
    ) -> None:
        self.adapter, self.folder, self.shard_size = adapter, folder, shard_size
        self.dedupe, self.observe, self.queue = dedupe, observe, queue
        self.cache, self.cache_scope = cache, cache_scope
        self.seen: dict[str, int] = {}
        """Ids planned one by one, and their positions."""
        self.lane_ids: set[str] = set()
        """Ids planned by the fast lane: a set costs half a dict's probes per id, and their
        positions are only wanted to name a duplicate (``lane_runs``, searched then)."""
        self.lane_runs: list[tuple[int, list[str]]] = []
        # Only ids the adapter rewrote are tracked: an id sent as itself is unique already.
        self.rewritten_ids: set[str] = set()
        self.shards: list[PlannedShard] = []
        self.open_by_group: dict[str, OpenShard] = {}
        # Per-class and per-group answers that do not change within a job, looked up instead of
        # recomputed for every one of millions of requests (model_paths also gives the plan's
        # response models).
        self.model_paths: dict[type[BaseModel], str] = {}
        self.limits_by_group: dict[str, Limits] = {}
        # group -> identity -> vendor id of the first copy (per group: a bare string value is
        # half the memory of a (group, id) tuple at a million requests)
        self.first_copy: dict[str, dict[bytes, str]] = {}
        self.duplicates = self.cached = self.count = 0
        self.model_rules = model_rules(adapter)  # an unknown model stops here, before request 1
        # Vendor ids by their case-folded form, for a vendor that keys results by file name
        # (where "A" and "a" are one file on some systems): None for the others.
        self.folded_ids: dict[str, str] | None = (
            {} if adapter.case_insensitive_ids else None)
        # The kind of each request class ("chat", "embed" or "neither"), asked once per class:
        # an isinstance over pydantic's ABC metaclass per request is not free at millions.
        self.kinds: dict[type, str] = {}
        # per group: the biggest line a shard may take (min of the batch's and the line's limit)
        self.line_limit: dict[str, int] = {}
        # The adapter's methods called per request, looked up once; vendor_id and group are
        # None where the adapter keeps the base class's (the id as it is, the request's kind).
        self.check_request = adapter.request_checker()
        self.encode = adapter.encode
        self.vendor_id: Callable[[str], str] | None = (
            None if type(adapter).vendor_id is Adapter.vendor_id else adapter.vendor_id)
        self.group: Callable[[Request], str] | None = (
            None if type(adapter).group is Adapter.group else adapter.group)
        # A row's line where its checks and line were worked out once for its template
        self.spliced: Callable[[Request], bytes | None] | None = None

    def add(self, position: int, req: Request) -> None:
        self.count = position + 1
        kind = self.kinds.get(type(req)) or self._kind_of(type(req))
        if kind == "neither":
            raise InvalidRequestError(
                f"request {position + 1} is a {type(req).__name__}, "
                "not a ChatRequest, EmbedRequest or ModerationRequest"
            )
        cid = req.custom_id
        seen = self.seen
        if cid in seen or cid in self.lane_ids:
            raise InvalidRequestError(
                f"duplicate custom_id (also request {self.position_of(cid) + 1}); ids must be "
                "unique within a job", custom_id=cid,
            )
        seen[cid] = position
        line = self.spliced(req) if self.spliced is not None else None
        if line is None:
            self.check_request(req)  # the vendor's own rules first: its words are clearer
            if self.model_rules is not None:
                self.model_rules.check(req)
        vid = self.vendor_id(cid) if self.vendor_id is not None else cid
        if self.folded_ids is not None:
            self._check_case(cid, vid, self.folded_ids)
        if vid != cid:
            if vid in self.rewritten_ids or vid in seen or vid in self.lane_ids:
                raise InvalidRequestError(
                    f"maps to vendor id {vid!r}, which another request already uses",
                    custom_id=cid,
                )
            self.rewritten_ids.add(vid)
        elif self.rewritten_ids and cid in self.rewritten_ids:
            raise InvalidRequestError(
                "is the vendor id another request's id was mapped to", custom_id=cid
            )
        group = self.group(req) if self.group is not None else req.kind
        model_path = None
        is_chat = kind == "chat"
        chat: Any = req  # a ChatRequest where is_chat (typing.cast would be a call per request)
        if is_chat:
            model = chat.response_model
            if model is not None:
                model_path = self.model_paths.get(model) or self._model_path(model)
        record: dict[str, Any] = {"i": position, "id": cid, "vid": vid, "ln": None,
                                  "md": req.metadata, "rm": model_path}
        # Chat replies at a non-zero (or default) temperature are samples, never one another's
        # copies: _identity (a dump and a hash) is only computed where a copy can exist.
        identity = None
        if self.dedupe and (not is_chat or chat.temperature == 0):
            identity = _identity(req, model_path)
        if identity is not None:
            copies = self.first_copy.setdefault(group, {})
            if identity in copies:
                record["vid"] = copies[identity]
                self.open_by_group[group].add_index_only(orjson.dumps(record))
                self.duplicates += 1
                return
        if self.cache is not None:
            record["ck"] = key = self.cache.key(self.cache_scope, self.encode(req, ""))
            if key in self.cache:
                self._shard_for(group, None).add_index_only(orjson.dumps(record))
                self.cached += 1
                return
        if self.observe is not None:
            self.observe(req)
        tokens = 0
        if self.queue is not None:
            record["tk"] = tokens = self.queue.tokens_of(req)
        if line is None:
            line = self.encode(req, vid)
        # An embedding line of several texts counts each toward a vendor's cap on inputs.
        inputs = 0 if is_chat else 1 if chat.texts is None else len(chat.texts)
        current = self.open_by_group.get(group)
        size = len(line) + 1
        # The common case, spelt out: the group's open shard has room and the line is not over
        # the line limit (checked fully in _shard_for otherwise).
        if current is None or size > self.line_limit.get(group, 0) or not current.fits(
                size, inputs, tokens):
            current = self._shard_for(group, (size, inputs, cid, tokens))
        if self.model_rules is not None:  # then what the model's context window can hold
            self.model_rules.check_size(req, len(line))
        record["ln"] = current.shard.request_count + 1
        current.add(line, orjson.dumps(record), inputs, tokens)
        if identity is not None:
            copies[identity] = vid

    def position_of(self, cid: str) -> int:
        """Where the job's request with id ``cid`` is (0-based): an error names it."""
        position = self.seen.get(cid)
        if position is not None:
            return position
        start, ids = next((start, ids) for start, ids in self.lane_runs if cid in ids)
        return start + ids.index(cid)

    @staticmethod
    def _check_case(cid: str, vid: str, folded: dict[str, str]) -> None:
        other = folded.setdefault(vid.casefold(), cid)
        if other != cid:
            raise InvalidRequestError(
                f"differs from custom_id {other!r} only by letter case; this vendor keys "
                "results by file name, where the two would collide", custom_id=cid,
            )

    def _kind_of(self, cls: type) -> str:
        kind = self.kinds[cls] = ("chat" if issubclass(cls, ChatRequest) else
                                  "embed" if issubclass(cls, EmbedRequest) else
                                  "moderation" if issubclass(cls, ModerationRequest) else
                                  "neither")
        return kind

    def _model_path(self, model: type[BaseModel]) -> str:
        path = self.model_paths.get(model)
        if path is None:
            path = self.model_paths[model] = response_model_path(model)
        return path

    def _shard_for(self, group: str, line: tuple[int, int, str, int] | None) -> OpenShard:
        """The open shard of ``group`` that fits ``(bytes, embedding inputs, custom_id, input
        tokens)``.

        ``line=None`` asks for any shard of the group, for index-only records (cached results),
        opening an empty one if the group has none yet.
        """
        limits = self._limits(group)
        current = self.open_by_group.get(group)
        if line is None:
            return current if current is not None else self._open(group, limits)
        line_bytes, inputs, cid, tokens = line
        too_big = self.line_bound(group)
        if line_bytes > too_big:
            raise InvalidRequestError(
                f"encodes to {line_bytes:,} bytes, over the provider's limit of {too_big:,} "
                "bytes for one batch line", custom_id=cid,
            )
        if current is None or not current.fits(line_bytes, inputs, tokens):
            if current is not None:
                current.close()
            current = self._open(group, limits)
        return current

    def _limits(self, group: str) -> Limits:
        limits = self.limits_by_group.get(group)
        if limits is None:
            limits = self.adapter.limits(group)
            if self.shard_size is not None:
                limits = replace(limits, max_requests=min(limits.max_requests, self.shard_size))
            self.limits_by_group[group] = limits
        return limits

    def line_bound(self, group: str) -> int:
        """The most bytes (newline included) one line of ``group`` may have."""
        too_big = self.line_limit.get(group)
        if too_big is None:
            limits = self._limits(group)
            too_big = self.line_limit[group] = min(limits.max_bytes,
                                                   limits.max_line_bytes or limits.max_bytes)
        return too_big

    def open_shard(self, group: str, full: OpenShard | None) -> OpenShard:
        """A new shard for ``group``, after closing ``full`` (its shard that could take no
        more), as ``_shard_for`` opens one."""
        if full is not None:
            full.close()
        return self._open(group, self._limits(group))

    def _open(self, group: str, limits: Limits) -> OpenShard:
        opened = self.open_by_group[group] = OpenShard.new(
            self.folder, len(self.shards), group, limits,
            self.queue.tokens if self.queue is not None else None)
        self.shards.append(opened.shard)
        return opened


def _identity(req: Request, model_path: str | None) -> bytes | None:
    """A digest of everything sent for ``req`` but its id, if its reply is meant to repeat.

    Chat replies at a non-zero (or default) temperature are samples; two identical prompts
    there are two requests, not one (synthetic data generation relies on that).
    """
    if isinstance(req, ChatRequest) and req.temperature != 0:
        return None
    body = req.model_dump_json(exclude={"custom_id", "metadata", "response_model"})
    return hashlib.blake2b(f"{req.kind}|{model_path}|{body}".encode(), digest_size=16).digest()


def read_request_records(path: str | Path) -> Iterable[RequestRecord]:
    """Stream a shard's request index."""
    with open(path, "rb") as fh:
        for raw in fh:
            d = orjson.loads(raw)
            yield RequestRecord(d["i"], d["id"], d["vid"], d["md"], d["rm"], d["ln"], d.get("ck"))
