"""Line shapes for ``convert``: the lines of a batch file that differ only in their id and
texts are converted by splicing those values into bytes the target's encoder wrote once.

Why: most lines of a real batch file repeat one layout (the same system prompt, model and
settings; only the id and the user text change). Reading each into a validated neutral
request, checking it against the target and encoding it costs about 40 µs a line, several times
a plain ``json.loads``/``json.dumps`` loop. The verdict of the target's checks and the bytes of
its encoder depend on a line's constant parts, which a shape holds once, and on its values
only through rules a line's values are checked against here.

How a shape is learnt, from a line that went the whole way (read, checked, encoded):

* Each string value of the raw line is replaced in turn by a sentinel and the line read again.
  A value is a *slot* when the request read back is the first one with the sentinel as its
  ``custom_id`` or as the text of one message (or text part, or embedding or moderation
  ``text``): the reader passes
  it through unchanged (two sentinels, one with spaces, quotes, a backslash and non-ASCII, make
  a reader that trims or rewrites text show). Every other value is a constant of the shape.
* The request with every slot set to a sentinel is checked and encoded by the target; each
  sentinel must show up as a whole JSON string (an encoder that wraps a text into a larger
  string leaves no shape), and the line itself must come out of the shape byte for byte.
* The shape's pattern is the raw line with each slot a JSON-string group: a line matches only
  if its constant bytes are the same.
* A request of several ``texts`` (a list ``input``) teaches no shape: its lines differ in how
  many texts they hold, and take the whole way.

A line of a shape is converted without reading or encoding when its values keep to the rules
any reader or target applies to a value: an id non-empty and at most ``MAX_CUSTOM_ID_LENGTH``
long, a text that is not empty or only whitespace, no escape a JSON parser refuses. Any other
line (or one matching no shape) takes the whole way, which also gives its error. These are
all the rules the readers and targets apply to an id's or a text's value today; a target rule
on a text's content beyond them (a length limit, say) must be added to the checks here.

A block of lines that are all of one shape is spliced at once (``Shape.take_all``): the ids
go to the target's ``vendor_ids`` in one call where the adapter has one (Bedrock rewrites most
ids, each by a SHA-256: per id through ``vendor_id`` that was a third of a line's time), and
the lines are formatted by ``map``, with no Python step per line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import orjson

from ._requests import (
    MAX_CUSTOM_ID_LENGTH,
    ChatRequest,
    EmbedRequest,
    ModerationRequest,
    Request,
    TextPart,
)
from .providers.base import Adapter

__all__ = ["Shape", "learn_shape"]

_INNER = rb'[^"\\\x00-\x1f]*(?:\\.[^"\\\x00-\x1f]*)*'
_TOKEN = re.compile(b'"' + _INNER + b'"')
_COMMON_TEXT = rb'[!#-\[\]-~][^"\\\x00-\x1f]*'
_COMMON_ID = rb'[^"\\\x00-\x1f]{1,%d}' % MAX_CUSTOM_ID_LENGTH
_KEY_AFTER = re.compile(rb"\s*:")
_MARK = "Qz7xKv"
"""In every sentinel: a constant part of a shape holding it means a slot was not found."""
_PLAIN_TEXT = _MARK + "{}t"
_ODD_TEXT = ' \t"' + _MARK + '{}\\u \u00e9\u2028 '
_IDS = (_MARK + "{}i", _MARK + "-{}i", _MARK + " {}i")
_ID, _VENDOR_ID, _TEXT = 0, 1, 2

Path = tuple[Any, ...]
Picker = Callable[[tuple[bytes, ...]], tuple[bytes, ...]]
TakeAll = Callable[[list[tuple[bytes, ...]], list[bytes]], list[bytes] | None]
ReadLine = Callable[[dict[str, Any]], Request]
"""A parsed line -> its request (or the reader's error)."""


@dataclass(frozen=True)
class Shape:
    """A layout of line: its patterns (each slot a group: the inner bytes of its JSON
    string), and the target's bytes around the slots' values."""

    common: re.Pattern[bytes]
    """Texts without escapes that start with a printable ASCII character (neither empty nor
    whitespace only, already as orjson writes them), and an id without escapes: most lines."""
    lines: re.Pattern[bytes]
    """``common`` as the lines of a block (``finditer`` over many lines at once)."""
    pattern: re.Pattern[bytes]
    """Any JSON strings, each value checked in :meth:`splice`."""
    pick: Picker
    """(id, vendor's id, *slots) -> the values of ``template``'s ``%b`` in order."""
    template: bytes
    id_slot: int
    text_slots: tuple[int, ...]
    vendor_id: Callable[[str], str]
    vendor_id_differs: bool
    """Whether the shape tells the id from the vendor's id (else they must be equal)."""
    take: Callable[[tuple[bytes, ...]], bytes | None]
    """The target's line (with its newline) for the values of ``common`` or ``lines``: the
    one step left per line of most files, so a closure (``_taker``)."""
    take_all: TakeAll
    """The target's lines for the values of many lines of ``lines`` (``findall`` over a
    block) and their ids (the id slot of each), the ids mapped in one call
    (``_bulk_taker``); None when an id needs a line's own way."""

    def convert(self, line: bytes) -> tuple[bytes, bytes] | None:
        """The target's line for ``line`` (valid UTF-8, no newline) and the line's id (as
        UTF-8), or None: not of this shape, or a value that needs the whole way."""
        matched = self.common.fullmatch(line)
        if matched is not None:
            values = matched.groups()
            out = self.take(values)
            return None if out is None else (out, values[self.id_slot])
        matched = self.pattern.fullmatch(line)
        return None if matched is None else self.splice(matched.groups())

    def splice(self, values: tuple[bytes, ...]) -> tuple[bytes, bytes] | None:
        """The target's line for any line's values and the id (UTF-8), or None: take the
        whole way."""
        raw = values[self.id_slot]
        cid = _loads(raw) if b"\\" in raw else raw.decode()
        if not cid or len(cid) > MAX_CUSTOM_ID_LENGTH:
            return None
        raw = orjson.dumps(cid)[1:-1]
        vid = self.vendor_id(cid)
        if vid != cid and not self.vendor_id_differs:
            return None
        texts = list(values)
        for slot in self.text_slots:
            text = _text(values[slot])
            if text is None:
                return None
            texts[slot] = text
        out = self.template % self.pick((raw, orjson.dumps(vid)[1:-1], *texts))
        return out, cid.encode("utf-8", "surrogatepass")


def _loads(inner: bytes) -> str:
    """A JSON string's text from its inner bytes ("": a bad escape, which the whole way
    names)."""
    try:
        value = orjson.loads(b'"' + inner + b'"')
    except orjson.JSONDecodeError:
        return ""
    return value if isinstance(value, str) else ""


def _text(inner: bytes) -> bytes | None:
    """A text slot as the target writes it (orjson escapes only quotes, backslashes and
    control characters), or None for an empty or whitespace-only text or a bad escape."""
    text = _loads(inner) if b"\\" in inner else inner.decode()
    if not text or text.isspace():
        return None
    return orjson.dumps(text)[1:-1] if b"\\" in inner else inner


def learn_shape(raw: bytes, request: Request, read: ReadLine, adapter: Any,
                encoded: bytes) -> Shape | None:
    """The shape of ``raw`` (a line that read as ``request`` and converted to ``encoded``),
    or None when its lines cannot be spliced."""
    if isinstance(request, (EmbedRequest, ModerationRequest)) and request.texts is not None:
        return None
    line = raw.rstrip(b"\r\n")
    known = _variables(request)
    strings: list[tuple[int, int, Path | None]] = []  # every JSON string: where, slot of what
    for token in _TOKEN.finditer(line):
        path = None if _KEY_AFTER.match(line, token.end()) else _slot(
            line, token.start(), token.end(), request, known, read)
        strings.append((token.start(), token.end(), path))
    paths = [path for _, _, path in strings if path is not None]
    if paths.count(("id",)) != 1 or len(set(paths)) != len(paths):
        return None
    return _encoded_shape(line, strings, request, adapter, encoded)


def _slot(line: bytes, start: int, end: int, request: Request, known: dict[Path, str],
          read: ReadLine) -> Path | None:
    """The request field the string value at ``line[start:end]`` is passed through to."""
    found: Path | None = None
    for sentinel in (_PLAIN_TEXT.format(start), _ODD_TEXT.format(start)):
        try:
            probe = read(orjson.loads(line[:start] + orjson.dumps(sentinel) + line[end:]))
        except Exception:  # a refused probe only means: a constant
            return None
        paths = [p for p in known if probe == _with(request, p, sentinel)]
        if len(paths) != 1 or (found is not None and paths[0] != found):
            return None
        found = paths[0]
    return found


def _encoded_shape(line: bytes, strings: list[tuple[int, int, Path | None]], request: Request,
                   adapter: Any, encoded: bytes) -> Shape | None:
    slots = [path for _, _, path in strings if path is not None]
    vendor_id = adapter.vendor_id
    cid = next((c.format(0) for c in _IDS if vendor_id(c.format(0)) != c.format(0)),
               _IDS[0].format(0))
    probe = request
    tokens: list[tuple[bytes, tuple[int, int]]] = []
    for slot, path in enumerate(slots):
        if path == ("id",):
            probe = _with(probe, path, cid)
            tokens.append((orjson.dumps(cid), (slot, _ID)))
            if vendor_id(cid) != cid:
                tokens.append((orjson.dumps(vendor_id(cid)), (slot, _VENDOR_ID)))
        else:
            text = _ODD_TEXT.format(f"s{slot}")
            probe = _with(probe, path, text)
            tokens.append((orjson.dumps(text), (slot, _TEXT)))
    try:
        adapter.check_request(probe)
        out = adapter.encode(probe, vendor_id(cid))
    except Exception:  # a shape the target will not encode is left to the whole way
        return None
    pieces, order = _cut(out, tokens)
    if not pieces or any(_MARK.encode() in piece for piece in pieces):
        return None
    pieces[-1] += b"\n"
    parts = _parts(line, strings)
    varied = [i for i in range(1, len(parts), 2) if strings[i // 2][2] is not None]
    id_slot = slots.index(("id",))

    def pattern(text: bytes, one_id: bytes) -> bytes:
        return b"".join(
            (b'"(' + (one_id if i == varied[id_slot] else text) + b')"') if i in varied
            else re.escape(b'"' + part + b'"' if i % 2 else part)
            for i, part in enumerate(parts))

    common = pattern(_COMMON_TEXT, _COMMON_ID)
    pick = _getter([(0 if what == _ID else 1) if what != _TEXT else 2 + slot
                    for slot, what in order])
    template = b"%b".join(piece.replace(b"%", b"%%") for piece in pieces)
    differs = vendor_id(cid) != cid
    same = [id_slot if what != _TEXT else slot for slot, what in order]
    shape = Shape(
        common=re.compile(common), lines=re.compile(b"(?m)^" + common + b"\r?$"),
        pattern=re.compile(pattern(_INNER, _INNER)), pick=pick, template=template,
        id_slot=id_slot, text_slots=tuple(i for i in range(len(slots)) if i != id_slot),
        vendor_id=vendor_id, vendor_id_differs=differs,
        take=_taker(template, pick, _getter(same), id_slot, vendor_id, differs),
        take_all=_bulk_taker(template, same, [
            (id_slot if what == _ID else len(slots)) if what != _TEXT else slot
            for slot, what in order], _ids_of(adapter), differs))
    matched = shape.pattern.fullmatch(line)
    spliced = None if matched is None else shape.splice(matched.groups())
    taken = shape.convert(line)
    if spliced is None or spliced[0] != encoded + b"\n" or (
            taken is not None and taken[0] != encoded + b"\n"):
        return None
    return shape


def _taker(template: bytes, pick: Picker, pick_same: Picker, id_slot: int,
           vendor_id: Callable[[str], str], differs: bool
           ) -> Callable[[tuple[bytes, ...]], bytes | None]:
    """``Shape.take``: the id's bytes go in as they are when the vendor takes the id as it is
    (the common id group has no escape and at most ``MAX_CUSTOM_ID_LENGTH`` bytes);
    ``pick_same`` takes the values of ``template`` from the slots alone, for that case."""
    dumps = orjson.dumps

    def take(values: tuple[bytes, ...]) -> bytes | None:
        raw = values[id_slot]
        cid = raw.decode()
        vid = vendor_id(cid)
        if vid == cid:
            return template % pick_same(values)
        if differs:
            return template % pick((raw, dumps(vid)[1:-1], *values))
        return None

    return take


def _bulk_taker(template: bytes, same: list[int], appended: list[int],
                vendor_ids: Callable[[list[bytes]], list[bytes]] | None, differs: bool
                ) -> TakeAll:
    """``Shape.take_all``: :func:`_taker` for a block's lines at once. The ids are mapped by
    one call (``vendor_ids``; None: the vendor takes every id as it is); when every id stays,
    ``same`` gives the slot of each of the template's values, else ``appended`` gives them
    with the vendor's ids as one more slot. The lines are formatted by ``map`` over the
    values, with no Python step per line."""
    in_order = same == list(range(len(same)))
    fill = template.__mod__

    def take_all(found: list[tuple[bytes, ...]], ids: list[bytes]) -> list[bytes] | None:
        if vendor_ids is not None:
            vids = vendor_ids(ids)
            if vids != ids:
                if not differs:
                    return None
                columns = [*zip(*found, strict=True), vids]
                return list(map(fill, zip(*[columns[i] for i in appended], strict=True)))
        if in_order:
            return list(map(fill, found))
        columns = list(zip(*found, strict=True))
        return list(map(fill, zip(*[columns[i] for i in same], strict=True)))

    return take_all


def _ids_of(adapter: Any) -> Callable[[list[bytes]], list[bytes]] | None:
    """The adapter's vendor ids of many UTF-8 ids at once: its own ``vendor_ids`` where it has
    one, else its ``vendor_id`` per id; None for a vendor that takes every id as it is."""
    bulk: Callable[[list[bytes]], list[bytes]] | None = getattr(adapter, "vendor_ids", None)
    if bulk is not None:
        return bulk
    if getattr(type(adapter), "vendor_id", None) is Adapter.vendor_id:
        return None
    vendor_id = adapter.vendor_id
    dumps = orjson.dumps

    def each(raw_ids: list[bytes]) -> list[bytes]:
        out = []
        for raw in raw_ids:
            cid = raw.decode()
            vid = vendor_id(cid)
            out.append(raw if vid == cid else dumps(vid)[1:-1])
        return out

    return each


def _getter(indices: list[int]) -> Picker:
    """``itemgetter`` that gives a tuple for one index too."""
    if len(indices) == 1:
        one = indices[0]
        return lambda values: (values[one],)
    return itemgetter(*indices)


def _parts(line: bytes, strings: list[tuple[int, int, Path | None]]) -> list[bytes]:
    """The line cut at its JSON strings: outside, string inside, outside, ..."""
    parts, last = [], 0
    for start, end, _ in strings:
        parts += [line[last:start], line[start + 1:end - 1]]
        last = end
    return [*parts, line[last:]]


def _cut(out: bytes, tokens: list[tuple[bytes, tuple[int, int]]]
         ) -> tuple[list[bytes], list[tuple[int, int]]]:
    """``out`` cut at each token: the bytes around the tokens' inner bytes (quotes included)
    and the slots in order (no pieces: a slot is not written whole, as the id or the vendor's
    id for the id, or tokens overlap)."""
    found = sorted((at.start(), at.end(), slot) for token, slot in tokens
                   for at in re.finditer(re.escape(token), out))
    if {slot[0] for _, _, slot in found} != {slot[0] for _, slot in tokens}:
        return [], []
    pieces, last, order = [], 0, []
    for start, end, slot in found:
        if start < last:
            return [], []
        pieces.append(out[last:start + 1])
        order.append(slot)
        last = end - 1
    return [*pieces, out[last:]], order


def _variables(request: Request) -> dict[Path, str]:
    """The request's id and texts, by where they sit."""
    found: dict[Path, str] = {("id",): request.custom_id}
    if isinstance(request, (EmbedRequest, ModerationRequest)) and request.text is not None:
        found[("embed",)] = request.text
    elif isinstance(request, ChatRequest):
        for i, message in enumerate(request.messages):
            if type(message.content) is str:
                found[("text", i)] = message.content
            elif isinstance(message.content, list):
                for j, part in enumerate(message.content):
                    if isinstance(part, TextPart):
                        found[("part", i, j)] = part.text
    return found


def _with(request: Request, path: Path, value: str) -> Request:
    """``request`` with the field at ``path`` set to ``value``."""
    if path[0] == "id":
        return request.model_copy(update={"custom_id": value})
    if path[0] == "embed":
        return request.model_copy(update={"text": value})
    assert isinstance(request, ChatRequest)
    messages = list(request.messages)
    message = messages[path[1]]
    if path[0] == "text":
        messages[path[1]] = message.model_copy(update={"content": value})
    else:
        parts = list(message.parts)
        parts[path[2]] = parts[path[2]].model_copy(update={"text": value})
        messages[path[1]] = message.model_copy(update={"content": parts})
    return request.model_copy(update={"messages": messages})
