"""Offline conversion of requests to vendor files (``bk.encode``).

Nothing here calls a vendor. ``encode`` is for people who upload by hand or want to inspect
exactly what would be sent; the way back, vendor output files to a ResultSet, is ``_decode``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ._exceptions import InvalidRequestError
from ._plan import plan_shards
from ._registry import make_adapter
from ._requests import Request

__all__ = ["encode"]


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
