"""The request-level features of a Claude body: tools and tool choice, extended thinking, and
the checks the Messages API would otherwise fail a paid line for. Shared by Anthropic's Message
Batches and Bedrock's Claude models (the same body). No I/O.

Facts: the ``anthropic`` SDK's ``ToolParam``, ``ToolChoice*Param``, ``ThinkingConfig*Param``
types; https://docs.anthropic.com/en/docs/build-with-claude/tool-use and
https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, NoReturn

import orjson

from ..._exceptions import MissingDependencyError
from ..._requests import ChatRequest

__all__ = [
    "MIN_THINKING_BUDGET",
    "THINKING_BUDGETS",
    "check_features",
    "encode_thinking",
    "encode_tools",
    "strict_schema",
]

MIN_THINKING_BUDGET = 1024
"""The smallest ``thinking.budget_tokens`` the API accepts."""

THINKING_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}
"""``reasoning=<effort>`` as a thinking budget: ``minimal`` is the API's floor, each step up
roughly triples or quadruples it, and ``high`` stays inside every Claude model's output limit
once the answer's own ``max_tokens`` is added. ``reasoning=<int>`` sends that budget as is."""

Fail = Callable[[str], NoReturn]


def _forces_a_tool(request: ChatRequest) -> bool:
    return request.tool_choice not in (None, "auto", "none")


def check_features(request: ChatRequest, fail: Fail) -> None:
    """Refuse feature combinations the API rejects: thinking with a forced tool, a budget under
    the floor or not below ``max_tokens``."""
    reasoning = request.reasoning
    if reasoning is None or reasoning.off:
        return
    if _forces_a_tool(request):
        fail(f"Claude cannot think while tool_choice={request.tool_choice!r} forces a tool; "
             "use tool_choice='auto' or drop reasoning")
    budget = thinking_budget(request)
    if budget < MIN_THINKING_BUDGET:
        fail(f"Claude's thinking budget must be at least {MIN_THINKING_BUDGET} tokens, "
             f"not {budget}")
    if request.max_tokens is not None and request.max_tokens <= budget:
        fail(f"max_tokens ({request.max_tokens}) must exceed the thinking budget ({budget}); "
             "raise max_tokens or leave it unset")


def thinking_budget(request: ChatRequest) -> int:
    """The budget a request's reasoning asks for (its tokens, else its effort's budget)."""
    reasoning = request.reasoning
    if reasoning is None or reasoning.off:
        return 0
    if reasoning.budget_tokens is not None:
        return reasoning.budget_tokens
    return THINKING_BUDGETS[str(reasoning.effort)]


def encode_thinking(request: ChatRequest, max_tokens: int) -> tuple[dict[str, Any] | None, int]:
    """``(thinking, max_tokens)``: thinking enabled with its budget, or disabled for ``off``.
    Without a ``max_tokens`` of its own, the request gets the budget plus the default answer
    length, since the budget counts against ``max_tokens``."""
    reasoning = request.reasoning
    if reasoning is None:
        return None, max_tokens
    if reasoning.off:
        return {"type": "disabled"}, max_tokens
    budget = thinking_budget(request)
    if request.max_tokens is None:
        max_tokens += budget
    return {"type": "enabled", "budget_tokens": budget}, max_tokens


def encode_tools(request: ChatRequest, *, strict: bool) -> dict[str, Any]:
    """``tools`` and ``tool_choice``. ``required`` is ``any``, a tool's name is ``tool``, and
    ``parallel_tool_calls=False`` is the choice's ``disable_parallel_tool_use``. ``strict``
    (Anthropic's API, not Bedrock) sends a strict tool's flag with its schema made acceptable
    to strict mode by the SDK's ``transform_schema``."""
    body: dict[str, Any] = {}
    if request.tools:
        body["tools"] = [_tool(tool.name, tool.description, tool.parameters,
                               bool(strict and tool.strict)) for tool in request.tools]
    choice = request.tool_choice
    spelt: dict[str, Any] | None
    if choice is None:
        spelt = None
    elif choice in ("auto", "none"):
        spelt = {"type": choice}
    elif choice == "required":
        spelt = {"type": "any"}
    else:
        spelt = {"type": "tool", "name": choice}
    if request.parallel_tool_calls is False and request.tools and choice != "none":
        spelt = {**(spelt or {"type": "auto"}), "disable_parallel_tool_use": True}
    if spelt is not None:
        body["tool_choice"] = spelt
    return body


def _tool(name: str, description: str | None, parameters: dict[str, Any],
          strict: bool) -> dict[str, Any]:
    tool: dict[str, Any] = {"name": name, "input_schema": parameters}
    if description:
        tool["description"] = description
    if strict:
        tool["input_schema"] = strict_schema(parameters)
        tool["strict"] = True
    return tool


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` as strict mode and structured outputs accept it (closed objects, supported
    keywords; the rest moved into descriptions), by the SDK's own ``transform_schema``. Cached
    by content, since every request of a job usually repeats the same schema (read-only)."""
    return _transformed(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))


@cache
def _transformed(schema_json: bytes) -> dict[str, Any]:
    try:
        from anthropic import transform_schema
    except ImportError:
        raise MissingDependencyError(
            'strict schemas for anthropic need its SDK: pip install "batchkit[anthropic]"'
        ) from None
    return transform_schema(orjson.loads(schema_json))
