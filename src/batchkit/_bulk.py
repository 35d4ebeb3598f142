"""Many requests of one shape, built at the cost of their data: ``ChatRequest.batch``.

Why: validating a ``ChatRequest`` through pydantic costs about 20 µs, most of it spent on the
parts every request of a job shares (the system prompt, the response model, the generation
settings). A job of ten million rows would spend minutes of CPU re-checking the same settings.
Here the shared parts are validated once, by building one ordinary request (the template); each
row then gets only the checks of what varies (its id and its text, the same rules and the same
one-line errors as the validators in ``_requests``) and is cloned from the template without
running pydantic again. The result is a real ``ChatRequest``/``EmbedRequest``, equal to the one
the constructor would build, so the planner and every codec take it unchanged.

The rows come as :class:`BulkRows`, which also tells the planner the row it just yielded, so
the vendor's checks and encoder can be run once for the template instead of once per row
(``_bulk_splice``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import count
from typing import Any, TypeVar

from pydantic import BaseModel

from ._exceptions import InvalidRequestError
from ._requests import MAX_CUSTOM_ID_LENGTH, ChatRequest, EmbedRequest, Request
from ._validate import lone_surrogate

__all__ = ["BulkRows", "chat_batch", "cloned", "embed_batch"]

_PLACEHOLDER = "placeholder"
"""The text the template is validated with; every row replaces it."""

_Model = TypeVar("_Model", bound=BaseModel)
_Row = TypeVar("_Row", bound=ChatRequest | EmbedRequest)
_new = object.__new__
_set = object.__setattr__
# The slots every pydantic model sets on construction, written straight through their
# descriptors (``_built``): a clone is four slot writes and a dict, not a validation.
_set_fields = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_MISSING: Any = object()


class BulkRows(Iterator[_Row]):
    """The requests of one ``batch`` call, streamed; ``last``/``last_text`` are the row just
    yielded and its text, and ``make`` builds a row from the template (for probes)."""

    def __init__(self, template: _Row, make: Callable[[str, str], _Row],
                 rows: Callable[[BulkRows[_Row]], Iterator[_Row]]) -> None:
        self.template: _Row = template
        self.make: Callable[[str, str], _Row] = make
        self.last: _Row | None = None
        self.last_text = ""
        self._rows: Iterator[_Row] = rows(self)

    def __iter__(self) -> Iterator[_Row]:
        return self._rows

    def __next__(self) -> _Row:
        return next(self._rows)

    def splicer(self, adapter: Any) -> Callable[[Request], bytes | None] | None:
        """The planner's shortcut for these rows (see ``_bulk_splice.learn_splice``)."""
        from ._bulk_splice import learn_splice

        return learn_splice(self, adapter)


def chat_batch(texts: Iterable[str], *, custom_ids: Iterable[str] | None = None,
               system: str | None = None, **shared: Any) -> BulkRows[ChatRequest]:
    """One chat request per text (the user message, after ``system``), ids from ``custom_ids``
    (default ``"0"``, ``"1"``, ...); ``shared`` is every other ``ChatRequest`` field, the same
    for all. A bad shared field raises at once; a bad row raises when it is reached."""
    if "messages" in shared:
        raise InvalidRequestError("ChatRequest.batch: give the texts (and system=...), not "
                                  "messages; build conversations with ChatRequest(...)")
    messages: list[Any] = [] if system is None else [{"role": "system", "content": system}]
    template = _template(ChatRequest, {**shared, "messages": [
        *messages, {"role": "user", "content": _PLACEHOLDER}]})
    *before, user = template.messages
    where = f"messages.{len(before)}.content"
    message_type, request_type = type(user), type(template)
    user_values, values = user.__dict__, template.__dict__
    user_fields, fields = user.__pydantic_fields_set__, template.__pydantic_fields_set__

    def make(cid: str, text: str) -> ChatRequest:
        message = _built(message_type, {**user_values, "content": text}, user_fields)
        return _built(request_type, {**values, "custom_id": cid, "messages": [*before, message]},
                      fields)

    return BulkRows(template, make, _rows_of(texts, custom_ids, make, where,
                                             "message content must not be empty"))


def embed_batch(texts: Iterable[str], *, custom_ids: Iterable[str] | None = None,
                **shared: Any) -> BulkRows[EmbedRequest]:
    """One embedding request per text; as :func:`chat_batch`, without messages."""
    template = _template(EmbedRequest, {**shared, "text": _PLACEHOLDER})
    request_type, values = type(template), template.__dict__
    fields = template.__pydantic_fields_set__

    def make(cid: str, text: str) -> EmbedRequest:
        return _built(request_type, {**values, "custom_id": cid, "text": text}, fields)

    return BulkRows(template, make, _rows_of(texts, custom_ids, make, "text", "must not be empty",
                                             blank_too=True))


def _rows_of(texts: Iterable[str], custom_ids: Iterable[str] | None,
             make: Callable[[str, str], _Row], where: str, empty_rule: str,
             blank_too: bool = False) -> Callable[[BulkRows[_Row]], Iterator[_Row]]:
    """The row loop of both ``batch`` methods: each id and text passes one cheap test (ASCII,
    in bounds) or the full rules of its validator, then ``make`` clones the template."""

    def rows(out: BulkRows[_Row]) -> Iterator[_Row]:
        ids = _ids(custom_ids)
        for position, text in enumerate(texts):
            cid = next(ids, _MISSING)
            if type(cid) is not str or not cid.isascii() or not 0 < len(cid) <= \
                    MAX_CUSTOM_ID_LENGTH:
                cid = _checked_id(cid, position)
            if type(text) is not str or not text or not text.isascii() or (
                    blank_too and text.isspace()):
                _check_text(text, where, cid, empty_rule, blank_too)
            out.last = row = make(cid, text)
            out.last_text = text
            yield row
        _no_ids_left(ids, custom_ids)

    return rows


def _template(cls: type[_Model], fields: dict[str, Any]) -> _Model:
    """The shared fields validated once, as one ordinary request."""
    if "custom_id" in fields:
        raise InvalidRequestError(f"{cls.__name__}.batch: give ids as custom_ids=[...], one per "
                                  "text, not custom_id")
    try:
        return cls(custom_id="template", **fields)
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"{cls.__name__}.batch: {exc.rule}") from None


def _ids(custom_ids: Iterable[str] | None) -> Iterator[Any]:
    return iter(custom_ids) if custom_ids is not None else map(str, count())


def _no_ids_left(ids: Iterator[Any], custom_ids: Iterable[str] | None) -> None:
    if custom_ids is not None and next(ids, _MISSING) is not _MISSING:
        raise InvalidRequestError("custom_ids has more ids than there are texts")


def _checked_id(cid: Any, position: int) -> str:
    """The rules of ``_RequestBase._check_id``, without pydantic (ids and texts must pair up
    one to one)."""
    if cid is _MISSING:
        raise InvalidRequestError(f"custom_ids ran out at text {position + 1}: give one id "
                                  "per text")
    if not isinstance(cid, str):
        raise InvalidRequestError(f"request {position + 1}: custom_id: must be a string, "
                                  f"not {type(cid).__name__}")
    problem = ("must not be empty" if not cid else
               f"longer than {MAX_CUSTOM_ID_LENGTH} characters"
               if len(cid) > MAX_CUSTOM_ID_LENGTH else lone_surrogate(cid))
    if problem is not None:
        raise InvalidRequestError(f"request {position + 1}: custom_id: {problem}")
    return cid


def _check_text(text: Any, where: str, cid: str, empty_rule: str,
                blank_too: bool = False) -> None:
    """The rules of the text's validator, for a row the fast test did not pass."""
    if not isinstance(text, str):
        problem: str | None = f"must be a string, not {type(text).__name__}"
    elif not text or (blank_too and text.isspace()):
        problem = empty_rule
    else:
        problem = lone_surrogate(text)
    if problem is not None:
        raise InvalidRequestError(f"{where}: {problem}", custom_id=cid)


def cloned(template: _Model, changes: dict[str, Any]) -> _Model:
    """``template`` with ``changes``, already valid: what ``model_construct`` does, minus the
    walk over every field's default (the template's values are the defaults). The readers
    build their requests of a known shape with it too."""
    return _built(type(template), {**template.__dict__, **changes},
                  template.__pydantic_fields_set__)


def _built(cls: type[_Model], values: dict[str, Any], fields: set[str]) -> _Model:
    """A ``cls`` holding ``values`` (already valid) with ``fields`` set: the four slots every
    pydantic model sets on construction, written straight, and no validation."""
    made: _Model = _new(cls)
    _set(made, "__dict__", values)
    _set_fields(made, fields.copy())
    _set_extra(made, None)
    _set_private(made, None)
    return made
