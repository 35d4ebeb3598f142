"""What the OpenAI emulator's replies add for tools, reasoning and logprobs, as the vendor does.

Why apart from :mod:`.replies`: these are the rules and shapes of function calling and reasoning
on both endpoints, shared by every OpenAI-shaped emulator (Azure, Groq and Together mount the
same replies). A forced tool (``tool_choice`` ``required`` or a named function) is answered by a
call whose arguments fit the tool's JSON schema; a tool result must answer an earlier call, as
OpenAI's 400 says; reasoning models report reasoning tokens, and the open-weight ones that Groq
and Together serve return their thinking as text (``message.reasoning``); Responses reasoning
items carry a summary when one is asked for. Facts:
https://platform.openai.com/docs/guides/function-calling, /docs/guides/reasoning,
https://console.groq.com/docs/reasoning, https://docs.together.ai/docs/reasoning-models.
"""

from __future__ import annotations

import json
from typing import Any

from batchkit.testing._schema_fill import fill_schema
from batchkit.testing.emulators.openai.errors import ReplyError

__all__ = [
    "call_outputs",
    "chat_tool_calls",
    "check_chat_turns",
    "check_reasoning_model",
    "check_response_items",
    "forced_tool",
    "open_reasoning",
    "reasoning_tokens",
    "reasoning_words",
    "responses_tool_calls",
    "thinking_off",
    "token_logprobs",
]

REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")
"""OpenAI's reasoning models: hidden reasoning tokens, no thinking text on chat."""
OPEN_REASONING_MARKERS = ("gpt-oss", "qwen3", "deepseek-r1", "magistral")
"""Open-weight reasoning models (Groq, Together): they also answer with their thinking."""


def open_reasoning(model: str) -> bool:
    return any(marker in model.lower() for marker in OPEN_REASONING_MARKERS)


def _reasons(model: str) -> bool:
    return model.startswith(REASONING_PREFIXES) or open_reasoning(model)


def thinking_off(body: dict[str, Any]) -> bool:
    """``reasoning_effort: none`` (OpenAI, Groq), ``reasoning.effort: none`` (Responses) or
    ``reasoning.enabled: false`` (Together)."""
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and (reasoning.get("enabled") is False
                                        or reasoning.get("effort") == "none"):
        return True
    return body.get("reasoning_effort") == "none"


def reasoning_tokens(model: str, body: dict[str, Any], seed: str) -> int:
    if not _reasons(model) or thinking_off(body):
        return 0
    return 64 + int(seed[2:4], 16)


def reasoning_words(prompt: str, seed: str) -> str:
    words = prompt.split()
    return f"Thinking ({seed[:6]}): the question is about {' '.join(words[:6]) or 'nothing'}."


def check_reasoning_model(model: str, body: dict[str, Any]) -> None:
    """A reasoning setting on a model that cannot reason is a 400, as the vendors answer."""
    asked = body.get("reasoning_effort") is not None or body.get("reasoning") is not None
    if asked and not _reasons(model):
        raise ReplyError(400, f"Unsupported parameter: 'reasoning_effort' is not supported "
                         f"with this model ({model}).", param="reasoning_effort",
                         code="unsupported_parameter")


def forced_tool(body: dict[str, Any], responses: bool) -> dict[str, Any] | None:
    """The tool a ``tool_choice`` forces (its function object), or None (the model answers in
    text: ``auto`` and ``none`` leave the choice to a model that, here, always writes)."""
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    functions = [t if responses else t.get("function") or {} for t in tools]
    choice = body.get("tool_choice")
    if choice is None or choice in ("auto", "none"):
        return None
    if not functions:
        raise ReplyError(400, "Invalid value for 'tool_choice': 'tool_choice' is only allowed "
                         "when 'tools' are specified.", param="tool_choice")
    if choice == "required":
        return functions[0]
    name = (choice.get("name") if responses else (choice.get("function") or {}).get("name")
            ) if isinstance(choice, dict) else None
    for function in functions:
        if function.get("name") == name:
            return function
    raise ReplyError(400, f"Invalid value for 'tool_choice': no function named '{name}' was "
                     "specified in the 'tools' parameter.", param="tool_choice")


def _arguments(function: dict[str, Any], seed: str) -> str:
    schema = function.get("parameters") or {"type": "object", "properties": {}}
    return json.dumps(fill_schema(schema, seed=seed), ensure_ascii=False)


def chat_tool_calls(function: dict[str, Any], seed: str) -> list[dict[str, Any]]:
    return [{"id": f"call_{seed[:24]}", "type": "function",
             "function": {"name": function["name"], "arguments": _arguments(function, seed)}}]


def responses_tool_calls(function: dict[str, Any], seed: str) -> list[dict[str, Any]]:
    return [{"type": "function_call", "id": f"fc_{seed[:40]}", "call_id": f"call_{seed[:24]}",
             "name": function["name"], "arguments": _arguments(function, seed),
             "status": "completed"}]


def check_chat_turns(messages: list[Any]) -> None:
    """A ``tool`` message must answer a call of the assistant message before it."""
    open_calls: set[str] = set()
    for message in messages:
        if not isinstance(message, dict):
            continue
        if message.get("role") == "assistant":
            open_calls = {str(c.get("id")) for c in message.get("tool_calls") or []
                          if isinstance(c, dict)}
        elif message.get("role") == "tool":
            if message.get("tool_call_id") not in open_calls:
                raise ReplyError(400, "Invalid parameter: messages with role 'tool' must be a "
                                 "response to a preceeding message with 'tool_calls'.",
                                 param="messages")
        else:
            open_calls = set()


def check_response_items(items: Any) -> None:
    """A ``function_call_output`` item must answer a ``function_call`` item given before it."""
    calls: set[str] = set()
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "function_call":
            calls.add(str(item.get("call_id")))
        elif item.get("type") == "function_call_output" and item.get("call_id") not in calls:
            raise ReplyError(400, f"No tool call found for function call output with call_id "
                             f"{item.get('call_id')}.", param="input")


def call_outputs(items: Any) -> str:
    """The text of the ``function_call_output`` items (the prompt a model reads after a call)."""
    return " ".join(str(item.get("output")) for item in items if isinstance(item, dict)
                    and item.get("type") == "function_call_output") if isinstance(items, list) \
        else ""


def token_logprobs(text: str, top: int, seed: str) -> list[dict[str, Any]]:
    """Per word of ``text``: a log probability and ``top`` alternatives, deterministic."""
    out = []
    for i, word in enumerate(text.split(" ")[:64]):
        base = -((int(seed[(i % 30):(i % 30) + 2], 16) % 50) / 100)
        alternatives = [{"token": f"{word}{'~' * k}", "logprob": base - k,
                         "bytes": list(f"{word}{'~' * k}".encode())} for k in range(top)]
        out.append({"token": word, "logprob": base, "bytes": list(word.encode()),
                    "top_logprobs": alternatives})
    return out
