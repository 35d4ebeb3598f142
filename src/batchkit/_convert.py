"""``convert``: one vendor's batch INPUT file to another vendor's, through the neutral model.

Each line is read by the source format's reader (``_readers``), checked by the target adapter
(``Adapter.check_request``: what the target cannot express is refused, per line, naming it) and
written by the target's encoder. Lines stream through one at a time into a staging file beside
the output, which replaces the output only once every line passed: a refused line leaves
nothing written. A conversion never drops a field silently: fields a reader kept raw in
``params`` (no neutral name) go only to a vendor that reads the same format, and are refused
for any other.

A vendor's native file is converted line by line here (``_convert_lines``): most lines repeat a
layout that only their id and texts vary in, and those are spliced into the bytes the target
wrote for the first line of that layout (``_convert_shapes``), with the same bytes and the same
refusals as reading, checking and encoding each one.

Ids must be unique in a file (a job): each line's id leaves an 8-byte key (its hash) as it is
converted, and once every line is, the keys are sorted in place and an equal pair sends the
file through the reader again to find the two lines, so a duplicate is refused, naming the
line and the id, before the output replaces anything. Keeping a key rather than the id keeps
that at 8 MB a million lines, and costs nothing per line but a hash.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._convert_lines import convert_request, id_key
from ._convert_parallel import convert_native
from ._exceptions import ConfigError, InvalidRequestError
from ._readers import detect_format, first_line, read_numbered
from ._registry import input_format, make_adapter
from ._requests import Request
from ._storage import Target

__all__ = ["convert"]

_WRITE_BUFFER = 1 << 20


def convert(source: Target, provider: str, out: str | Path | None = None, *,
            format: str | None = None, kind: str | None = None,
            options: dict[str, Any] | None = None) -> int:
    """Write ``source``'s requests as ``provider``'s batch lines into the file ``out`` (None:
    standard output); returns the number of lines written.

    ``provider`` is ``vendor:model``, or a bare vendor to keep the model the source lines name.
    ``format`` names the source format when its first line does not tell (``vendor`` or
    ``vendor:model``); ``kind`` is for CSV rows (chat or embed).
    """
    fmt = format or detect_format(source)
    if ":" not in provider:
        provider = f"{provider}:{_file_model(source, fmt, provider)}"
    adapter = make_adapter(provider, options)
    adapter.check_options()
    keeps_raw = _same_format(fmt.partition(":")[0], provider.partition(":")[0])

    def write(fh: Any) -> int:
        keys: array[int] = array("q")
        if fmt in ("csv", "jsonl"):
            count = _write(read_numbered(source, format=fmt, kind=kind),  # type: ignore[arg-type]
                           adapter, fh, keeps_raw, fmt, keys)
        else:
            count = convert_native(source, fmt, adapter, fh.write, keeps_raw, keys)
        _check_unique(keys, source, fmt, kind)
        return count

    if out is None or str(out) == "-":
        with tempfile.TemporaryFile() as staged:
            count = write(staged)
            staged.seek(0)
            shutil.copyfileobj(staged, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        return count
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb", buffering=_WRITE_BUFFER) as fh:
            count = write(fh)
        os.replace(staging, target)
    finally:
        if os.path.exists(staging):
            os.unlink(staging)
    return count


def _write(requests: Iterator[tuple[int, Request]], adapter: Any, fh: Any, keeps_raw: bool,
           fmt: str, keys: array[int]) -> int:
    count = 0
    write = fh.write
    for line_no, req in requests:
        write(convert_request(req, line_no, adapter, keeps_raw, fmt))
        write(b"\n")
        keys.append(id_key(req.custom_id))
        count += 1
    return count


def _check_unique(keys: array[int], source: Target, fmt: str, kind: str | None) -> None:
    """Refuse the first line whose id an earlier line has (``keys``: the key of each line's
    id, sorted here in place)."""
    import numpy as np

    ordered = np.frombuffer(keys, dtype=np.int64)
    ordered.sort()
    twice = set(ordered[1:][ordered[1:] == ordered[:-1]].tolist())
    if not twice:
        return
    first: dict[str, int] = {}  # an id whose key is twice -> its first line
    for line_no, req in read_numbered(source, format=fmt, kind=kind):  # type: ignore[arg-type]
        cid = req.custom_id
        if id_key(cid) in twice:
            if cid in first:
                raise InvalidRequestError(f"duplicate custom_id (also line {first[cid]}); ids "
                                          "must be unique within a job", custom_id=cid,
                                          line=line_no)
            first[cid] = line_no


def _same_format(source_format: str, target: str) -> bool:
    """Whether ``target`` reads ``source_format`` files itself (then raw fields carry over)."""
    try:
        return input_format(target)[0] == input_format(source_format)[0]
    except ConfigError:
        return False


def _file_model(source: Target, fmt: str, vendor: str) -> str:
    """The model the source file's first line names, for ``--to vendor`` without a model."""
    name, _, model = fmt.partition(":")
    if model:
        return model
    try:
        reader = input_format(name)[1]
    except ConfigError:
        reader = None
    line_model = getattr(reader, "line_model", None)
    if line_model is not None:
        found = line_model(first_line(source))
        if found:
            return str(found)
    raise ConfigError(f"the source lines name no model: give one (--to {vendor}:MODEL)")
