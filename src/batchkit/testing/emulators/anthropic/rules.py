"""The Messages API's rules that its schema cannot say, checked as the vendor checks them.

A body can fit ``MessageCreateParamsNonStreaming`` and still be refused with a 400: a
``tool_result`` that answers no ``tool_use`` of the turn before, a ``tool_use`` left unanswered,
a tool choice naming no tool, thinking while a tool is forced, a thinking budget under 1024 or
not below ``max_tokens``, more than four cache breakpoints. The messages follow the API's own
wording (https://docs.anthropic.com/en/docs/build-with-claude/tool-use,
https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking,
https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching).
"""

from __future__ import annotations

from typing import Any

__all__ = ["rule_problem"]

_MAX_BREAKPOINTS = 4
_MIN_BUDGET = 1024


def rule_problem(params: dict[str, Any]) -> str | None:
    """Why the API refuses ``params`` (already schema-valid), or None."""
    return (_tool_problem(params) or _conversation_problem(params.get("messages") or [])
            or _thinking_problem(params) or _cache_problem(params))


def _blocks(message: Any) -> list[dict[str, Any]]:
    content = message.get("content") if isinstance(message, dict) else None
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _tool_problem(params: dict[str, Any]) -> str | None:
    names = [t.get("name") for t in params.get("tools") or [] if isinstance(t, dict)]
    if len(set(names)) != len(names):
        return "tools: Tool names must be unique."
    choice = params.get("tool_choice") or {}
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind in ("any", "tool") and not names:
        return "tool_choice: tool_choice may only be specified while providing tools."
    if kind == "tool" and choice.get("name") not in names:
        return f"tool_choice: Tool '{choice.get('name')}' not found in provided tools"
    return None


def _conversation_problem(messages: list[Any]) -> str | None:
    """Every ``tool_result`` answers a ``tool_use`` of the message just before it, and every
    ``tool_use`` before the last message is answered in the next one."""
    for index, message in enumerate(messages):
        results = [b for b in _blocks(message) if b.get("type") == "tool_result"]
        before = _blocks(messages[index - 1]) if index else []
        uses = {b.get("id") for b in before if b.get("type") == "tool_use"}
        for block in results:
            if block.get("tool_use_id") not in uses:
                return (f"messages.{index}: unexpected `tool_use_id` found in `tool_result` "
                        f"blocks: {block.get('tool_use_id')}. Each `tool_result` block must "
                        "have a corresponding `tool_use` block in the previous message.")
        answered = {b.get("tool_use_id") for b in results}
        missing = sorted(str(u) for u in uses - answered)
        if uses and missing:
            return (f"messages.{index - 1}: `tool_use` ids were found without `tool_result` "
                    f"blocks immediately after: {', '.join(missing)}. Each `tool_use` block "
                    "must have a corresponding `tool_result` block in the next message.")
    return None


def _thinking_problem(params: dict[str, Any]) -> str | None:
    thinking = params.get("thinking") or {}
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return None
    choice = params.get("tool_choice") or {}
    if isinstance(choice, dict) and choice.get("type") in ("any", "tool"):
        return "Thinking may not be enabled when tool_choice forces tool use."
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < _MIN_BUDGET:
        return f"thinking.enabled.budget_tokens: Input should be greater than or equal to " \
               f"{_MIN_BUDGET}"
    max_tokens = params.get("max_tokens")
    if isinstance(max_tokens, int) and max_tokens <= budget:
        return "`max_tokens` must be greater than `thinking.budget_tokens`."
    return None


def _cache_problem(params: dict[str, Any]) -> str | None:
    found = 0
    system = params.get("system")
    for group in (params.get("tools") or [], system if isinstance(system, list) else []):
        found += sum(1 for b in group if isinstance(b, dict) and b.get("cache_control"))
    for message in params.get("messages") or []:
        found += sum(1 for b in _blocks(message) if b.get("cache_control"))
    if found > _MAX_BREAKPOINTS:
        return (f"A maximum of {_MAX_BREAKPOINTS} blocks with cache_control may be provided. "
                f"Found {found}.")
    return None
