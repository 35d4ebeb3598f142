"""Streaming readers for request files: neutral JSONL, every vendor's native batch JSONL, CSV.

Files are read line by line, so a ten-million-line file never sits in memory. Every problem is
reported as an :class:`InvalidRequestError` naming the line (1-based) and, where known, the
``custom_id``.

* **neutral JSONL** — one request per line: ``{"custom_id", "messages", ...}`` for chat or
  ``{"custom_id", "text", ...}`` for embeddings (the fields of ChatRequest / EmbedRequest).
* **a vendor's batch INPUT file** — the format is found from the first line by asking each
  vendor's reader (``providers/<vendor>/reader.py``, listed by ``_registry.input_formats``)
  whether the line looks like its format; ``format="<vendor>"`` skips the guess, and
  ``format="<vendor>:<model>"`` also names the model, for formats whose lines do not. Fields a
  vendor's line has that batchkit has no neutral name for are kept in ``params``.
* **CSV** — a ``text`` column is required; an optional ``custom_id`` (or ``id``) column names
  the rows (else ``row-N``); every other column becomes metadata.

A UTF-8 byte order mark (what Excel and Notepad write) is skipped. A file with no request at all
is an error: an empty job is never what was meant.

``path`` may be an fsspec URL (``s3://bucket/requests.jsonl``, ``gs://...``, ``az://...``): the
object is streamed through a buffered reader, never downloaded whole (see ``_storage``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Generator, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, Any, Literal

import orjson
from pydantic import BaseModel

from ._exceptions import ConfigError, InvalidRequestError
from ._registry import input_format, input_formats
from ._requests import ChatRequest, EmbedRequest, Request
from ._storage import Target, display_name, display_url, is_url, open_target
from .providers._reader_kit import build, function_tool, function_tool_choice

__all__ = ["BOM", "Source", "detect_format", "first_line", "open_source", "read_numbered",
           "read_requests"]

FileFormat = str
"""``jsonl`` (neutral), ``csv``, or a vendor's name (``vendor:model`` to name the model too)."""

BOM = "\ufeff".encode()


def read_requests(
    path: str | Path,
    *,
    format: FileFormat | None = None,
    kind: Literal["chat", "embed"] | None = None,
    response_model: type[BaseModel] | None = None,
    system: str | None = None,
    storage_options: dict[str, Any] | None = None,
) -> Iterator[Request]:
    """Yield the requests in ``path`` (a path or an fsspec URL) one at a time, in file order.

    ``format`` is guessed from the suffix (``.csv``) or the first line (see the module
    docstring). For CSV, ``kind`` chooses embeddings or chat, where each row's
    text becomes the user message after an optional ``system`` prompt; it defaults to chat when
    a ``response_model`` or ``system`` prompt is given (they only mean something for chat), else
    to embeddings. ``response_model`` is applied to every chat request.

    The lines of one kind in a vendor file that names models must name one model: the model is
    chosen by the provider string, and lines asking for different models cannot all get what
    they ask for. ``storage_options`` go to fsspec for a URL (credentials, endpoint).
    """
    for _, req in read_numbered(path, format=format, kind=kind, response_model=response_model,
                                system=system, storage_options=storage_options):
        yield req


def read_numbered(
    path: str | Path,
    *,
    format: FileFormat | None = None,
    kind: Literal["chat", "embed"] | None = None,
    response_model: type[BaseModel] | None = None,
    system: str | None = None,
    storage_options: dict[str, Any] | None = None,
) -> Iterator[tuple[int, Request]]:
    """:func:`read_requests` with each request's line number, for errors found later (a
    conversion's target refusing a request names the line it came from)."""
    source = Source(path if is_url(path) else Path(path), storage_options)
    fmt = format or _guess_format(source)
    requests: Iterator[tuple[int, Request]]
    if fmt == "csv":
        requests = _read_csv(source, kind, response_model, system)
    elif fmt != "jsonl":
        name, _, model = fmt.partition(":")
        requests = _read_native(source, input_format(name)[1], model or None, response_model)
    else:
        requests = ((line_no, _from_neutral(obj, line_no, kind, response_model))
                    for line_no, obj in _iter_json_lines(source))
    empty = True
    for numbered in requests:
        empty = False
        yield numbered
    if empty:
        raise InvalidRequestError(f"{source.name!r} holds no requests (it is empty)")


@dataclass(frozen=True)
class Source:
    """Where requests are read from: a local path or a URL, with fsspec's options for it."""

    target: Target
    storage_options: dict[str, Any] | None

    @property
    def name(self) -> str:
        return display_name(self.target)


def detect_format(path: str | Path, storage_options: dict[str, Any] | None = None) -> str:
    """The format :func:`read_requests` would read ``path`` in (``csv``, ``jsonl`` or the
    name of a vendor's format), from its suffix or first line."""
    return _guess_format(Source(path if is_url(path) else Path(path), storage_options))


def first_line(path: str | Path, storage_options: dict[str, Any] | None = None
               ) -> dict[str, Any]:
    """The first JSON line of ``path`` (an empty object for an empty file)."""
    source = Source(path if is_url(path) else Path(path), storage_options)
    with closing(_iter_json_lines(source)) as lines:
        return next((obj for _, obj in lines), {})


def _guess_format(source: Source) -> FileFormat:
    if source.name.lower().endswith(".csv"):
        return "csv"
    for _, obj in _iter_json_lines(source):
        for name, reader in input_formats():
            if reader.looks_like(obj):
                return name
        return "jsonl"
    return "jsonl"


@contextmanager
def open_source(source: Source, *, text: bool = False) -> Iterator[IO[Any]]:
    try:
        with open_target(source.target, "rb", source.storage_options) as raw:
            if text:
                yield io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape",
                                       newline="")
            else:
                yield raw
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
        raise InvalidRequestError(f"cannot read {display_url(source.target)!r}: {why}") from None


def _iter_json_lines(source: Source) -> Generator[tuple[int, dict[str, Any]], None, None]:
    with open_source(source) as fh:
        for line_no, raw in enumerate(fh, start=1):
            if line_no == 1:
                raw = raw.removeprefix(BOM)
            if not raw.strip():
                continue
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidRequestError("not valid UTF-8", line=line_no) from None
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise InvalidRequestError(f"not valid JSON ({exc.msg})", line=line_no) from None
            if not isinstance(obj, dict):
                raise InvalidRequestError("each line must be a JSON object", line=line_no)
            yield line_no, obj


def _from_neutral(
    obj: dict[str, Any],
    line_no: int,
    kind: str | None,
    response_model: type[BaseModel] | None,
) -> Request:
    data = dict(obj)
    line_kind = data.pop("kind", None) or kind or ("embed" if "text" in data else "chat")
    if line_kind == "embed" and "custom_id" not in data:
        data = _document_row(data, line_no)
    if line_kind == "embed":
        return build(EmbedRequest, data, line_no)
    if line_kind != "chat":
        raise InvalidRequestError(f"unknown kind {line_kind!r} (chat or embed)", line=line_no)
    if response_model is not None:
        data["response_model"] = response_model
    if isinstance(data.get("tools"), list):  # function-wrapped tools are common in neutral files
        data["tools"] = [function_tool(t) for t in data["tools"]]
    if "tool_choice" in data:
        data["tool_choice"] = function_tool_choice(data["tool_choice"])
    return build(ChatRequest, data, line_no)


def _document_row(row: dict[str, Any], line_no: int) -> dict[str, Any]:
    """A corpus line (``{"id": 7, "text": ..., "title": ...}``) read as a CSV row is: ``id``
    becomes the custom_id (``row-N`` without one), every other field the request's metadata."""
    row = dict(row)
    text = row.pop("text", None)
    ident = row.pop("id", None)
    return {"custom_id": f"row-{line_no}" if ident is None else str(ident), "text": text,
            "metadata": row}


def _read_native(source: Source, reader: ModuleType, model: str | None,
                 response_model: type[BaseModel] | None) -> Iterator[tuple[int, Request]]:
    """A vendor file's requests, by its reader; the lines of one kind must name one model."""
    line_model = getattr(reader, "line_model", None)
    first_model: dict[str, tuple[int, Any]] = {}  # kind -> (line, model) of its first line
    for line_no, obj in _iter_json_lines(source):
        req = reader.request_from_line(obj, line_no, model)
        if line_model is not None:
            named = line_model(obj)
            first_line, first = first_model.setdefault(req.kind, (line_no, named))
            if named != first:
                raise InvalidRequestError(
                    f"model {named!r} differs from {first!r} on line {first_line}; a file "
                    "is one job on one model per kind (choose it in the provider string)",
                    custom_id=req.custom_id, line=line_no)
        if response_model is not None and isinstance(req, ChatRequest):
            req = req.model_copy(update={"response_model": response_model,
                                         "response_schema": None, "json_mode": False})
        yield line_no, req


def _read_csv(
    source: Source,
    kind: str | None,
    response_model: type[BaseModel] | None,
    system: str | None,
) -> Iterator[tuple[int, Request]]:
    chat_only = [name for name, given in (("response_model", response_model),
                                          ("system", system)) if given]
    if kind == "embed" and chat_only:
        raise ConfigError(f"{chat_only[0]} applies to chat requests, but kind is 'embed'")
    kind = kind or ("chat" if chat_only else "embed")
    with open_source(source, text=True) as fh:
        lines = _CheckedLines(fh)
        reader = csv.DictReader(lines)
        try:
            header = reader.fieldnames or []
        except csv.Error as exc:
            raise InvalidRequestError(f"not valid CSV ({exc})", line=lines.number) from None
        if "text" not in header:
            raise InvalidRequestError(
                f"CSV has no 'text' column (columns: {', '.join(header) or 'none'})", line=1
            )
        id_col = "custom_id" if "custom_id" in header else ("id" if "id" in header else None)
        for row_no, row in enumerate(_csv_rows(reader, lines), start=1):
            line_no = lines.number
            text = row.pop("text") or ""
            cid = (row.pop(id_col) if id_col else None) or f"row-{row_no}"
            metadata = {k: v for k, v in row.items() if k is not None}
            if kind == "embed":
                yield line_no, build(
                    EmbedRequest, {"custom_id": cid, "text": text, "metadata": metadata}, line_no
                )
                continue
            messages = [{"role": "system", "content": system}] if system else []
            messages.append({"role": "user", "content": text})
            data: dict[str, Any] = {"custom_id": cid, "messages": messages, "metadata": metadata}
            if response_model is not None:
                data["response_model"] = response_model
            yield line_no, build(ChatRequest, data, line_no)


class _CheckedLines:
    """A text file's lines, each checked to be UTF-8 as it is read, counted as they go.

    The file is decoded with ``surrogateescape``, so a bad byte does not stop the decoder on
    whatever chunk it was buffering; it shows up as a lone surrogate in its own line, which is
    then reported with that line's number.
    """

    def __init__(self, fh: IO[str]) -> None:
        self._fh = fh
        self.number = 0

    def __iter__(self) -> _CheckedLines:
        return self

    def __next__(self) -> str:
        line = next(self._fh)
        self.number += 1
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRequestError("not valid UTF-8", line=self.number) from None
        return line


def _csv_rows(reader: csv.DictReader[str], lines: _CheckedLines) -> Iterator[dict[str | Any, Any]]:
    """The rows, with the csv module's errors (a field over its size limit, a stray newline)
    as batchkit's, naming the line."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InvalidRequestError(f"not valid CSV ({exc})", line=lines.number) from None
        yield row
