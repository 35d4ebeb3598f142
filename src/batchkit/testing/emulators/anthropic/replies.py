"""How the Anthropic emulator answers one request: a ``Message`` the SDK's own type parses.

Why apart from the batch: the reply is a pure function of the request (usage counted from it,
``max_tokens`` applied as the vendor does, JSON satisfying a requested schema, a ``tool_use``
block fitting a forced tool's schema, a ``thinking`` block when thinking is enabled), and a test
may swap the whole :data:`Responder` for its own without touching the batch timeline. Bedrock's
Claude models answer with the same blocks (:func:`answer_blocks`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from batchkit.testing._schema_fill import fill_schema
from batchkit.testing._text import collect_text, digest, estimate_tokens

Responder = Callable[[str, dict[str, Any], str], dict[str, Any]]
"""``responder(url, params, custom_id) -> Message`` for one request; the same call shape as the
OpenAI emulator's responder, with ``url`` always ``/v1/messages``."""


@dataclass(frozen=True)
class Answer:
    """The content blocks of a reply, its stop reason and its output token counts."""

    blocks: list[dict[str, Any]]
    stop_reason: str
    output_tokens: int
    thinking_tokens: int = 0


def forced_tool(params: dict[str, Any]) -> dict[str, Any] | None:
    """The tool a ``tool_choice`` of type ``any`` (the first tool) or ``tool`` (by name)
    forces, or None: then the model answers in text."""
    tools = [t for t in params.get("tools") or [] if isinstance(t, dict) and "input_schema" in t]
    choice = params.get("tool_choice") or {}
    if not tools or not isinstance(choice, dict):
        return None
    if choice.get("type") == "any":
        return tools[0]
    if choice.get("type") == "tool":
        return next((t for t in tools if t.get("name") == choice.get("name")), None)
    return None


def answer_blocks(params: dict[str, Any], text: str, seed: str) -> Answer:
    """What Claude answers to ``params``: a thinking block first when thinking is enabled,
    then a ``tool_use`` block fitting a forced tool's schema, or else ``text`` (cut at
    ``max_tokens`` as the vendor does, with ``stop_reason: max_tokens``)."""
    blocks: list[dict[str, Any]] = []
    thinking = params.get("thinking") or {}
    thought_tokens = 0
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        words = collect_text(params.get("messages")).split()
        thought = f"Considering ({seed[:8]}): " + " ".join(words[:24])
        budget = int(thinking.get("budget_tokens") or 0)
        thought_tokens = min(estimate_tokens(thought), max(budget, 1))
        blocks.append({"type": "thinking", "thinking": thought,
                       "signature": "sig_" + digest("signature", seed)[:40]})
    tool = forced_tool(params)
    if tool is not None:
        answer = fill_schema(tool.get("input_schema") or {}, seed=seed)
        blocks.append({"type": "tool_use", "id": "toolu_" + seed[:24], "name": tool["name"],
                       "input": answer})
        return Answer(blocks, "tool_use", estimate_tokens(json.dumps(answer)) + thought_tokens,
                      thought_tokens)
    cap = params.get("max_tokens")
    stop_reason = "end_turn"
    room = cap - thought_tokens if isinstance(cap, int) else None
    if room is not None and estimate_tokens(text) > room:
        text, stop_reason = text[: max(room, 0) * 4], "max_tokens"
    blocks.append({"type": "text", "text": text})
    return Answer(blocks, stop_reason, estimate_tokens(text) + thought_tokens, thought_tokens)


def prompt_tokens(params: dict[str, Any]) -> int:
    """Input tokens: the system prompt, the messages and 4 per message of framing."""
    prompt = " ".join(filter(None, [collect_text(params.get("system")),
                                     collect_text(params.get("messages"))]))
    return estimate_tokens(prompt) + 4 * len(params.get("messages") or [])


def cached_prefix(params: dict[str, Any]) -> tuple[str, int] | None:
    """``(key, tokens)`` of the prompt prefix a request's cache breakpoints mark, or None.

    The API caches in the order tools, system, messages, up to and including the last block
    carrying ``cache_control``; the key tells one prefix from another, the tokens are its text's.
    """
    items: list[Any] = list(params.get("tools") or [])
    system = params.get("system")
    items += system if isinstance(system, list) else [system] if system else []
    for message in params.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        items += content if isinstance(content, list) else [content]
    marked = [i for i, item in enumerate(items) if isinstance(item, dict)
              and item.get("cache_control")]
    if not marked:
        return None
    prefix = items[: marked[-1] + 1]
    return json.dumps(prefix, sort_keys=True), estimate_tokens(collect_text(prefix))


def message_reply(params: dict[str, Any], text: str, custom_id: str) -> dict[str, Any]:
    """A ``Message`` answering ``params`` (``text`` unless a tool is forced), with usage
    counted from the request and the reply."""
    seed = digest("message", custom_id, json.dumps(params, sort_keys=True))
    answer = answer_blocks(params, text, seed)
    usage: dict[str, Any] = {
        "input_tokens": prompt_tokens(params),
        "output_tokens": answer.output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "service_tier": "batch",
    }
    if answer.thinking_tokens:
        usage["output_tokens_details"] = {"thinking_tokens": answer.thinking_tokens}
    return {
        "id": "msg_" + seed[:24],
        "type": "message",
        "role": "assistant",
        "model": str(params.get("model")),
        "content": answer.blocks,
        "stop_reason": answer.stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }


def default_responder(url: str, params: dict[str, Any], custom_id: str) -> dict[str, Any]:
    """Stock replies: JSON satisfying ``output_config.format.schema`` when one is asked for,
    else a short text derived from the prompt (a forced tool's call replaces either). A pure
    function of the request."""
    seed = digest("reply", custom_id, json.dumps(params, sort_keys=True))
    fmt = (params.get("output_config") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        text = json.dumps(fill_schema(fmt.get("schema") or {}, seed=seed), ensure_ascii=False)
    else:
        words = collect_text(params.get("messages")).split()
        gist = " ".join(words[:12]) + (" ..." if len(words) > 12 else "")
        text = f"Emulated answer ({seed[:8]}) to: {gist}"
    return message_reply(params, text, custom_id)
