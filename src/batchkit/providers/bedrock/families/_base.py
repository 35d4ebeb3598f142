"""What every Bedrock model family is: a codec between the neutral request and the model's own
InvokeModel body, and from the model's reply to a Result. No I/O.

Why a family at a time: a batch record's ``modelInput`` is the InvokeModel body *of the model's
own family* (Bedrock checks it only when the record runs), and each family spells a request and
an answer its own way. A family declares what it can express (``capabilities``, refused before
anything is sent) and the body fields it knows (``body_fields``, for ``params``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from ...._requests import ChatRequest, Request
from ...._results import Result
from ..._capabilities import NO_MODERATION, ONE_TEXT_PER_LINE, Capabilities, Support, complete, no

__all__ = ["BodyError", "Fail", "Family", "prompt_only", "put", "text_messages"]

Fail = Callable[[str], NoReturn]


class BodyError(ValueError):
    """A ``modelInput`` body the family cannot read back into a neutral request (the rule)."""


@dataclass(frozen=True)
class Family:
    """One model family: how its InvokeModel body looks, what it accepts and how it answers."""

    name: str
    """The ``model_family`` option's value for this family."""
    kind: str
    """The request kind it serves: ``chat`` or ``embed``."""
    label: str
    body_fields: frozenset[str]
    capabilities: Capabilities
    encode: Callable[[Request, Mapping[str, Any]], dict[str, Any]]
    """neutral request, adapter options -> ``modelInput``"""
    to_request: Callable[[dict[str, Any], str], Request]
    """``modelInput``, custom_id -> neutral request (raises :class:`BodyError`)"""
    decode: Callable[[str, dict[str, Any], dict[str, Any]], Result]
    """record id, ``modelOutput``, the whole row -> Result"""
    answers: Callable[[dict[str, Any]], bool]
    """True when a ``modelOutput`` has this family's shape."""
    check: Callable[[Request, Fail], None]
    """Raise through ``fail`` for what the model would reject or lose."""

    def __repr__(self) -> str:
        return f"<bedrock family {self.name}>"


def put(body: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` only when there is a value: an absent field is the model's default."""
    if value is not None:
        body[key] = value


def prompt_only(label: str, embed_texts: Support | None = None) -> Capabilities:
    """The table of a family whose body is one prompt string (or one text to embed): every
    feature refused, but several texts in one line where the family's body takes a list
    (``embed_texts``)."""
    way = (f"{label} on Bedrock takes one prompt string; use a Claude or Nova model for this")
    table = {feature: no(way) for feature in (
        "tools", "tool_choice", "tool_choice_required", "tool_choice_named",
        "parallel_tool_calls", "tool_results", "message_name", "images", "documents",
        "document_file_id", "cache_breakpoints", "reasoning", "reasoning_off", "n",
        "logprobs", "response_schema", "json_mode")}
    table["embed_texts"] = embed_texts or no(ONE_TEXT_PER_LINE)
    table["moderation"] = no(NO_MODERATION)
    return complete(table, "bedrock")


def text_messages(request: ChatRequest, fail: Fail) -> list[tuple[str, str]]:
    """``(role, text)`` of each message, for a prompt template; a structured answer cannot be
    forced through a prompt, so a response_model is refused here too."""
    if request.response_model is not None or request.response_schema is not None:
        fail("this Bedrock model family takes one prompt string and cannot be held to a "
             "response_model/response_schema; use a Claude or Nova model")
    if request.seed is not None:
        fail("this Bedrock model family has no 'seed'; remove it for this provider")
    return [(m.role, m.text) for m in request.messages]
