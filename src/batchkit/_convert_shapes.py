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
  ``custom_id`` or as the text of one message (or text part, or embedding): the reader passes
  it through unchanged (two sentinels, one with spaces, quotes, a backslash and non-ASCII, make
  a reader that trims or rewrites text show). Every other value is a constant of the shape.
* The request with every slot set to a sentinel is checked and encoded by the target; each
  sentinel must show up as a whole JSON string (an encoder that wraps a text into a larger
  string leaves no shape), and the line itself must come out of the shape byte for byte.
* The shape's pattern is the raw line with each slot a JSON-string group: a line matches only
  if its constant bytes are the same.

A line of a shape is converted without reading or encoding when its values keep to the rules
any reader or target applies to a value: an id non-empty and at most ``MAX_CUSTOM_ID_LENGTH``
long, a text that is not empty or only whitespace, no escape a JSON parser refuses. Any other
line (or one matching no shape) takes the whole way, which also gives its error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ._requests import MAX_CUSTOM_ID_LENGTH, ChatRequest, EmbedRequest, Request, TextPart

__all__ = ["Shape", "learn_shape"]

_STRING = rb'"[^"\\\x00-\x1f]*(?:\\.[^"\\\x00-\x1f]*)*"'
_TOKEN = re.compile(_STRING)
_KEY_AFTER = re.compile(rb"\s*:")
_MARK = "Qz7xKv"
"""In every sentinel: a constant part of a shape holding it means a slot was not found."""
_PLAIN_TEXT = _MARK + "{}t"
_ODD_TEXT = ' \t"' + _MARK + '{}\\u \u00e9\u2028 '
_IDS = (_MARK + "{}i", _MARK + "-{}i", _MARK + " {}i")
_ID, _VENDOR_ID, _TEXT = 0, 1, 2

Path = tuple[Any, ...]
ReadLine = Callable[[dict[str, Any]], Request | None]
"""A parsed line -> its one request (None: not one request, or refused)."""


@dataclass(frozen=True)
class Shape:
    """A layout of line: its pattern, what each group is, and the target's bytes around."""

    pattern: re.Pattern[bytes]
    slots: tuple[tuple[int, int], ...]
    """Per ``%b`` of ``template``: (group, what: _ID, _VENDOR_ID or _TEXT)."""
    template: bytes
    id_group: int
    vendor_id: Callable[[str], str]
    vendor_id_differs: bool
    """Whether the shape tells the id from the vendor's id (else they must be equal)."""

    def splice(self, groups: tuple[bytes, ...]) -> bytes | None:
        """The target's line for a matching line's values, or None: take the whole way."""
        raw = groups[self.id_group]
        if b"\\" in raw:
            cid = _loads(raw)
            raw = orjson.dumps(cid)
        else:
            cid = raw[1:-1].decode()
        if not cid or len(cid) > MAX_CUSTOM_ID_LENGTH:
            return None
        vid = self.vendor_id(cid)
        if vid == cid:
            vendor_raw = raw
        elif self.vendor_id_differs:
            vendor_raw = orjson.dumps(vid)
        else:
            return None
        values = []
        for group, what in self.slots:
            if what == _TEXT:
                text = groups[group]
                # The common text: no escape, an ASCII letter or mark first (so neither empty
                # nor whitespace only), already written as orjson writes it.
                if b"\\" in text or not 0x20 < text[1] < 0x7F or len(text) < 3:
                    text = _text(text)  # type: ignore[assignment]
                    if text is None:
                        return None
                values.append(text)
            else:
                values.append(raw if what == _ID else vendor_raw)
        return self.template % tuple(values)


def _loads(raw: bytes) -> str:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return ""  # a bad escape: the whole way names it
    return value if isinstance(value, str) else ""


def _text(raw: bytes) -> bytes | None:
    """A text group as the target writes it (orjson escapes only quotes, backslashes and
    control characters, which an unescaped group cannot hold), or None for an empty or
    whitespace-only text or a bad escape."""
    if b"\\" in raw:
        text = _loads(raw)
        return orjson.dumps(text) if text and not text.isspace() else None
    if len(raw) < 3:
        return None
    first = raw[1]
    if 0x20 < first < 0x7F:
        return raw
    text = raw[1:-1].decode()
    return None if text.isspace() else raw


def learn_shape(raw: bytes, request: Request, read: ReadLine, adapter: Any,
                encoded: bytes) -> Shape | None:
    """The shape of ``raw`` (a line that read as ``request`` and converted to ``encoded``),
    or None when its lines cannot be spliced."""
    line = raw.rstrip(b"\r\n")
    known = _variables(request)
    slots: list[tuple[int, int, Path]] = []  # (start, end, path) of each slot in the line
    for token in _TOKEN.finditer(line):
        if _KEY_AFTER.match(line, token.end()):
            continue
        path = _slot(line, token.start(), token.end(), request, known, read)
        if path is not None:
            slots.append((token.start(), token.end(), path))
    ids = [s for s in slots if s[2] == ("id",)]
    if len(ids) != 1 or len({s[2] for s in slots}) != len(slots):
        return None
    return _encoded_shape(line, slots, request, adapter, encoded)


def _slot(line: bytes, start: int, end: int, request: Request, known: dict[Path, str],
          read: ReadLine) -> Path | None:
    """The request field the string value at ``line[start:end]`` is passed through to."""
    found: Path | None = None
    for sentinel in (_PLAIN_TEXT.format(start), _ODD_TEXT.format(start)):
        try:
            probe = read(orjson.loads(line[:start] + orjson.dumps(sentinel) + line[end:]))
        except Exception:  # a refused probe only means: a constant
            return None
        if probe is None:
            return None
        paths = [p for p in known if probe == _with(request, p, sentinel)]
        if len(paths) != 1 or (found is not None and paths[0] != found):
            return None
        found = paths[0]
    return found


def _encoded_shape(line: bytes, slots: list[tuple[int, int, Path]], request: Request,
                   adapter: Any, encoded: bytes) -> Shape | None:
    by_path = {path: group for group, (_, _, path) in enumerate(slots)}
    vendor_id = adapter.vendor_id
    cid = next((c.format(0) for c in _IDS if vendor_id(c.format(0)) != c.format(0)),
               _IDS[0].format(0))
    probe = request
    tokens: list[tuple[bytes, tuple[int, int]]] = []
    for path, group in by_path.items():
        if path == ("id",):
            probe = _with(probe, path, cid)
            tokens.append((orjson.dumps(cid), (group, _ID)))
            if vendor_id(cid) != cid:
                tokens.append((orjson.dumps(vendor_id(cid)), (group, _VENDOR_ID)))
        else:
            text = _ODD_TEXT.format(f"s{group}")
            probe = _with(probe, path, text)
            tokens.append((orjson.dumps(text), (group, _TEXT)))
    try:
        adapter.check_request(probe)
        out = adapter.encode(probe, vendor_id(cid))
    except Exception:  # a shape the target will not encode is left to the whole way
        return None
    template, order = _cut(out, tokens)
    if template is None or _MARK.encode() in template.replace(b"%%", b"%"):
        return None
    pattern = re.compile(b"".join(
        b"(" + _STRING + b")" if i % 2 else re.escape(part)
        for i, part in enumerate(_split(line, slots))))
    shape = Shape(pattern, tuple(order), template,
                  by_path[("id",)],
                  vendor_id, vendor_id(cid) != cid)
    matched = pattern.fullmatch(line)
    if matched is None or shape.splice(matched.groups()) != encoded:
        return None
    return shape


def _cut(out: bytes, tokens: list[tuple[bytes, tuple[int, int]]]
         ) -> tuple[bytes | None, list[tuple[int, int]]]:
    """``out`` as a ``%b`` template with a slot for each token, and the slots in order; every
    group must be written (as the id or the vendor's id, for the id)."""
    found = sorted((at.start(), at.end(), slot) for token, slot in tokens
                   for at in re.finditer(re.escape(token), out))
    if {slot[0] for _, _, slot in found} != {slot[0] for _, slot in tokens}:
        return None, []
    pieces, last, order = [], 0, []
    for start, end, slot in found:
        if start < last:
            return None, []
        pieces.append(out[last:start].replace(b"%", b"%%"))
        order.append(slot)
        last = end
    pieces.append(out[last:].replace(b"%", b"%%"))
    return b"%b".join(pieces), order


def _split(line: bytes, slots: list[tuple[int, int, Path]]) -> list[bytes]:
    """constant, slot, constant, ... of ``line``."""
    parts, last = [], 0
    for start, end, _ in slots:
        parts += [line[last:start], line[start:end]]
        last = end
    return [*parts, line[last:]]


def _variables(request: Request) -> dict[Path, str]:
    """The request's id and texts, by where they sit."""
    found: dict[Path, str] = {("id",): request.custom_id}
    if isinstance(request, EmbedRequest):
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
