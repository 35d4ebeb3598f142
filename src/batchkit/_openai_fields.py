"""OpenAI chat-body fields read as neutral request fields, for the request readers.

Most users' batch files are OpenAI-shaped, and the ones worth moving to another vendor use tools,
reasoning, structured output and several choices. Reading those fields into their neutral names
(rather than keeping them raw in ``params``) is what lets ``batchkit convert FILE --to
anthropic:...`` translate a tool-calling file instead of refusing it. Messages need nothing here:
:class:`~batchkit._requests.Message` reads OpenAI's ``tool_calls``, ``tool`` turns, ``name``,
``image_url`` and ``file`` parts itself. Shapes: the OpenAI OpenAPI spec's
``CreateChatCompletionRequest``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["neutral_chat_fields", "neutral_tool", "neutral_tool_choice"]

_SAME_NAME = ("max_tokens", "temperature", "top_p", "stop", "seed", "n", "logprobs",
              "top_logprobs", "parallel_tool_calls")
_EFFORTS = {"none": "off", "minimal": "minimal", "low": "low", "medium": "medium",
            "high": "high"}


def neutral_tool(tool: Any) -> Any:
    """An OpenAI ``{"type": "function", "function": {...}}`` tool as a neutral tool dict; any
    other shape is left for :class:`~batchkit._tools.Tool` to accept or refuse."""
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


def neutral_tool_choice(choice: Any) -> Any:
    """OpenAI's ``{"type": "function", "function": {"name": ...}}`` as the tool's name."""
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return choice["function"].get("name")
    return choice


def neutral_chat_fields(body: dict[str, Any], has_response_model: bool) -> dict[str, Any]:
    """Take the fields batchkit has names for out of ``body`` (what is left stays raw).

    ``max_completion_tokens`` is ``max_tokens``; a single ``stop`` string becomes a list;
    ``reasoning_effort`` becomes ``reasoning`` (``none`` is ``off``); ``response_format`` becomes
    ``response_schema`` (titled by its name) or ``json_mode``, and is dropped when the caller
    gives a ``response_model``, which replaces it.
    """
    data: dict[str, Any] = {}
    if "max_completion_tokens" in body and "max_tokens" not in body:
        body["max_tokens"] = body.pop("max_completion_tokens")
    for name in _SAME_NAME:
        if name in body:
            data[name] = body.pop(name)
    if isinstance(data.get("stop"), str):
        data["stop"] = [data["stop"]]
    if isinstance(body.get("tools"), list):
        data["tools"] = [neutral_tool(t) for t in body.pop("tools")]
    if "tool_choice" in body:
        data["tool_choice"] = neutral_tool_choice(body.pop("tool_choice"))
    if body.get("reasoning_effort") in _EFFORTS:
        data["reasoning"] = {"effort": _EFFORTS[body.pop("reasoning_effort")]}
    fmt = body.get("response_format")
    if has_response_model and fmt is not None:
        del body["response_format"]
    elif isinstance(fmt, dict) and fmt.get("type") in ("json_schema", "json_object", "text"):
        del body["response_format"]
        if fmt["type"] == "json_object":
            data["json_mode"] = True
        elif fmt["type"] == "json_schema":
            spec = fmt.get("json_schema") or {}
            schema = dict(spec.get("schema") or {})
            if spec.get("name"):
                schema["title"] = spec["name"]
            data["response_schema"] = schema
    return data
