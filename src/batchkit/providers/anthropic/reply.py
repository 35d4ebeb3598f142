"""A Claude reply (a Messages API ``Message``) read as a Result, wherever Claude ran: Anthropic's
Message Batches, Bedrock's Claude models. No I/O.

Text blocks are the text, ``tool_use`` blocks the tool calls (their ``input`` is an object
already), ``thinking`` blocks the reasoning; the stop reason is kept as the vendor said it and
in batchkit's shared words. Facts: the ``anthropic`` SDK's ``Message``, ``StopReason`` and
``Usage`` types; https://docs.anthropic.com/en/api/messages.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..._results import ErrorInfo, FinishReason, Result, Usage, finish_reason
from ..._tools import tool_call_from_raw

__all__ = ["FINISH_REASONS", "decode_message", "read_usage"]

FINISH_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
    "model_context_window_exceeded": "length", "tool_use": "tool_calls",
    "refusal": "refusal", "pause_turn": "other",
}
"""Every ``StopReason`` of the SDK in batchkit's vocabulary. ``pause_turn`` (a server tool paused
a long turn) has no shared word: the reply is partial, so it reads ``other``."""


def decode_message(cid: str, message: Any, obj: dict[str, Any], *,
                   answer_tool: str | None = None) -> Result:
    """A Messages API reply (a ``Message`` as a dict) -> a succeeded Result for ``cid``, with
    ``obj`` (the whole result line) kept as ``raw``.

    ``answer_tool`` names a tool batchkit forced to carry a structured answer (Bedrock's
    ``respond``): its input is the reply's text, it ends as ``stop`` like any structured output,
    and it is not one of the caller's tool calls. Raises ``ValueError`` for a reply with no
    content.
    """
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        raise ValueError(f"line for {cid!r}: succeeded without a message")
    blocks = [b for b in message["content"] if isinstance(b, dict)]
    texts = [str(b.get("text") or "") for b in blocks if b.get("type") == "text"]
    thoughts = [str(b.get("thinking") or "") for b in blocks if b.get("type") == "thinking"]
    uses = [b for b in blocks if b.get("type") == "tool_use"]
    text: str | None = "".join(texts) if texts else None
    vendor_stop = message.get("stop_reason")
    stop = vendor_stop if isinstance(vendor_stop, str) else None
    answer = next((b for b in uses if answer_tool and b.get("name") == answer_tool), None)
    if answer is not None:
        text = orjson.dumps(answer.get("input")).decode()
        uses = [b for b in uses if b is not answer]
    calls = [tool_call_from_raw(str(b.get("id") or ""), str(b.get("name") or ""),
                                b.get("input") if isinstance(b.get("input"), dict) else None)
             for b in uses]
    finish = finish_reason(stop, FINISH_REASONS)
    if answer is not None and not calls:
        finish = "stop"
    refused = stop == "refusal"
    return Result(
        cid, "succeeded", text=text, finish_reason=finish, vendor_finish_reason=stop,
        usage=read_usage(message.get("usage")), raw=obj, tool_calls=calls,
        reasoning="\n\n".join(thoughts) if thoughts else None,
        refusal=(text or "the model declined to answer") if refused else None,
        error=ErrorInfo("refusal", text or "") if refused else None,
    )


def read_usage(usage: Any) -> Usage | None:
    """Anthropic reports cache reads and writes *beside* ``input_tokens``; batchkit's
    ``input_tokens`` is the whole prompt (the cost module prices cached parts out of it).
    Thinking tokens are part of ``output_tokens`` and reported in ``output_tokens_details``."""
    if not isinstance(usage, dict):
        return None
    fresh = int(usage.get("input_tokens") or 0)
    written = int(usage.get("cache_creation_input_tokens") or 0)
    read = int(usage.get("cache_read_input_tokens") or 0)
    details = usage.get("output_tokens_details") or {}
    return Usage(
        input_tokens=fresh + written + read,
        output_tokens=int(usage.get("output_tokens") or 0),
        cached_input_tokens=read,
        cache_creation_input_tokens=written,
        reasoning_tokens=int(details.get("thinking_tokens") or 0),
    )
