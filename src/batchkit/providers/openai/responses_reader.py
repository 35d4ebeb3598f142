"""A ``/v1/responses`` batch body read as neutral chat fields (the inverse of the body
``codec`` writes for ``endpoint=responses``). Shapes: the OpenAI OpenAPI spec's
``CreateResponse`` (https://platform.openai.com/docs/api-reference/responses/create).

``instructions`` is the system message; ``input`` is a string (one user turn) or a list of
items: messages (``input_text`` / ``input_image`` / ``input_file`` parts), ``function_call``
items (joined to the assistant turn before them) and ``function_call_output`` items (tool
results). ``text.format`` is the response format, flat ``function`` tools are tools.
"""

from __future__ import annotations

from typing import Any

import orjson

from .._reader_kit import EFFORTS, fail

__all__ = ["responses_fields"]

_SAME_NAME = ("temperature", "top_p", "parallel_tool_calls", "top_logprobs")


def responses_fields(body: dict[str, Any], line_no: int, cid: str | None) -> dict[str, Any]:
    """Take the fields batchkit has names for out of ``body``; what is left stays raw."""
    messages: list[dict[str, Any]] = []
    instructions = body.pop("instructions", None)
    if instructions is not None:
        messages.append({"role": "system", "content": instructions})
    messages.extend(_messages(body.pop("input", None), line_no, cid))
    data: dict[str, Any] = {"messages": messages}
    if "max_output_tokens" in body:
        data["max_tokens"] = body.pop("max_output_tokens")
    for name in _SAME_NAME:
        if name in body:
            data[name] = body.pop(name)
    if isinstance(body.get("tools"), list) and all(
            isinstance(t, dict) and t.get("type") == "function" for t in body["tools"]):
        data["tools"] = [{k: v for k, v in t.items() if k != "type"} for t in body.pop("tools")]
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "function":
        data["tool_choice"] = choice.get("name")
        del body["tool_choice"]
    elif isinstance(choice, str):
        data["tool_choice"] = body.pop("tool_choice")
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort") in EFFORTS and \
            set(reasoning) <= {"effort", "summary"} and reasoning.get("summary", "auto") == "auto":
        data["reasoning"] = {"effort": EFFORTS[body.pop("reasoning")["effort"]]}
    if body.get("include") == ["message.output_text.logprobs"]:
        del body["include"]
        data["logprobs"] = True
    data.update(_text_format(body))
    return data


def _text_format(body: dict[str, Any]) -> dict[str, Any]:
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, dict) and set(text) == {"format"} else None
    if not isinstance(fmt, dict) or fmt.get("type") not in ("json_schema", "json_object"):
        return {}
    del body["text"]
    if fmt["type"] == "json_object":
        return {"json_mode": True}
    schema = dict(fmt.get("schema") or {})
    if fmt.get("name"):
        schema["title"] = fmt["name"]
    return {"response_schema": schema}


def _messages(items: Any, line_no: int, cid: str | None) -> list[dict[str, Any]]:
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    if not isinstance(items, list):
        fail("'input' must be a string or a list of input items", line_no, cid)
    messages: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            fail(f"input.{i} must be an object", line_no, cid)
        kind = item.get("type", "message")
        if kind == "function_call_output":
            output = item.get("output")
            messages.append({"role": "tool", "tool_call_id": item.get("call_id"),
                             "content": output if isinstance(output, str)
                             else orjson.dumps(output).decode()})
        elif kind == "function_call":
            call = {"id": item.get("call_id"), "name": item.get("name"),
                    "arguments": _arguments(item.get("arguments"), line_no, cid)}
            last = messages[-1] if messages else None
            if last is None or last["role"] != "assistant":
                last = {"role": "assistant", "content": None}
                messages.append(last)
            last.setdefault("tool_calls", []).append(call)
        elif kind == "message":
            content = item.get("content")
            messages.append({"role": item.get("role"), "content": content if not isinstance(
                content, list) else [_part(p, line_no, cid) for p in content]})
        else:
            fail(f"input.{i}: item type {kind!r} is not read (messages, function_call and "
                 "function_call_output are)", line_no, cid)
    return messages


def _arguments(raw: Any, line_no: int, cid: str | None) -> Any:
    try:
        return orjson.loads(raw) if isinstance(raw, str) else raw
    except orjson.JSONDecodeError:
        fail("a function_call's arguments are not JSON", line_no, cid)


def _part(part: Any, line_no: int, cid: str | None) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": part.get("text")}
    if kind == "input_image":
        return {"type": "image", "url": part.get("image_url"), "detail": part.get("detail")}
    if kind == "input_file":
        data = part.get("file_data")
        if isinstance(data, str) and data.startswith("data:") and ";base64," in data:
            media_type, _, data = data.removeprefix("data:").partition(";base64,")
            return {"type": "document", "data": data, "media_type": media_type,
                    "title": part.get("filename")}
        return {"type": "document", "file_id": part.get("file_id"),
                "url": part.get("file_url")}
    fail(f"content part type {kind!r} is not read (input_text, input_image, input_file are)",
         line_no, cid)
