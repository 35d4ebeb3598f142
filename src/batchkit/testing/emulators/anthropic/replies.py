"""How the Anthropic emulator answers one request: a ``Message`` the SDK's own type parses.

Why apart from the batch: the reply is a pure function of the request (usage counted from it,
``max_tokens`` applied as the vendor does, JSON satisfying a requested schema), and a test may
swap the whole :data:`Responder` for its own without touching the batch timeline.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from batchkit.testing._schema_fill import fill_schema
from batchkit.testing._text import collect_text, digest, estimate_tokens

Responder = Callable[[str, dict[str, Any], str], dict[str, Any]]
"""``responder(url, params, custom_id) -> Message`` for one request; the same call shape as the
OpenAI emulator's responder, with ``url`` always ``/v1/messages``."""


def message_reply(params: dict[str, Any], text: str, custom_id: str) -> dict[str, Any]:
    """A ``Message`` carrying ``text``, with usage counted from the request and the reply and
    ``max_tokens`` applied as the vendor does (``stop_reason: max_tokens``)."""
    cap = params.get("max_tokens")
    stop_reason = "end_turn"
    if isinstance(cap, int) and estimate_tokens(text) > cap:
        text, stop_reason = text[: cap * 4], "max_tokens"
    prompt = " ".join(filter(None, [collect_text(params.get("system")),
                                     collect_text(params.get("messages"))]))
    seed = digest("message", custom_id, json.dumps(params, sort_keys=True))
    return {
        "id": "msg_" + seed[:24],
        "type": "message",
        "role": "assistant",
        "model": str(params.get("model")),
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": estimate_tokens(prompt) + 4 * len(params.get("messages") or []),
            "output_tokens": estimate_tokens(text),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "service_tier": "batch",
        },
    }


def default_responder(url: str, params: dict[str, Any], custom_id: str) -> dict[str, Any]:
    """Stock replies: JSON satisfying ``output_config.format.schema`` when one is asked for,
    else a short text derived from the prompt. A pure function of the request."""
    seed = digest("reply", custom_id, json.dumps(params, sort_keys=True))
    fmt = (params.get("output_config") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        text = json.dumps(fill_schema(fmt.get("schema") or {}, seed=seed), ensure_ascii=False)
    else:
        words = collect_text(params.get("messages")).split()
        gist = " ".join(words[:12]) + (" ..." if len(words) > 12 else "")
        text = f"Emulated answer ({seed[:8]}) to: {gist}"
    return message_reply(params, text, custom_id)
