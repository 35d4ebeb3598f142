"""The vendor's line for a row of ``ChatRequest.batch``/``EmbedRequest.batch``, spliced into
bytes its encoder wrote once for the template, instead of checking and encoding every row.

Why: the rows of one ``batch`` call differ only in their id and one text; the planner's vendor
checks and the encoder cost about 3.5 µs a row, the same work each time. As ``convert`` does
for the lines of a known shape (``_convert_shapes``), the template is checked and encoded once
with sentinels in place of the id and the text; each sentinel must show up as a whole JSON
string, and the line of other probes (another id, a plain text, a long one) must come out of the
splice byte for byte, or the rows take the whole way.

A row is spliced when its values keep to the rules every vendor applies to an id's or a text's
value: an ASCII id, non-empty and at most ``MAX_CUSTOM_ID_LENGTH`` long (vendors with stricter
ids rewrite them in ``vendor_id``, which runs per row), a text that is neither empty nor
whitespace only, without lone surrogates (``_bulk`` checks the rest). Any other row is checked
and encoded as it is, which also gives its error. A vendor rule on a text's content beyond
these (a length limit, say) must be added to :func:`_takes` here and in ``_convert_shapes``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import orjson

from ._requests import Request
from ._validate import model_rules

if TYPE_CHECKING:
    from ._bulk import BulkRows

__all__ = ["learn_splice"]

_MARK = "Wj4qXb"
"""In every sentinel: a piece of the line holding it means a value was not found whole."""
_TEXTS = (' \t"' + _MARK + 'a\\u \u00e9\u2028\x01 \U0001f600 ',
          _MARK + "b",
          _MARK + "c " + "long text. " * 400)
"""Probe texts: escapes, non-ASCII, edge spaces; a plain one; a long one (length-bound)."""
_ID_FORMS = ("{}-{}i", "{} {}i", "{}{}i", "{}/{}i.{}")
"""Probe ids: forms a vendor's id rule may rewrite (a space, a slash) and ones it keeps."""
_ID, _VENDOR_ID, _TEXT = 0, 1, 2


def learn_splice(rows: BulkRows[Any], adapter: Any) -> Callable[[Request], bytes | None] | None:
    """A function giving the line of the row ``rows`` just yielded under its vendor id (None:
    not that row, or a row that takes the whole way), or None when the lines of this template
    cannot be spliced."""
    vendor_id: Callable[[str], str] = adapter.vendor_id
    check_request, rules = adapter.request_checker(), model_rules(adapter)

    def check(request: Request) -> None:  # what the planner checks each request against
        check_request(request)
        if rules is not None:
            rules.check(request)
    ids = [form.format(_MARK, k, k) for k in range(3) for form in _ID_FORMS]
    differs = any(vendor_id(cid) != cid for cid in ids)
    probe_ids = [cid for cid in ids if (vendor_id(cid) != cid) == differs][:len(_TEXTS)]
    if len(probe_ids) < len(_TEXTS):
        return None
    first = _probe(rows, adapter, check, probe_ids[0], _TEXTS[0])
    if first is None:
        return None
    cid, text = probe_ids[0], _TEXTS[0]
    tokens = [(orjson.dumps(cid), _ID), (orjson.dumps(text), _TEXT)]
    if differs:
        tokens.append((orjson.dumps(vendor_id(cid)), _VENDOR_ID))
    cut = _cut(first, tokens)
    if cut is None:
        return None
    template, order = cut

    pick, dumps = itemgetter(*order), orjson.dumps  # at least the id and the text

    def line(cid: str, vid: str, text: str) -> bytes:
        spliced: bytes = template % pick((dumps(cid), dumps(vid) if differs else b"",
                                          dumps(text)))
        return spliced

    for cid, text in zip(probe_ids[1:], _TEXTS[1:], strict=True):
        if _probe(rows, adapter, check, cid, text) != line(cid, vendor_id(cid), text):
            return None
    return _splicer(rows, vendor_id, differs, line)


def _splicer(rows: BulkRows[Any], vendor_id: Callable[[str], str], differs: bool,
             line: Callable[[str, str, str], bytes]) -> Callable[[Request], bytes | None]:
    def spliced(request: Request) -> bytes | None:
        if request is not rows.last:
            return None
        cid, text = request.custom_id, rows.last_text
        if not _takes(cid, text):
            return None
        vid = vendor_id(cid)
        if vid != cid and not differs:  # the probes could not tell the id from the vendor's
            return None
        return line(cid, vid, text)

    return spliced


def _takes(cid: str, text: str) -> bool:
    """Whether a row's values keep to the rules every vendor applies to them (see above)."""
    return cid.isascii() and not text.isspace()


def _probe(rows: BulkRows[Any], adapter: Any, check: Callable[[Request], None], cid: str,
           text: str) -> bytes | None:
    """The template's line with ``cid`` and ``text``, or None if checking or encoding it
    fails (the rows then take the whole way, where a real row gives the error)."""
    probe = rows.make(cid, text)
    try:
        check(probe)
        line: bytes = adapter.encode(probe, adapter.vendor_id(cid))
    except Exception:  # a template the vendor will not take is left to the whole way
        return None
    return line


def _cut(line: bytes, tokens: list[tuple[bytes, int]]) -> tuple[bytes, list[int]] | None:
    """``line`` as a ``%b`` template with a hole for every whole occurrence of each token
    (quotes included), and what goes in each hole in order; None when the text or both ids
    are missing, tokens overlap or a sentinel is left in the rest (a vendor may write only one
    of the id and its vendor id: the probes that follow show whether the other mattered)."""
    found = sorted((at.start(), at.end(), what) for token, what in tokens
                   for at in re.finditer(re.escape(token), line))
    holes = {what for _, _, what in found}
    if _TEXT not in holes or not holes & {_ID, _VENDOR_ID}:
        return None
    pieces, order, last = [], [], 0
    for start, end, what in found:
        if start < last:
            return None
        pieces.append(line[last:start])
        order.append(what)
        last = end
    pieces.append(line[last:])
    if any(_MARK.encode() in piece for piece in pieces):
        return None
    return b"%b".join(piece.replace(b"%", b"%%") for piece in pieces), order
