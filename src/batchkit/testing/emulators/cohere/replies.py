"""How the Cohere emulator answers: embeddings of every type, chat replies, and body checks.

Why apart from the job timelines: replies are pure functions of the request (the same text gives
the same vectors in every job), and a test may swap the chat :data:`ChatResponder` for its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from batchkit.testing import _spec
from batchkit.testing._schema_fill import fill_schema
from batchkit.testing._text import collect_text, digest, estimate_tokens
from batchkit.testing.emulators.cohere.datasets import EMBEDDING_TYPES

EMBED_DIMENSIONS = {
    "embed-english-v3.0": 1024, "embed-multilingual-v3.0": 1024,
    "embed-english-light-v3.0": 384, "embed-multilingual-light-v3.0": 384,
    "embed-v4.0": 1536,
}
"""The spec's ``CreateEmbedJobRequest.model`` list, plus embed-v4.0 (its default size) which the
spec's code samples use."""
ChatResponder = Callable[[dict[str, Any], str, str], dict[str, Any]]
"""``responder(body, custom_id, model) -> ChatResponseV2`` for one batch record."""


def embeddings_for(model: str, text: str, types: list[str], dims: int) -> dict[str, Any]:
    """Every embedding type of one text (null where not asked for), from one unit vector.

    The quantized types are derived the usual way: ``int8`` scales by the largest component,
    ``uint8`` is that plus 128, ``ubinary`` packs the sign bits 8 to a byte, and ``binary`` is
    ``ubinary`` minus 128.
    """
    seed = int(digest("embedding", model, text)[:16], 16)
    raw = np.random.default_rng(seed).standard_normal(dims)
    vec = (raw / np.linalg.norm(raw)).astype(np.float32)
    int8 = np.clip(np.rint(vec / np.abs(vec).max() * 127), -128, 127).astype(np.int16)
    ubinary = np.packbits(vec > 0).astype(np.int16)
    values = {"float": vec, "int8": int8, "uint8": int8 + 128, "binary": ubinary - 128,
              "ubinary": ubinary}
    return {t: values[t].tolist() if t in types else None for t in EMBEDDING_TYPES}


def body_problem(body: dict[str, Any], model: str) -> str | None:
    """Why Cohere would refuse one record's body (checked against the spec's ``/v2/chat``
    request schema, with the batch's model), or None."""
    if "model" in body:
        return "invalid request: 'model' is set by the batch, not in a request body"
    if body.get("stream"):
        return "invalid request: streaming is not supported in batches"
    unknown = sorted(set(body) - _spec.property_names("cohere", "V2ChatRequest"))
    if unknown:
        return f"invalid request: unknown field {unknown[0]!r}"
    problems = _spec.validate("cohere", "V2ChatRequest", {**body, "model": model})
    if problems:
        return f"invalid request: {problems[0]}"
    return _tool_problem(body)


def _tool_problem(body: dict[str, Any]) -> str | None:
    """Tool rules the schema cannot say: a tool result must answer an earlier call, and a
    ``tool_choice`` needs tools."""
    called: set[str] = set()
    for message in body.get("messages") or []:
        called.update(str(c.get("id")) for c in message.get("tool_calls") or [])
        if message.get("role") == "tool" and message.get("tool_call_id") not in called:
            return (f"invalid request: tool message references tool_call_id "
                    f"{message.get('tool_call_id')!r} that was not in a previous assistant "
                    "message's tool_calls")
    if body.get("tool_choice") and not body.get("tools"):
        return "invalid request: tool_choice requires tools to be specified"
    return None


def _forced_call(body: dict[str, Any], seed: str) -> dict[str, Any] | None:
    """With ``tool_choice: REQUIRED`` Cohere calls a tool: the first, with arguments fitting
    its parameters schema."""
    tools = body.get("tools") or []
    if body.get("tool_choice") != "REQUIRED" or not tools:
        return None
    function = tools[0]["function"]
    arguments = fill_schema(function.get("parameters") or {"type": "object"}, seed=seed)
    return {"id": f"{function['name']}_{seed[:8]}", "type": "function",
            "function": {"name": function["name"], "arguments": json.dumps(arguments)}}


def default_chat_responder(body: dict[str, Any], custom_id: str, model: str) -> dict[str, Any]:
    """A ``ChatResponseV2``: a tool call when ``tool_choice`` is ``REQUIRED``, else JSON
    satisfying ``response_format.json_schema`` when one is given, else a short text from the
    prompt; ``max_tokens`` applied (``MAX_TOKENS``); a ``thinking`` part when thinking is
    enabled, ``logprobs`` when asked for."""
    seed = digest("reply", model, custom_id, json.dumps(body, sort_keys=True))
    prompt = estimate_tokens(collect_text(body.get("messages")))
    call = _forced_call(body, seed)
    content: list[dict[str, Any]] = []
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled":
        content.append({"type": "thinking", "thinking": f"Thinking ({seed[:6]}) first."})
    if call is not None:
        output = estimate_tokens(call["function"]["arguments"])
        message: dict[str, Any] = {"role": "assistant", "tool_calls": [call],
                                   "tool_plan": "I will call the tool."}
        if content:
            message["content"] = content
        return _response(seed, "TOOL_CALL", message, prompt, output)
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_object":
        text = json.dumps(fill_schema(fmt.get("json_schema") or {"type": "object"}, seed=seed))
    else:
        words = collect_text(body.get("messages")).split()
        text = f"Emulated answer ({seed[:8]}) to: " + " ".join(words[:12])
    finish = "COMPLETE"
    cap = body.get("max_tokens")
    if isinstance(cap, int) and estimate_tokens(text) > cap:
        text, finish = text[: cap * 4], "MAX_TOKENS"
    content.append({"type": "text", "text": text})
    response = _response(seed, finish, {"role": "assistant", "content": content}, prompt,
                         estimate_tokens(text))
    if body.get("logprobs"):
        response["logprobs"] = [
            {"text": word, "token_ids": [int(digest(seed, word)[:4], 16)],
             "logprobs": [-(int(digest(seed, str(i))[:3], 16) % 1000) / 1000]}
            for i, word in enumerate(text.split(" "))]
    return response


def _response(seed: str, finish: str, message: dict[str, Any], prompt: int, output: int
              ) -> dict[str, Any]:
    return {
        "id": f"{seed[:8]}-{seed[8:12]}-{seed[12:16]}-{seed[16:20]}-{seed[20:32]}",
        "finish_reason": finish,
        "message": message,
        "usage": {"billed_units": {"input_tokens": float(prompt), "output_tokens": float(output)},
                  "tokens": {"input_tokens": float(prompt + 20), "output_tokens": float(output)}},
    }


def retryable_record(status: int) -> str:
    """A retryable record fault as a Cohere batch writes it: the record's ``error`` text, which
    for a passing failure names the HTTP status the single call would have had."""
    return {429: "429: too many requests, please retry later",
            503: "503: service unavailable, please retry later"}.get(
        status, f"{status}: internal server error, please retry later")
