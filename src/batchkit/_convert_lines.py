"""Converting a vendor's native batch file line by line, splicing the lines of a known shape.

Each line is first tried against the shapes learnt so far (``_convert_shapes``): a match whose
values keep to the rules is written without being read into a request. Every other line takes
the whole way, exactly as ``read_numbered`` reads a native file (the same UTF-8, JSON and
one-model-per-kind errors, naming the line) followed by the target's check and encoder; a line
that went the whole way teaches a new shape, up to a limit, so a file of lines that all differ
costs a bounded number of lessons.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from typing import IO, Any

import orjson

from ._convert_shapes import Shape, learn_shape
from ._exceptions import InvalidRequestError
from ._readers import BOM
from ._registry import input_format
from ._requests import Request

__all__ = ["LineConverter", "blocks", "convert_request", "id_key", "model_differs"]

_MAX_SHAPES = 32
_MAX_LESSONS = 64
"""Lines a shape is learnt from at most (learning one reads the line again per string)."""
_MAX_BULK_MISSES = 4
_NEWLINE = ord("\n")


def id_key(custom_id: str) -> int:
    """The key of an id in ``LineConverter.keys``: the hash of its UTF-8 bytes (a spliced
    line's id slot holds those bytes, so no line needs its id decoded; the forked workers of
    a conversion hash alike)."""
    return hash(custom_id.encode("utf-8", "surrogatepass"))


def convert_request(req: Request, line_no: int, adapter: Any, keeps_raw: bool,
                    fmt: str) -> bytes:
    """One request as the target's line (no newline), or the error naming its line."""
    if req.params and not keeps_raw:
        raise InvalidRequestError(
            f"field(s) {', '.join(sorted(req.params))} of this {fmt} line have no neutral "
            f"meaning, so {adapter.name} cannot be given them; remove them, or convert to "
            "a vendor that reads the same format", custom_id=req.custom_id, line=line_no)
    try:
        adapter.check_request(req)
    except InvalidRequestError as exc:
        raise InvalidRequestError(exc.rule, custom_id=exc.custom_id, line=line_no) from None
    out: bytes = adapter.encode(req, adapter.vendor_id(req.custom_id))
    return out


def blocks(fh: IO[bytes], size: int) -> Iterator[tuple[int, bytes, int]]:
    """(number of the first line, whole lines of about ``size`` bytes, how many newlines they
    hold) of a binary file, the first without its BOM.

    The newlines are counted by numpy (a vector compare into one buffer kept from block to
    block: a new one each time costs its pages), twice as fast as ``bytes.count``'s byte loop
    here: counting was a tenth of a conversion's time.
    """
    import numpy as np

    first_line = 1
    found = np.empty(0, dtype=bool)
    while data := fh.read(size):
        if not data.endswith(b"\n"):
            data += fh.readline()
        if first_line == 1:
            data = data.removeprefix(BOM)
        if len(found) < len(data):
            found = np.empty(max(len(data), size), dtype=bool)
        codes = np.frombuffer(data, np.uint8)
        newlines = int(np.count_nonzero(np.equal(codes, _NEWLINE, out=found[:len(codes)])))
        yield first_line, data, newlines
        first_line += newlines


class LineConverter:
    """The state of one file's conversion: its reader, the model of each kind, the shapes."""

    def __init__(self, fmt: str, adapter: Any, keeps_raw: bool, *,
                 check_models: bool = True) -> None:
        name, _, model = fmt.partition(":")
        self.reader = input_format(name)[1]
        self.line_model = getattr(self.reader, "line_model", None)
        self.model = model or None
        self.fmt, self.adapter, self.keeps_raw = fmt, adapter, keeps_raw
        self.check_models = check_models
        self.first_model: dict[str, tuple[int, Any]] = {}
        self.named: set[tuple[str, Any]] = set()
        self.models: list[tuple[int, str, Any, str]] = []
        """Without ``check_models``: (line, kind, model, id) where each model of a kind is
        first named, for whoever sees the lines before these to check (``_convert_parallel``)."""
        self.keys = array("q")
        """A key of each request's id (``id_key``), in file order: for the duplicate check
        once every line is converted (``_convert``), 8 bytes a request."""
        self.shapes: list[Shape] = []
        self.waiting: list[Shape] = []
        """Shapes learnt before :meth:`next_chunk`, each back in use once a line of it went
        the whole way in this chunk (which notes its model)."""
        self.lessons = 0
        self.bulk_misses = 0
        """Blocks the shape in use did not take whole: past ``_MAX_BULK_MISSES`` the lines
        are matched one by one (a file whose blocks all hold other lines)."""

    def next_chunk(self) -> None:
        """Start on lines that do not follow the ones before (another chunk of the file):
        the notes of models and the ids' keys start again, the shapes wait for a line of
        theirs."""
        self.named.clear()
        self.models = []
        self.keys = array("q")
        self.waiting.extend(self.shapes)
        self.shapes.clear()

    def convert(self, line_no: int, block: bytes, write: Callable[[bytes], Any],
                newlines: int) -> int:
        """Write the target's lines for ``block`` (whole lines, the first numbered
        ``line_no``, ``newlines`` of them ending in a newline); returns how many were written.

        The lines of the shape in use are found all at once by its ``lines`` pattern: when
        they are all the block's lines, they are spliced at once (``Shape.take_all``); else
        the lines between (another shape, a value to check, a line to read) are taken one by
        one. Each request is one item of ``outs``, written at the end.
        """
        outs: list[bytes] = []
        at = 0
        counted = [0, line_no]  # a position in the block, and the number of its line

        def number(position: int) -> int:
            counted[1] += block.count(b"\n", counted[0], position)
            counted[0] = position
            return counted[1]

        if block.isascii() or _utf8(block):
            while not self.shapes and at < len(block):  # until a line shows a shape
                end = block.find(b"\n", at)
                end = len(block) if end < 0 else end
                self._one_by_one(number(at), block[at:end], outs)
                at = end + 1
            if self.shapes and at < len(block) and self._take_all(
                    block, at, newlines - (number(at) - line_no), outs):
                write(b"".join(outs))
                return len(outs)
            if self.shapes and at < len(block):
                shape = self.shapes[0]
                take, id_slot = shape.take, shape.id_slot
                append, key = outs.append, self.keys.append
                for matched in shape.lines.finditer(block, at):
                    if matched.start() != at:  # lines of no use to this shape
                        self._one_by_one(number(at), block[at:matched.start()], outs)
                    values = matched.groups()
                    out = take(values)
                    if out is not None:
                        append(out)
                        key(hash(values[id_slot]))
                    else:
                        self._one_by_one(number(matched.start()), matched[0], outs)
                    at = matched.end() + 1
        self._one_by_one(number(min(at, len(block))), block[at:], outs)
        write(b"".join(outs))
        return len(outs)

    def _take_all(self, block: bytes, at: int, newlines: int, outs: list[bytes]) -> bool:
        """Splice the lines of ``block`` from ``at`` (holding ``newlines`` newlines) at once,
        if they are all of the shape in use with values it takes (else nothing is done)."""
        shape = self.shapes[0]
        if self.bulk_misses >= _MAX_BULK_MISSES or shape.lines.groups < 2:
            return False
        found = shape.lines.findall(block, at)
        if not found or len(found) != newlines + (not block.endswith(b"\n")):
            self.bulk_misses += 1
            return False
        id_slot = shape.id_slot
        ids = [values[id_slot] for values in found]
        lines = shape.take_all(found, ids)
        if lines is None:
            self.bulk_misses += 1
            return False
        outs += lines
        self.keys.extend(map(hash, ids))
        return True

    def _one_by_one(self, line_no: int, lines: bytes, outs: list[bytes]) -> None:
        """Convert whole lines one at a time: by any shape, else the whole way."""
        shapes = self.shapes
        for number, raw in enumerate(lines.split(b"\n"), start=line_no):
            line = raw.rstrip(b"\r")
            out = None
            if shapes and (line.isascii() or _utf8(line)):
                for at, shape in enumerate(shapes):
                    out = shape.convert(line)
                    if out is not None:
                        outs.append(out[0])
                        self.keys.append(hash(out[1]))
                        if at:
                            shapes.insert(0, shapes.pop(at))
                        break
            if out is None:
                self.whole_way(number, raw, outs.append)

    def whole_way(self, line_no: int, raw: bytes, write: Callable[[bytes], Any]) -> None:
        """Read, check and encode one line (what ``read_numbered`` and ``convert`` do)."""
        if not raw.strip():
            return
        obj = _parse(raw, line_no)
        req = self.reader.request_from_line(obj, line_no, self.model)
        if self.line_model is not None:
            self._note_model(req, self.line_model(obj), line_no)
        out = convert_request(req, line_no, self.adapter, self.keeps_raw, self.fmt)
        write(out + b"\n")
        self.keys.append(id_key(req.custom_id))
        line = raw.rstrip(b"\r\n")
        for at, shape in enumerate(self.waiting):
            if shape.convert(line) is not None:
                self.shapes.insert(0, self.waiting.pop(at))
                return
        if self.lessons < _MAX_LESSONS and len(self.shapes) + len(self.waiting) < _MAX_SHAPES:
            self.lessons += 1
            learnt = learn_shape(raw, req, self._one_request, self.adapter, out)
            if learnt is not None:
                self.shapes.insert(0, learnt)

    def _note_model(self, req: Request, named: Any, line_no: int) -> None:
        """The lines of one kind must name one model: the first line's (or, without
        ``check_models``, note where each model of a kind is first named)."""
        if not self.check_models:
            if (req.kind, named) not in self.named:
                self.named.add((req.kind, named))
                self.models.append((line_no, req.kind, named, req.custom_id))
            return
        first_line, first = self.first_model.setdefault(req.kind, (line_no, named))
        if named != first:
            raise model_differs(named, first, first_line, req.custom_id, line_no)

    def _one_request(self, obj: dict[str, Any]) -> Request:
        return self.reader.request_from_line(obj, 0, self.model)  # type: ignore[no-any-return]


def model_differs(named: Any, first: Any, first_line: int, custom_id: str,
                  line_no: int) -> InvalidRequestError:
    """The error of a line naming another model than the first line of its kind."""
    return InvalidRequestError(
        f"model {named!r} differs from {first!r} on line {first_line}; a file is one job on "
        "one model per kind (choose it in the provider string)", custom_id=custom_id,
        line=line_no)


def _utf8(line: bytes) -> bool:
    try:
        line.decode()
    except UnicodeDecodeError:
        return False
    return True


def _parse(raw: bytes, line_no: int) -> dict[str, Any]:
    """A line as a JSON object, with ``read_numbered``'s errors."""
    if not _utf8(raw):
        raise InvalidRequestError("not valid UTF-8", line=line_no)
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestError(f"not valid JSON ({exc.msg})", line=line_no) from None
    if not isinstance(obj, dict):
        raise InvalidRequestError("each line must be a JSON object", line=line_no)
    return obj
