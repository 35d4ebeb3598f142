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

Nothing is sent here. A bad request stops planning with an error naming it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import orjson
from pydantic import BaseModel

from ._exceptions import InvalidRequestError
from ._requests import ChatRequest, EmbedRequest, Request, response_model_path
from .providers.base import Adapter, Limits

__all__ = ["Plan", "PlannedShard", "RequestRecord", "plan_shards", "read_request_records"]


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


@dataclass
class Plan:
    shards: list[PlannedShard]
    request_count: int
    response_models: dict[str, type[BaseModel]] = field(default_factory=dict)
    """Response models seen, by import path, so this process can parse without importing."""
    duplicates: int = 0
    """Requests not sent because an identical one is sent (they share its result)."""


@dataclass(frozen=True)
class RequestRecord:
    """One line of a shard's request index."""

    position: int
    custom_id: str
    vendor_id: str
    metadata: dict[str, Any]
    response_model: str | None
    line: int | None
    """1-based line in the shard payload; None for a duplicate that shares another's result."""


class _OpenShard:
    """A shard being written: its files and running totals."""

    def __init__(self, shard: PlannedShard, limits: Limits) -> None:
        self.shard = shard
        self.limits = limits
        # Held open across many add() calls and closed by close(): not a with-block's shape.
        self.payload: IO[bytes] = open(shard.payload_path, "wb")  # noqa: SIM115
        self.index: IO[bytes] = open(shard.requests_path, "wb")  # noqa: SIM115

    def fits(self, line_bytes: int, inputs: int) -> bool:
        s, lim = self.shard, self.limits
        if s.request_count + 1 > lim.max_requests or s.byte_count + line_bytes > lim.max_bytes:
            return False
        cap = lim.max_embedding_inputs
        return cap is None or s.embedding_inputs + inputs <= cap

    def add_duplicate(self, record: bytes) -> None:
        self.index.write(record)
        self.index.write(b"\n")

    def add(self, line: bytes, record: bytes, inputs: int) -> None:
        self.payload.write(line)
        self.payload.write(b"\n")
        self.index.write(record)
        self.index.write(b"\n")
        self.shard.request_count += 1
        self.shard.byte_count += len(line) + 1
        self.shard.embedding_inputs += inputs

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
) -> Plan:
    """Validate every request and write shard files under ``folder``.

    ``shard_size`` caps requests per shard below the provider's own limit (smaller shards
    finish, fail and retry in smaller pieces). ``dedupe=False`` sends identical requests
    separately. ``observe`` sees every request that will be sent (not the de-duplicated
    copies), e.g. to tally a cost estimate in the same pass.

    Raises :class:`InvalidRequestError` at the first bad request (by its position, 1-based,
    and custom_id); the caller removes the partial folder.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    seen: dict[str, int] = {}
    vendor_ids: set[str] = set()
    shards: list[PlannedShard] = []
    open_by_group: dict[str, _OpenShard] = {}
    models: dict[str, type[BaseModel]] = {}
    first_copy: dict[bytes, tuple[str, str]] = {}  # identity -> (group, vendor id)
    duplicates = 0
    position = -1
    try:
        for position, req in enumerate(requests):
            if not isinstance(req, (ChatRequest, EmbedRequest)):
                raise InvalidRequestError(
                    f"request {position + 1} is a {type(req).__name__}, "
                    "not a ChatRequest or EmbedRequest"
                )
            cid = req.custom_id
            if cid in seen:
                raise InvalidRequestError(
                    f"duplicate custom_id (also request {seen[cid] + 1}); ids must be unique "
                    "within a job", custom_id=cid,
                )
            seen[cid] = position
            adapter.check(req)
            vid = adapter.vendor_id(cid)
            if vid in vendor_ids:
                raise InvalidRequestError(
                    f"maps to vendor id {vid!r}, which another request already uses",
                    custom_id=cid,
                )
            vendor_ids.add(vid)
            group = adapter.group(req)
            model_path = None
            if isinstance(req, ChatRequest) and req.response_model is not None:
                model_path = response_model_path(req.response_model)
                models[model_path] = req.response_model
            identity = _identity(req, model_path) if dedupe else None
            if identity is not None and identity in first_copy:
                first_group, first_vid = first_copy[identity]
                open_by_group[first_group].add_duplicate(orjson.dumps(
                    {"i": position, "id": cid, "vid": first_vid, "ln": None, "md": req.metadata,
                     "rm": model_path}))
                duplicates += 1
                continue
            if observe is not None:
                observe(req)
            limits = adapter.limits(group)
            if shard_size is not None:
                limits = replace(limits, max_requests=min(limits.max_requests, shard_size))
            line = adapter.encode(req, vid)
            line_bytes = len(line) + 1
            too_big = min(limits.max_bytes, limits.max_line_bytes or limits.max_bytes)
            if line_bytes > too_big:
                raise InvalidRequestError(
                    f"encodes to {line_bytes:,} bytes, over the provider's limit of "
                    f"{too_big:,} bytes for one batch line",
                    custom_id=cid,
                )
            inputs = 1 if isinstance(req, EmbedRequest) else 0
            current = open_by_group.get(group)
            if current is None or not current.fits(line_bytes, inputs):
                if current is not None:
                    current.close()
                index = len(shards)
                shard = PlannedShard(
                    index=index,
                    group=group,
                    payload_path=folder / f"shard-{index:04d}.payload.jsonl",
                    requests_path=folder / f"shard-{index:04d}.requests.jsonl",
                )
                shards.append(shard)
                current = open_by_group[group] = _OpenShard(shard, limits)
            current.add(line, orjson.dumps({
                "i": position, "id": cid, "vid": vid, "ln": current.shard.request_count + 1,
                "md": req.metadata, "rm": model_path}), inputs)
            if identity is not None:
                first_copy[identity] = (group, vid)
    finally:
        for open_shard in open_by_group.values():
            open_shard.close()
    return Plan(shards=shards, request_count=position + 1, response_models=models,
                duplicates=duplicates)


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
            yield RequestRecord(d["i"], d["id"], d["vid"], d["md"], d["rm"], d["ln"])
