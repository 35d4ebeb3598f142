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

from .._exceptions import InvalidRequestError
from .._requests import Request

__all__ = ["build", "fail", "function_tool", "function_tool_choice", "string_id", "take"]


def string_id(value: Any) -> str | None:
    """An id field as text (None when absent or not a string: the request's own check says
    why)."""
    return value if isinstance(value, str) else None


def fail(rule: str, line_no: int, custom_id: str | None = None) -> NoReturn:
    """Raise the one-line error of a bad input line."""
    raise InvalidRequestError(rule, custom_id=custom_id, line=line_no)


def build(cls: type[Request], data: dict[str, Any], line_no: int) -> Request:
    """``cls(**data)``, with the request's own one-line error given the line number."""
    try:
        return cls(**data)
    except InvalidRequestError as exc:
        raise InvalidRequestError(exc.rule, custom_id=exc.custom_id, line=line_no) from None


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
