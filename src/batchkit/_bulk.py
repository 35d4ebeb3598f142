"""Many requests of one shape, built at the cost of their data: ``ChatRequest.batch``.

Why: validating a ``ChatRequest`` through pydantic costs about 20 µs, most of it spent on the
parts every request of a job shares (the system prompt, the response model, the generation
settings). A job of ten million rows would spend minutes of CPU re-checking the same settings.
Here the shared parts are validated once, by building one ordinary request (the template); each
row then gets only the checks of what varies (its id and its text, the same rules and the same
one-line errors as the validators in ``_requests``) and is cloned from the template without
running pydantic again. The result is a real ``ChatRequest``/``EmbedRequest``, equal to the one
the constructor would build, so the planner and every codec take it unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import count
from typing import Any, TypeVar

from pydantic import BaseModel

from ._exceptions import InvalidRequestError
from ._requests import MAX_CUSTOM_ID_LENGTH, ChatRequest, EmbedRequest
from ._validate import lone_surrogate

__all__ = ["chat_batch", "embed_batch"]

_PLACEHOLDER = "placeholder"
"""The text the template is validated with; every row replaces it."""

_Model = TypeVar("_Model", bound=BaseModel)
_new = object.__new__
_set = object.__setattr__


def chat_batch(texts: Iterable[str], *, custom_ids: Iterable[str] | None = None,
               system: str | None = None, **shared: Any) -> Iterator[ChatRequest]:
    """One chat request per text (the user message, after ``system``), ids from ``custom_ids``
    (default ``"0"``, ``"1"``, ...); ``shared`` is every other ``ChatRequest`` field, the same
    for all. A bad shared field raises at once; a bad row raises when it is reached."""
    if "messages" in shared:
        raise InvalidRequestError("ChatRequest.batch: give the texts (and system=...), not "
                                  "messages; build conversations with ChatRequest(...)")
    messages: list[Any] = [] if system is None else [{"role": "system", "content": system}]
    template = _template(ChatRequest, {**shared, "messages": [
        *messages, {"role": "user", "content": _PLACEHOLDER}]})
    return _chat_rows(template, texts, custom_ids)


def embed_batch(texts: Iterable[str], *, custom_ids: Iterable[str] | None = None,
                **shared: Any) -> Iterator[EmbedRequest]:
    """One embedding request per text; as :func:`chat_batch`, without messages."""
    template = _template(EmbedRequest, {**shared, "text": _PLACEHOLDER})
    return _embed_rows(template, texts, custom_ids)


def _template(cls: type[_Model], fields: dict[str, Any]) -> _Model:
    """The shared fields validated once, as one ordinary request."""
    if "custom_id" in fields:
        raise InvalidRequestError(f"{cls.__name__}.batch: give ids as custom_ids=[...], one per "
                                  "text, not custom_id")
    try:
        return cls(custom_id="template", **fields)
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"{cls.__name__}.batch: {exc.rule}") from None


def _chat_rows(template: ChatRequest, texts: Iterable[str],
               custom_ids: Iterable[str] | None) -> Iterator[ChatRequest]:
    *before, user = template.messages
    where = f"messages.{len(before)}.content"
    for cid, text in _rows(texts, custom_ids):
        if not isinstance(text, str) or not text:
            raise InvalidRequestError(
                f"{where}: {_text_rule(text, 'message content must not be empty')}",
                custom_id=cid)
        _check_text(text, where, cid)
        message = _clone(user, {"content": text})
        yield _clone(template, {"custom_id": cid, "messages": [*before, message]})


def _embed_rows(template: EmbedRequest, texts: Iterable[str],
                custom_ids: Iterable[str] | None) -> Iterator[EmbedRequest]:
    for cid, text in _rows(texts, custom_ids):
        if not isinstance(text, str) or not text.strip():
            raise InvalidRequestError(f"text: {_text_rule(text, 'must not be empty')}",
                                      custom_id=cid)
        _check_text(text, "text", cid)
        yield _clone(template, {"custom_id": cid, "text": text})


def _rows(texts: Iterable[str],
          custom_ids: Iterable[str] | None) -> Iterator[tuple[str, Any]]:
    """(checked custom_id, text) per row; ids and texts must pair up one to one."""
    ids: Iterator[Any] = iter(custom_ids) if custom_ids is not None else map(str, count())
    missing = object()
    for position, text in enumerate(texts):
        cid = next(ids, missing)
        if cid is missing:
            raise InvalidRequestError(f"custom_ids ran out at text {position + 1}: give one id "
                                      "per text")
        yield _checked_id(cid, position), text
    if custom_ids is not None and next(ids, missing) is not missing:
        raise InvalidRequestError("custom_ids has more ids than there are texts")


def _checked_id(cid: Any, position: int) -> str:
    """The rules of ``_RequestBase._check_id``, without pydantic."""
    if not isinstance(cid, str):
        raise InvalidRequestError(f"request {position + 1}: custom_id: must be a string, "
                                  f"not {type(cid).__name__}")
    problem = ("must not be empty" if not cid else
               f"longer than {MAX_CUSTOM_ID_LENGTH} characters"
               if len(cid) > MAX_CUSTOM_ID_LENGTH else lone_surrogate(cid))
    if problem is not None:
        raise InvalidRequestError(f"request {position + 1}: custom_id: {problem}")
    return cid


def _text_rule(text: Any, empty_rule: str) -> str:
    return empty_rule if isinstance(text, str) else f"must be a string, not {type(text).__name__}"


def _check_text(text: str, where: str, cid: str) -> None:
    problem = lone_surrogate(text)
    if problem is not None:
        raise InvalidRequestError(f"{where}: {problem}", custom_id=cid)


def _clone(template: _Model, changes: dict[str, Any]) -> _Model:
    """``template`` with ``changes``, already valid: what ``model_construct`` does, minus the
    walk over every field's default (the template's values are the defaults)."""
    clone: _Model = _new(type(template))
    values = template.__dict__.copy()
    values.update(changes)
    _set(clone, "__dict__", values)
    _set(clone, "__pydantic_fields_set__", set(template.__pydantic_fields_set__))
    _set(clone, "__pydantic_extra__", None)
    _set(clone, "__pydantic_private__", None)
    return clone
