"""Reading Anthropic Message Batches INPUT lines (``{"custom_id", "params"}``, one per line as
in the ``requests`` array of a batch create call) as neutral chat requests: the inverse of
:mod:`.codec`'s ``encode_request``.

``params`` is a Messages API request (https://docs.anthropic.com/en/api/creating-message-batches,
https://docs.anthropic.com/en/api/messages and the ``anthropic`` SDK's ``MessageCreateParams``):
``system`` (a string or text blocks) becomes system messages, content blocks become parts
(``cache_control`` a cache breakpoint), ``tool_use`` blocks tool calls and ``tool_result`` blocks
tool messages; ``tools``/``tool_choice``, ``thinking``, ``stop_sequences`` and
``output_config.format`` become their neutral fields. Other fields stay in ``params``.
"""

from __future__ import annotations

import base64
from typing import Any

from ..._requests import ChatRequest, Request
from .._reader_kit import build, fail, string_id

__all__ = ["line_model", "looks_like", "request_from_line"]

_CHOICES = {"auto": "auto", "any": "required", "none": "none"}


def looks_like(obj: dict[str, Any]) -> bool:
    """A Message Batches request: ``custom_id`` and ``params``, and not a neutral line (whose
    own ``params`` sits beside its ``messages`` or ``text``)."""
    return ("custom_id" in obj and "params" in obj
            and "messages" not in obj and "text" not in obj)


def line_model(obj: dict[str, Any]) -> str | None:
    params = obj.get("params")
    model = params.get("model") if isinstance(params, dict) else None
    return model if isinstance(model, str) else None


def request_from_line(obj: dict[str, Any], line_no: int, model: str | None) -> Request:
    del model  # the line names its own
    cid = string_id(obj.get("custom_id"))
    params = obj.get("params")
    if not isinstance(params, dict):
        fail("'params' must be a JSON object (a Messages API request)", line_no, cid)
    extra = set(obj) - {"custom_id", "params"}
    if extra:
        fail(f"unknown line field(s) {', '.join(sorted(extra))} (a batch request holds "
             "custom_id and params)", line_no, cid)
    body = {k: v for k, v in params.items() if k != "model"}
    messages = _system(body.pop("system", None), line_no, cid)
    raw = body.pop("messages", None)
    if not isinstance(raw, list):
        fail("'params.messages' must be a list of messages", line_no, cid)
    for i, message in enumerate(raw):
        messages.extend(_message(message, i, line_no, cid))
    data: dict[str, Any] = {"custom_id": cid, "messages": messages,
                            "max_tokens": body.pop("max_tokens", None)}
    if "stop_sequences" in body:
        data["stop"] = body.pop("stop_sequences")
    if isinstance(body.get("tools"), list) and all(_plain_tool(t) for t in body["tools"]):
        data["tools"] = [{"name": t.get("name"), "description": t.get("description"),
                          "parameters": t.get("input_schema"), "strict": t.get("strict")}
                         for t in body.pop("tools")]
    data.update(_tool_choice(body))
    data.update(_thinking(body))
    data.update(_output_format(body))
    data["params"] = body
    return build(ChatRequest, data, line_no)


def _plain_tool(tool: Any) -> bool:
    """A custom tool (a name and an input schema); server tools stay raw in ``params``."""
    return isinstance(tool, dict) and set(tool) <= {"name", "description", "input_schema",
                                                    "strict"}


def _tool_choice(body: dict[str, Any]) -> dict[str, Any]:
    choice = body.get("tool_choice")
    if not isinstance(choice, dict) or not set(choice) <= {"type", "name",
                                                           "disable_parallel_tool_use"}:
        return {}
    kind = choice.get("type")
    if kind not in (*_CHOICES, "tool"):
        return {}
    del body["tool_choice"]
    data: dict[str, Any] = {"tool_choice": choice.get("name") if kind == "tool"
                            else _CHOICES[kind]}
    if choice.get("disable_parallel_tool_use") is not None:
        data["parallel_tool_calls"] = not choice["disable_parallel_tool_use"]
    return data


def _thinking(body: dict[str, Any]) -> dict[str, Any]:
    thinking = body.get("thinking")
    if not isinstance(thinking, dict):
        return {}
    if thinking == {"type": "disabled"}:
        del body["thinking"]
        return {"reasoning": {"effort": "off"}}
    if thinking.get("type") == "enabled" and set(thinking) == {"type", "budget_tokens"}:
        del body["thinking"]
        return {"reasoning": {"budget_tokens": thinking["budget_tokens"]}}
    return {}


def _output_format(body: dict[str, Any]) -> dict[str, Any]:
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) and set(config) == {"format"} \
        else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(
            fmt.get("schema"), dict):
        del body["output_config"]
        return {"response_schema": fmt["schema"]}
    return {}


def _system(system: Any, line_no: int, cid: str | None) -> list[dict[str, Any]]:
    if system is None:
        return []
    if isinstance(system, str):
        return [{"role": "system", "content": system}]
    if not isinstance(system, list) or not all(
            isinstance(b, dict) and b.get("type") == "text" for b in system):
        fail("'params.system' must be a string or a list of text blocks", line_no, cid)
    return [{"role": "system", "content": b.get("text"), "cache": "cache_control" in b}
            for b in system]


def _message(message: Any, i: int, line_no: int, cid: str | None) -> list[dict[str, Any]]:
    """One Messages entry as neutral messages: a user turn of ``tool_result`` blocks is one tool
    message per block (then a user message for any other blocks)."""
    if not isinstance(message, dict):
        fail(f"messages.{i} must be an object", line_no, cid)
    role, content = message.get("role"), message.get("content")
    if not isinstance(content, list):
        return [{"role": role, "content": content}]
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "tool_result":
            out.append(_tool_result(block, i, line_no, cid))
        elif kind == "tool_use":
            calls.append({"id": block.get("id"), "name": block.get("name"),
                          "arguments": block.get("input") or {}})
        else:
            parts.append(_part(block, i, line_no, cid))
    if parts or calls:
        entry: dict[str, Any] = {"role": role, "content": parts or None}
        if calls:
            entry["tool_calls"] = calls
            if "cache_control" in content[-1]:  # the breakpoint after the whole turn
                entry["cache"] = True
        out.append(entry)
    return out


def _tool_result(block: dict[str, Any], i: int, line_no: int, cid: str | None) -> dict[str, Any]:
    if block.get("is_error"):
        fail(f"messages.{i}: a tool_result with is_error has no neutral form (say the error "
             "in its content)", line_no, cid)
    content = block.get("content")
    return {"role": "tool", "tool_call_id": block.get("tool_use_id"),
            "content": [_part(p, i, line_no, cid) for p in content]
            if isinstance(content, list) else content, "cache": "cache_control" in block}


def _part(block: Any, i: int, line_no: int, cid: str | None) -> dict[str, Any]:
    kind = block.get("type") if isinstance(block, dict) else None
    cache = isinstance(block, dict) and "cache_control" in block
    source = block.get("source") if isinstance(block, dict) else None
    source = source if isinstance(source, dict) else {}
    if kind == "text":
        return {"type": "text", "text": block.get("text"), "cache": cache}
    if kind == "image":
        if source.get("type") == "url":
            return {"type": "image", "url": source.get("url"), "cache": cache}
        return {"type": "image", "data": source.get("data"),
                "media_type": source.get("media_type"), "cache": cache}
    if kind == "document":
        part: dict[str, Any] = {"type": "document", "title": block.get("title"), "cache": cache}
        where = source.get("type")
        if where == "url":
            part["url"] = source.get("url")
        elif where == "file":
            part["file_id"] = source.get("file_id")
        elif where == "text":
            part["media_type"] = "text/plain"
            part["data"] = base64.b64encode(str(source.get("data")).encode()).decode()
        else:
            part.update(data=source.get("data"), media_type=source.get("media_type"))
        return part
    fail(f"messages.{i}: content block type {kind!r} is not read (text, image, document, "
         "tool_use and tool_result are)", line_no, cid)
