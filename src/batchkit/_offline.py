"""Offline conversions: requests to vendor files, and vendor result files to a ResultSet.

Nothing here calls a vendor. ``encode`` is for people who upload by hand or want to inspect
exactly what would be sent; ``decode`` turns result files downloaded by any means into the same
ResultSet a job would give.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ._exceptions import InvalidRequestError
from ._normalize import ModelResolver, ShardOutcome, merge_in_order, normalize_shard, with_costs
from ._plan import RequestRecord, plan_shards
from ._registry import make_adapter
from ._requests import ChatRequest, Request, response_model_path
from ._results import ResultSet, gc_paused
from ._state import JobState
from .cost import usage_pricer

__all__ = ["decode", "encode"]


def encode(
    requests: Iterable[Request],
    provider: str,
    path: str | Path,
    *,
    options: dict[str, Any] | None = None,
) -> list[Path]:
    """Write the vendor's batch files for ``requests`` into the folder ``path``.

    Returns the payload files, one per shard, split by the provider's limits. Each has a
    ``.requests.jsonl`` index beside it recording ids and metadata. The files are written to a
    staging folder first and moved into ``path`` only when every request was valid, so a bad
    request leaves no half-written set of files behind.
    """
    adapter = make_adapter(provider, options)
    adapter.check_options()
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".batchkit-encode-", dir=out))
    try:
        plan = plan_shards(requests, adapter, staging)
        if plan.request_count == 0:
            raise InvalidRequestError("no requests to encode")
        for shard in plan.shards:
            for made in (shard.payload_path, shard.requests_path):
                os.replace(made, out / made.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out / s.payload_path.name for s in plan.shards]


def decode(
    paths: str | Path | Iterable[str | Path],
    provider: str,
    requests: Iterable[Request],
    *,
    options: dict[str, Any] | None = None,
) -> ResultSet:
    """Join vendor result files (output and error files alike) to ``requests``.

    Every request gets exactly one Result in input order; requests with no line in any file are
    ``errored/missing_result``. With a ``name:model`` provider, results are priced.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    adapter = make_adapter(provider if ":" in provider else f"{provider}:offline", options)
    records = []
    models = {}
    for position, req in enumerate(requests):
        model_path = None
        if isinstance(req, ChatRequest) and req.response_model is not None:
            model_path = response_model_path(req.response_model)
            models[model_path] = req.response_model
        records.append(RequestRecord(
            position, req.custom_id, adapter.vendor_id(req.custom_id), req.metadata, model_path,
            line=position + 1,
        ))
    unmatched: list[Any] = []
    stream = normalize_shard(
        records, [Path(p) for p in paths], adapter.decode,
        ShardOutcome(JobState.COMPLETED, {}), ModelResolver(models), unmatched,
    )
    priced = with_costs(merge_in_order([("all", stream)]), usage_pricer(provider))
    with gc_paused():  # no network here: just decoding, with every Result kept
        results = ResultSet(priced)
    results.unmatched = unmatched  # complete now that every line has been read
    return results
