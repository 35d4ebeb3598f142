"""What every native-format reader (``providers/<vendor>/reader.py``) shares.

A reader module turns one line of a vendor's batch INPUT file into a neutral request. Its
contract, looked up by ``_registry.input_formats``:

* ``looks_like(obj) -> bool`` — whether a parsed line is in this format (used on the first line
  to detect a file's format; formats are told apart by their top-level keys, so the tests hold
  that no two readers claim the same sample line);
* ``request_from_line(obj, line_no, model) -> Request`` — the neutral request, or an
  :class:`InvalidRequestError` naming the line, the id and the rule broken. ``model`` is the
  model the caller named for the file (``format="vendor:model"``), for formats whose lines do
  not say it; most readers ignore it;
* optionally ``line_model(obj) -> str | None`` — the model a line names, so the reader of a
  file can hold every line of one kind to the model of the first (a file is one job).

Fields a reader has no neutral name for are kept in ``params`` scoped to the vendor
(``params={"<vendor>": {...}}``): the same vendor's encoder merges them back unchanged, and
every other vendor's leaves them out (``_capabilities.vendor_params``) — a conversion refuses
them instead, since silently dropping a field changes the job (``_convert``).
"""

from __future__ import annotations

from typing import Any, NoReturn

import orjson

from .._bulk import cloned
from .._exceptions import InvalidRequestError
from .._requests import MAX_CUSTOM_ID_LENGTH, ChatRequest, Request
from .._validate import lone_surrogate

__all__ = ["EFFORTS", "build", "chat_fields", "fail", "function_tool", "function_tool_choice",
           "id_and_body", "string_id", "take", "text_or_texts", "titled_schema"]


def string_id(value: Any) -> str | None:
    """An id field as text (None when absent or not a string: the request's own check says
    why)."""
    return value if isinstance(value, str) else None


def fail(rule: str, line_no: int, custom_id: str | None = None) -> NoReturn:
    """Raise the one-line error of a bad input line."""
    raise InvalidRequestError(rule, custom_id=custom_id, line=line_no)


def id_and_body(obj: dict[str, Any], line_no: int) -> tuple[str | None, dict[str, Any]]:
    """The id and body of a ``{"custom_id", "body"}`` line (Mistral's, Together's and
    Cohere's chat batches), refusing any other field or a body that is not an object."""
    cid = string_id(obj.get("custom_id"))
    body = obj.get("body")
    if not isinstance(body, dict):
        fail("'body' must be a JSON object", line_no, cid)
    if set(obj) != {"custom_id", "body"}:
        fail(f"unknown line field(s) {', '.join(sorted(set(obj) - {'custom_id', 'body'}))} (a "
             "batch line holds custom_id and body)", line_no, cid)
    return cid, body


def build(cls: type[Request], data: dict[str, Any], line_no: int) -> Request:
    """``cls(**data)``, with the request's own one-line error given the line number.

    A text-only chat line whose other fields repeat an earlier line's (most lines of a real
    file: one system prompt, one max_tokens) is cloned from that line's request with its own
    id and texts checked here, without running pydantic again (see ``_bulk``): validating
    every line in full was a third of a conversion's time.
    """
    if cls is ChatRequest:
        fast = _from_template(data)
        if fast is not None:
            return fast
    try:
        return cls(**data)
    except InvalidRequestError as exc:
        raise InvalidRequestError(exc.rule, custom_id=exc.custom_id, line=line_no) from None


_TEMPLATES: dict[tuple[tuple[str, ...], bytes], ChatRequest] = {}
_TEMPLATE_LIMIT = 256
_ROLE_AND_TEXT = 2


def _from_template(data: dict[str, Any]) -> ChatRequest | None:
    """The request of a text-only chat line, cloned from the first line of the same shape
    (roles and every field but the id and the texts), or None: build it in full, which also
    gives the error of a bad line."""
    cid, messages = data.get("custom_id"), data.get("messages")
    if type(cid) is not str or not cid or len(cid) > MAX_CUSTOM_ID_LENGTH or type(
            messages) is not list or not messages:
        return None
    roles, texts = [], []
    for message in messages:
        if type(message) is not dict or len(message) != _ROLE_AND_TEXT:
            return None
        role, text = message.get("role"), message.get("content")
        if type(role) is not str or type(text) is not str or not text:
            return None
        roles.append(role)
        texts.append(text)
    rest = {k: v for k, v in data.items() if k != "custom_id" and k != "messages"}
    try:
        key = (tuple(roles), orjson.dumps(rest))
    except TypeError:
        return None
    if lone_surrogate(cid) is not None or any(lone_surrogate(t) is not None for t in texts):
        return None
    template = _TEMPLATES.get(key)
    if template is None:
        try:
            template = ChatRequest(custom_id=cid, messages=messages, **rest)
        except InvalidRequestError:
            return None
        if len(_TEMPLATES) >= _TEMPLATE_LIMIT:
            _TEMPLATES.clear()
        _TEMPLATES[key] = template
        return template
    return cloned(template, {"custom_id": cid, "messages": [
        cloned(m, {"content": t}) for m, t in zip(template.messages, texts, strict=True)]})


def text_or_texts(value: Any, line_no: int, custom_id: str | None, what: str) -> dict[str, Any]:
    """An ``input`` of one string or a list of strings as the request's ``text`` or ``texts``.

    A list stays a list, even of one text, so the line is written back as it was read; a list
    holding anything but strings (token ids, image parts) is refused with ``what`` saying why.
    Any other value is left to the request's own check.
    """
    if not isinstance(value, list):
        return {"text": value}
    if not all(isinstance(one, str) for one in value):
        fail(f"'input' must be a string or a list of strings ({what})", line_no, custom_id)
    return {"texts": value}


def take(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], line_no: int,
         custom_id: str | None, what: str) -> Any:
    """``obj.pop(key)`` checked to be ``kind`` (absent: None)."""
    value = obj.pop(key, None)
    if value is not None and not isinstance(value, kind):
        fail(f"{key!r} must be {what}", line_no, custom_id)
    return value


def function_tool(tool: Any) -> Any:
    """A ``{"type": "function", "function": {...}}`` tool (the chat-completions shape most
    vendors copied) as a neutral tool dict; any other shape is left for
    :class:`~batchkit._tools.Tool` to accept or refuse."""
    if isinstance(tool, dict) and tool.get("type") == "function" and isinstance(
            tool.get("function"), dict):
        function = tool["function"]
        out = {"name": function.get("name"), "description": function.get("description")}
        if function.get("parameters") is not None:
            out["parameters"] = function["parameters"]
        if function.get("strict") is not None:
            out["strict"] = function["strict"]
        return out
    return tool


def function_tool_choice(choice: Any) -> Any:
    """``{"type": "function", "function": {"name": ...}}`` as the tool's name."""
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return choice["function"].get("name")
    return choice


EFFORTS = {"none": "off", "minimal": "minimal", "low": "low", "medium": "medium",
           "high": "high"}
"""``reasoning_effort`` values of the chat-completions family (OpenAI, Mistral) as neutral
efforts."""


def chat_fields(body: dict[str, Any], same_name: tuple[str, ...],
                formats: tuple[str, ...]) -> dict[str, Any]:
    """Take the fields of a chat-completions body (the shape OpenAI made and Mistral copied)
    that batchkit has names for out of ``body``; what is left stays raw.

    ``same_name`` are the fields spelt as the neutral ones (a single ``stop`` string becomes a
    list); function tools and tool choices become neutral ones; ``reasoning_effort`` becomes
    ``reasoning`` (``none`` is ``off``); a ``response_format`` whose type is one of
    ``formats`` becomes ``response_schema`` (titled by its name) or ``json_mode`` (``text``,
    where listed, is the default: nothing).
    """
    data: dict[str, Any] = {}
    for name in same_name:
        if name in body:
            data[name] = body.pop(name)
    if isinstance(data.get("stop"), str):
        data["stop"] = [data["stop"]]
    if isinstance(body.get("tools"), list):
        data["tools"] = [function_tool(t) for t in body.pop("tools")]
    if "tool_choice" in body:
        data["tool_choice"] = function_tool_choice(body.pop("tool_choice"))
    if body.get("reasoning_effort") in EFFORTS:
        data["reasoning"] = {"effort": EFFORTS[body.pop("reasoning_effort")]}
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in formats:
        del body["response_format"]
        if fmt["type"] == "json_object":
            data["json_mode"] = True
        elif fmt["type"] == "json_schema":
            data["response_schema"] = titled_schema(fmt.get("json_schema") or {})
    return data


def titled_schema(spec: dict[str, Any]) -> dict[str, Any]:
    """``{"name", "schema", "strict"}`` as one raw JSON schema titled by its name."""
    schema = dict(spec.get("schema") or {})
    if spec.get("name"):
        schema["title"] = spec["name"]
    return schema
