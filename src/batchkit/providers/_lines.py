"""Reading one vendor result line, shared by the pure codecs: the whole line (``load_line``), or
only its id (``line_id``, what ``Adapter.row_id`` reads to index a file before decoding it)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import orjson

__all__ = ["line_id", "load_line", "matched_text"]


def load_line(
    line: bytes | str, what: str, id_field: str = "custom_id"
) -> tuple[dict[str, Any], str]:
    """The line as a dict, and its request id.

    Raises ``ValueError`` for a line no vendor could have sent (not JSON, not an object, no
    string id), which the normalizer turns into a ``malformed_line`` result.
    """
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not a JSON line: {exc}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get(id_field), str):
        raise ValueError(f"not a {what} line (no string {id_field!r})")
    return obj, obj[id_field]


_SPACE = rb"[ \t\r\n]*"
_PLAIN_STRING = rb'"([^"\\\x00-\x1f]*)"'
"""A JSON string without escapes: its bytes are its text."""
_TAIL = 512
"""Bytes at a line's end searched for a closing id (Bedrock's ids are 64 characters at most)."""


@cache
def _patterns(key: str, other_kind: str | None
              ) -> tuple[bytes, bytes | None, re.Pattern[bytes], re.Pattern[bytes]]:
    name = orjson.dumps(key)
    member = re.escape(name) + _SPACE + rb":" + _SPACE + _PLAIN_STRING
    return (name, None if other_kind is None else orjson.dumps(other_kind),
            re.compile(rb"\{" + _SPACE + member),
            re.compile(rb"[{,]" + _SPACE + member + _SPACE + rb"\}" + _SPACE + rb"\Z"))


def line_id(line: bytes, key: str, other_kind: str | None = None) -> str | None:
    """The string a line's top-level ``key`` holds, read without parsing the line, or None
    when that cannot be done exactly (then the line is decoded to learn its id).

    Read only where the key is certainly top-level and the one the decoder reads: the line
    names ``key`` once, as its first member (``{"key": "...",``) or its last (``, "key":
    "..."}`` at the line's end: in a JSON object that member can only be the outer object's),
    and its value has no escape and is UTF-8. ``other_kind`` is a key whose presence makes
    the line one the decoder files under something else (a Cohere embed record beside a
    batch record); a line naming it is left to the decoder.

    A line that is broken elsewhere is given to the id it names: decoding it then gives that
    request a ``malformed_line`` result holding the line, as for the OpenAI family's ids.
    """
    name, other, first, last = _patterns(key, other_kind)
    if line.count(name) != 1 or (other is not None and other in line):
        return None
    return matched_text(first.match(line) or last.search(line, max(0, len(line) - _TAIL)))


def matched_text(found: re.Match[bytes] | None) -> str | None:
    """The text of an id pattern's first group (a JSON string without escapes), or None when
    the pattern did not match or the bytes are not UTF-8 (the line is then decoded instead)."""
    if found is None:
        return None
    try:
        return found.group(1).decode()
    except UnicodeDecodeError:
        return None
