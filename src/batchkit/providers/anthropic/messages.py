"""The Anthropic Messages shape, as Anthropic's Message Batches and Bedrock's Claude models take
and return it (Vertex's Claude models take the same body): a message's content blocks, the default
``max_tokens``, and the reply (text, stop reason, usage) read back as a Result. No I/O.

Why a module of its own: the Messages body is the same wherever Claude runs; only the envelope
around it differs (Anthropic's ``{custom_id, params}``, Bedrock's ``{recordId, modelInput}`` with
``anthropic_version``). Facts: https://docs.anthropic.com/en/api/messages.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from ..._requests import ImagePart, Message, TextPart
from ..._results import ErrorInfo, Result, Usage

__all__ = ["DEFAULT_MAX_TOKENS", "decode_message", "encode_message", "read_usage"]

DEFAULT_MAX_TOKENS = 4096
"""``max_tokens`` when neither the request nor ``options["max_tokens"]`` gives one: Anthropic
requires it, and 4096 fits every current Claude model's output limit while leaving room for
long structured replies. The cost estimate's upper bound uses whatever is sent."""


def encode_message(message: Message) -> dict[str, Any]:
    """A user or assistant message as a Messages API ``messages`` entry."""
    if isinstance(message.content, str):
        return {"role": message.role, "content": message.content}
    return {"role": message.role, "content": [
        _image(p) if isinstance(p, ImagePart) else {"type": "text", "text": p.text}
        for p in message.parts if isinstance(p, ImagePart | TextPart)
    ]}


_DATA_URL = re.compile(r"^data:(?P<type>[^;,]+);base64,(?P<data>.*)$", re.DOTALL)


def _image(part: ImagePart) -> dict[str, Any]:
    """An image block; ``data:`` URLs become base64 sources. ``detail`` has no Anthropic
    equivalent and is dropped (it is a cost hint, not content)."""
    if part.url is not None:
        inline = _DATA_URL.match(part.url)
        if inline is None:
            return {"type": "image", "source": {"type": "url", "url": part.url}}
        media_type, data = inline["type"], inline["data"]
    else:
        media_type, data = str(part.media_type), str(part.data)
    return {"type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data}}


# -- the reply ---------------------------------------------------------------------------------

_FINISH = {
    "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
    "model_context_window_exceeded": "length", "tool_use": "tool_calls",
    "refusal": "content_filter",
}
"""Stop reasons in chat-completions words, so one job reads the same on every vendor; an
unknown reason passes through unchanged."""
def decode_message(cid: str, message: Any, obj: dict[str, Any]) -> Result:
    """A Messages API reply (a ``Message`` as a dict) -> a succeeded Result for ``cid``, with
    ``obj`` (the whole result line) kept as ``raw``. Text blocks are joined; without text, a
    forced tool's input is the answer. Raises ``ValueError`` for a reply with no content."""
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        raise ValueError(f"line for {cid!r}: succeeded without a message")
    blocks = [b for b in message["content"] if isinstance(b, dict)]
    texts = [str(b.get("text") or "") for b in blocks if b.get("type") == "text"]
    tools = [b.get("input") for b in blocks if b.get("type") == "tool_use"]
    text: str | None = "".join(texts) if texts else None
    if text is None and tools:  # a forced tool (sent through params) carries the answer
        text = orjson.dumps(tools[0]).decode()
    stop = message.get("stop_reason")
    finish = _FINISH.get(stop, stop) if isinstance(stop, str) else None
    refusal = ErrorInfo("refusal", text or "") if stop == "refusal" else None
    return Result(cid, "succeeded", text=text, finish_reason=finish,
                  usage=read_usage(message.get("usage")), error=refusal, raw=obj)


def read_usage(usage: Any) -> Usage | None:
    """Anthropic reports cache reads and writes *beside* ``input_tokens``; batchkit's
    ``input_tokens`` is the whole prompt (the cost module prices cached parts out of it)."""
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
