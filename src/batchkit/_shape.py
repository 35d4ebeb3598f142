"""Request shapes: the requests of a job that differ only in their id and texts, checked and
encoded once per shape and spliced after that (the planner's fast lane, ``_plan_fast``).

Why: a job's requests mostly share one shape (the same class, settings, response model and
message roles; only the id and the texts change). The vendor's checks and its encoder cost
several µs a request, the same work each time, and reading a request field by field costs
more than the JSON. A shape is learnt once, from the first request of it, as ``_convert_shapes``
learns a line layout for ``convert``:

* Its *constants* are the fields a request set (``__pydantic_fields_set__``) but the id and
  the texts (message contents, or an embedding's or moderation's ``text``), and per message
  the fields it set but its content. A request is of the shape when its class is the shape's
  exactly, it set the same fields, and their values are equal and of the same types (``0``,
  ``0.0`` and ``False`` are equal in Python, not in JSON); a field it did not set holds its
  default, which pydantic guarantees and the codecs and the capability check rely on too
  (``plain_request``). A constant that is not plain (tools, reasoning, parts, a non-empty
  params or metadata) leaves the request to the whole way.
* Probes (the request with sentinels for its id and texts) are checked by the vendor's rules and
  the model's, and encoded; each sentinel must show up as a whole JSON string, and the lines of
  other probes (another id, texts with escapes, non-ASCII and edge spaces, a long one) must come
  out of the splice byte for byte, and so must the first request's own line, or the shape takes
  the whole way. Ids the vendor rewrites (``vendor_id``) and ids it keeps get templates of
  their own, each probed with ids of its kind.

A request of a shape is spliced when its values keep to the rules every vendor applies to an
id's or a text's value: an id non-empty and at most ``MAX_CUSTOM_ID_LENGTH`` long (ids with
spaces, slashes, capitals and non-ASCII letters are among the probes), texts neither empty nor
whitespace only; any other request is checked and encoded as it is, which also
gives its error. A vendor rule on a text's content beyond these (a length limit, say) must be
added to :meth:`Shape.usable` here, as in ``_convert_shapes``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from itertools import compress, count, repeat
from operator import attrgetter, countOf, itemgetter, ne
from typing import Any

import orjson

from ._bulk import cloned
from ._requests import MAX_CUSTOM_ID_LENGTH, ChatRequest, EmbedRequest, ModerationRequest

__all__ = ["Record", "Shape", "Template", "Vendor", "inner", "leading", "learn_shape",
           "shape_key", "template"]

_MARK = "Wq3vKz"
"""In every sentinel: a piece of a template holding it means a value was not found whole."""
_TEXTS = (' \t"' + _MARK + '{}a\\u \u00e9\u2028\x01 \U0001f600 ',
          _MARK + "{}b",
          _MARK + "{}c " + "long text. " * 400)
"""Probe texts (``{}`` is the hole's number): escapes, non-ASCII, edge spaces; a plain one; a
long one (length-bound)."""
_ID_FORMS = ("{}-{}i", "{} {}i", "{}{}i", "{}/{}i.{}", "{}-\u00e9{}i", "{}\U0001f600{}i")
"""Probe ids: forms a vendor's id rule may rewrite (a space, a slash, capitals, non-ASCII) and
ones it keeps (each with the mark as it is and in lower case)."""
ID, VENDOR_ID, TEXT = 0, 1, 2
"""Hole codes of a line template: the id, the vendor's id, and ``TEXT + n`` the n-th text."""

_DICT = attrgetter("__dict__")
_FIELDS_SET = attrgetter("__pydantic_fields_set__")
_CONTENT = attrgetter("content")
_TEXT_FIELD: dict[type, str] = {ChatRequest: "messages", EmbedRequest: "text",
                                ModerationRequest: "text"}
"""The request classes with a fast lane (exactly these: a subclass may encode otherwise), and
the field holding their texts."""
_SCALARS = (bool, int, float)
"""Values compared with their type as well."""
_dumps = orjson.dumps


def leading(read: Callable[[Any], Any], items: list[Any], expected: Any) -> int:
    """How many leading ``items`` read as ``expected``: one C pass, building nothing, where
    they all do (most windows), and a second one to find the first that does not."""
    if countOf(map(read, items), expected) == len(items):
        return len(items)
    return next(compress(count(), map(ne, map(read, items), repeat(expected))))


def _constants(model: Any, holes: tuple[str, ...]) -> tuple[str, ...]:
    """The fields ``model`` set but ``holes``, in field order, each scalar's type beside it
    (``name.__class__``, for ``attrgetter``)."""
    fields = model.__dict__
    names = [name for name in fields if name in model.__pydantic_fields_set__
             and name not in holes]
    return (*names, *(f"{name}.__class__" for name in names
                      if type(fields[name]) in _SCALARS))


class Shape:
    """One layout of request: what its constants must be, and its vendor lines with holes."""

    def __init__(self, request: Any, text_field: str) -> None:
        self.cls: type = type(request)
        self.kind: str = request.kind
        self.chat = text_field == "messages"
        self.fields_set = frozenset(request.__pydantic_fields_set__)
        # Read from the request's field dict (a dict lookup each, cheaper than attributes),
        # each scalar's type in a pass of its own
        fields = request.__dict__
        names = [name for name in _constants(request, ("custom_id", text_field))
                 if "." not in name]
        self.getter = itemgetter(*names) if names else None
        self.values: Any = self.getter(fields) if self.getter else None
        self.typed = [(itemgetter(name), type(fields[name])) for name in names
                      if type(fields[name]) in _SCALARS]
        messages = request.messages if self.chat else []
        self.messages = len(messages)
        self.message_shapes = []
        """Per message: the fields it set, and its constants' getter and values."""
        for message in messages:
            read = _constants(message, ("content",))
            reader = attrgetter(*read) if read else None
            self.message_shapes.append((frozenset(message.__pydantic_fields_set__), reader,
                                        reader(message) if reader else None))
        self.metadata: dict[str, Any] = request.metadata
        self.templates: dict[bool, Template | None] = {}
        """Ids the vendor rewrites (True) or keeps (False) -> their lines' template."""
        self.record = Record(b"}")
        """The request index lines (their metadata and response model are filled in by
        :func:`learn_shape`)."""
        self.group = ""

    def match(self, window: list[Any]) -> tuple[int, list[dict[str, Any]], list[list[Any]]]:
        """How many leading requests of ``window`` are of this shape, their field dicts and
        their texts (one list per hole, in hole order)."""
        try:
            return self._match(window)
        except (AttributeError, TypeError, KeyError, IndexError):
            return 0, [], []  # fields of other types (model_construct): the whole way reads them

    def _match(self, window: list[Any]) -> tuple[int, list[dict[str, Any]], list[list[Any]]]:
        k = leading(type, window, self.cls)
        if k < len(window):
            window = window[:k]
        k = leading(_FIELDS_SET, window, self.fields_set)
        dicts = list(map(_DICT, window[:k] if k < len(window) else window))
        if self.getter is not None and k:
            k = leading(self.getter, dicts, self.values)
            for getter, kind in self.typed:
                k = leading(type, list(map(getter, dicts[:k])), kind) if k else 0
        del dicts[k:]  # each check below reads only the requests still of the shape
        if not self.chat:
            texts = list(map(itemgetter("text"), dicts))
            k = leading(type, texts, str)
            return k, dicts[:k], [texts[:k]]
        lists = list(map(itemgetter("messages"), dicts))
        k = leading(len, lists, self.messages)
        columns = []
        for at, (fields_set, reader, values) in enumerate(self.message_shapes):
            if not k:
                break
            messages = list(map(itemgetter(at), lists[:k] if k < len(lists) else lists))
            k = leading(_FIELDS_SET, messages, fields_set)
            if reader is not None and k:
                k = leading(reader, messages[:k] if k < len(messages) else messages, values)
            texts = list(map(_CONTENT, messages[:k] if k < len(messages) else messages))
            k = leading(type, texts, str)
            columns.append(texts)
        return k, dicts[:k], [column[:k] for column in columns]

    @staticmethod
    def usable(ids: list[str], texts: list[list[str]]) -> int:
        """How many leading requests keep to the value rules a splice relies on (see above)."""
        k = len(ids)
        if k and not (all(ids) and max(map(len, ids)) <= MAX_CUSTOM_ID_LENGTH):
            k = next(i for i, cid in enumerate(ids)
                     if not 0 < len(cid) <= MAX_CUSTOM_ID_LENGTH)
        for column in texts:
            if not all(column[:k]) or any(map(str.isspace, column[:k])):
                k = next(i for i, text in enumerate(column) if not text or text.isspace())
        return k


def shape_key(request: Any) -> tuple[Any, ...] | None:
    """What a request's shape is told apart by: its class, the fields it set and their values
    (each with its type), and the same of each message; None where the request has no fast
    lane (a constant that is not plain: tools, reasoning, parts, a non-empty params)."""
    cls = type(request)
    text_field = _TEXT_FIELD.get(cls)
    if text_field is None:
        return None
    try:
        key = _key(request, ("custom_id", text_field))
        if text_field == "text":
            return (cls, key, ()) if type(request.text) is str else None
        messages = request.messages
        if not messages or any(type(m.content) is not str for m in messages):
            return None
        return (cls, key, tuple(_key(m, ("content",)) for m in messages))
    except _NotPlain:
        return None


def _key(model: Any, holes: tuple[str, ...]) -> tuple[Any, ...]:
    fields = model.__dict__
    return (frozenset(model.__pydantic_fields_set__),
            *(_plain(fields[name]) for name in _constants(model, holes) if "." not in name))


class _NotPlain(Exception):
    """A constant the fast lane does not compare (see :func:`_plain`)."""


def _plain(value: Any) -> Any:
    """``value`` (with its type) as a hashable key, for the values a shape compares with
    ``==``: None, numbers, text, a class, a list of texts, an empty dict."""
    kind = type(value)
    if value is None or kind in _SCALARS or kind is str or isinstance(value, type):
        return kind, value
    if kind is list and all(type(item) is str for item in value):
        return kind, tuple(value)
    if kind is dict and not value:
        return kind
    raise _NotPlain


class Vendor:
    """What a shape is learnt against: the adapter's checks, encoder and id rule."""

    def __init__(self, check: Callable[[Any], None], encode: Callable[[Any, str], bytes],
                 vendor_id: Callable[[str], str]) -> None:
        self.check, self.encode, self.vendor_id = check, encode, vendor_id

    def line(self, probe: Any) -> bytes | None:
        """``probe``'s line, or None if the vendor refuses it (its error is a real request's
        to give, on the whole way)."""
        try:
            self.check(probe)
            line: bytes = self.encode(probe, self.vendor_id(probe.custom_id))
        except Exception:  # a shape the vendor will not take is left to the whole way
            return None
        return line


def learn_shape(request: Any, model_path: str | None) -> Shape | None:
    """The shape of ``request`` (one with a :func:`shape_key`), or None when its index records
    cannot be made from bytes; its line templates are learnt as requests need them
    (:func:`template`)."""
    shape = Shape(request, _TEXT_FIELD[type(request)])
    shape.record = Record(b',"md":' + _dumps(shape.metadata) + b',"rm":' + _dumps(model_path)
                          + b"}")
    cid, vid = 'a"\u00e9', "b/c"
    made = shape.record.lines(12345, inner([cid]), inner([vid]), 678)
    record = {"i": 12345, "id": cid, "vid": vid, "ln": 678, "md": shape.metadata,
              "rm": model_path}
    if made != _dumps(record) + b"\n":  # orjson writes the index records one by one
        return None
    return shape


class Template:
    """Lines as the bytes between their holes; each hole is the inside of a JSON string (or a
    number), the quotes being part of the pieces around it."""

    def __init__(self, pieces: tuple[bytes, ...], order: tuple[int, ...]) -> None:
        self.order = order
        self.one = b"%s".join(piece.replace(b"%", b"%%") for piece in pieces) + b"\n"
        self.many = (1, self.one)
        """The format of the last call's count of lines (most windows are full)."""

    def lines(self, columns: Mapping[int, list[bytes] | bytes], count: int) -> bytes:
        """``count`` lines, each ending in a newline, from columns of hole values (a list, or
        one value for every line), made by one ``%`` (half the cost of a join of the pieces
        and values: only the values are laid out)."""
        holes = len(self.order)
        if self.many[0] != count:
            self.many = (count, self.one * count)
        values: list[bytes] = [b""] * (holes * count)
        for at, hole in enumerate(self.order):
            column = columns[hole]
            values[at::holes] = column if isinstance(column, list) else [column] * count
        return self.many[1] % tuple(values)


class Record:
    """A shape's request-index lines, made by one ``%`` a window: the position and line
    numbers are written by the format's ``%d`` (no text made of each and cut apart), the ids
    spliced by its ``%s``."""

    def __init__(self, last: bytes) -> None:
        self.one = (b'{"i":%d,"id":"%s","vid":"%s","ln":%d' + last.replace(b"%", b"%%")
                    + b"\n")
        self.many = (1, self.one)
        """The format of the last window's count of lines (most windows are full)."""

    def lines(self, position: int, ids: list[bytes], vids: list[bytes], line: int) -> bytes:
        """The records of ``len(ids)`` requests, the first at ``position`` (0-based) in the
        job and on ``line`` (1-based) of its shard."""
        k = len(ids)
        if self.many[0] != k:
            self.many = (k, self.one * k)
        values: list[Any] = [None] * (4 * k)
        values[0::4] = range(position, position + k)
        values[1::4] = ids
        values[2::4] = vids
        values[3::4] = range(line, line + k)
        return self.many[1] % tuple(values)


def inner(texts: list[str]) -> list[bytes]:
    """Each text as the inside of its JSON string, in one ``orjson.dumps`` of them all: within
    a JSON string every quote is escaped, so ``","`` only ever stands between two of them.
    Raises ``TypeError`` for text that is not valid Unicode."""
    values = _dumps(texts)[2:-2].split(b'","')
    if len(values) != len(texts):  # cannot happen; the whole way would be right regardless
        raise TypeError("the texts did not come apart")
    return values


def template(shape: Shape, request: Any, vendor: Vendor, rewritten: bool) -> Template | None:
    """The line template of ``shape`` for ids the vendor rewrites (or keeps), learnt from probes
    made of ``request`` and checked against its own line; None: those take the whole way."""
    if rewritten in shape.templates:
        return shape.templates[rewritten]
    found = shape.templates[rewritten] = _learn(shape, request, vendor, rewritten)
    return found


def _learn(shape: Shape, request: Any, vendor: Vendor, rewritten: bool) -> Template | None:
    holes = max(shape.messages, 1)
    ids = [form.format(mark, k, k) for k in range(2) for mark in (_MARK, _MARK.lower())
           for form in _ID_FORMS]
    ids = [cid for cid in ids if (vendor.vendor_id(cid) != cid) == rewritten]
    ids.sort(key=lambda cid: not cid.isascii())  # the template is cut from an ASCII one
    if len(ids) < len(_TEXTS) or not ids[0].isascii():
        return None
    texts = [[text.format(h) for h in range(holes)] for text in _TEXTS]
    probes = [(cid, texts[at % len(texts)]) for at, cid in enumerate(ids)]
    first = vendor.line(_probe(request, *probes[0]))
    if first is None:
        return None
    cid = probes[0][0]
    tokens = [(_dumps(cid), ID)] + [(_dumps(t), TEXT + h) for h, t in enumerate(texts[0])]
    if rewritten:
        tokens.append((_dumps(vendor.vendor_id(cid)), VENDOR_ID))
    cut = _cut(first, tokens)
    if cut is None:
        return None
    own = [(request.custom_id, _texts_of(request))]
    if Shape.usable([own[0][0]], [[t] for t in own[0][1]]) == 0 or (
            vendor.vendor_id(request.custom_id) != request.custom_id) != rewritten:
        own = []  # the request's own values are not the kind this template is for
    for cid, values in probes[1:] + own:
        line = vendor.line(_probe(request, cid, values))
        columns = {ID: inner([cid]), VENDOR_ID: inner([vendor.vendor_id(cid)])}
        columns.update((TEXT + h, inner([t])) for h, t in enumerate(values))
        if line is None or cut.lines(columns, 1) != line + b"\n":
            return None
    return cut


def _texts_of(request: Any) -> list[Any]:
    if isinstance(request, ChatRequest):
        return [m.content for m in request.messages]
    return [request.text]


def _probe(request: Any, cid: str, texts: list[str]) -> Any:
    """``request`` with ``cid`` and ``texts`` in place of its own (built without validation:
    the constants are the request's, already valid)."""
    if isinstance(request, ChatRequest):
        return cloned(request, {"custom_id": cid, "messages": [
            cloned(m, {"content": t}) for m, t in zip(request.messages, texts, strict=True)]})
    return cloned(request, {"custom_id": cid, "text": texts[0]})


def _cut(line: bytes, tokens: list[tuple[bytes, int]]) -> Template | None:
    """``line`` as a template with a hole for every whole occurrence of each token (a JSON
    string: its quotes stay in the pieces); None when both ids are missing, tokens overlap or
    a sentinel is left in the rest. A text may be missing (a vendor that sends only the last
    message): the other probes show whether the line depends on it."""
    found = sorted((at.start(), at.end(), what) for token, what in tokens
                   for at in re.finditer(re.escape(token), line))
    if not {what for _, _, what in found} & {ID, VENDOR_ID}:
        return None
    pieces, order, last = [], [], 0
    for start, end, what in found:
        if start < last:
            return None
        pieces.append(line[last:start + 1])
        order.append(what)
        last = end - 1
    pieces.append(line[last:])
    if any(mark in piece for piece in pieces for mark in (_MARK.encode(),
                                                            _MARK.lower().encode())):
        return None
    return Template(tuple(pieces), tuple(order))
