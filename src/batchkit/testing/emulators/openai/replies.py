"""Deterministic reply bodies for the OpenAI emulator: chat, responses and embeddings.

Why: batchkit decodes what the vendor returns, so the emulator's replies must have the vendor's
exact shape (the ``openai`` SDK's own ``ChatCompletion``, ``Response`` and
``CreateEmbeddingResponse`` types parse them), realistic usage numbers, JSON that satisfies a
requested ``json_schema`` and unit vectors of the model's dimension. Replies are a pure function of
the request, so reruns produce identical files. A test may replace the whole thing with its own
:data:`Responder`, or raise :class:`ReplyError` from it to produce an HTTP-style error row.
"""

from __future__ import annotations

import base64
import json
import math
import random
import struct
from collections.abc import Callable
from typing import Any

from batchkit.testing._schema_fill import fill_schema
from batchkit.testing._text import collect_text, digest, estimate_tokens
from batchkit.testing.emulators._moderation import verdicts
from batchkit.testing.emulators.openai import features
from batchkit.testing.emulators.openai.errors import ReplyError as ReplyError

Responder = Callable[[str, dict[str, Any], str], dict[str, Any]]
"""``responder(url, body, custom_id) -> response body`` for one batch line."""

NATIVE_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
_CACHE_MIN_TOKENS = 1024  # OpenAI caches prompt prefixes of at least 1024 tokens, in 128 steps.


def _cached_tokens(prompt_tokens: int, seed: str) -> int:
    """Deterministically report a cached prefix for about half of the long prompts."""
    if prompt_tokens < _CACHE_MIN_TOKENS or int(seed[:2], 16) % 2:
        return 0
    return _CACHE_MIN_TOKENS + (prompt_tokens - _CACHE_MIN_TOKENS) // 2 // 128 * 128


def _reply_text(prompt: str, schema: dict[str, Any] | None, seed: str,
                json_object: bool = False) -> str:
    if schema is not None:
        return json.dumps(fill_schema(schema, seed=seed), ensure_ascii=False)
    words = prompt.split()
    gist = " ".join(words[:12]) + (" ..." if len(words) > 12 else "")
    if json_object:
        return json.dumps({"answer": f"Emulated answer ({seed[:8]})", "about": gist})
    return f"Emulated answer ({seed[:8]}) to: {gist}"


def _limit(text: str, max_tokens: Any) -> tuple[str, bool]:
    """Truncate to the request's output-token cap, as the vendor does (finish_reason=length)."""
    if isinstance(max_tokens, int) and estimate_tokens(text) > max_tokens:
        return text[: max_tokens * 4], True
    return text, False


def chat_completion(body: dict[str, Any], custom_id: str, created: int) -> dict[str, Any]:
    model = str(body.get("model"))
    seed = digest("chat", custom_id, json.dumps(body, sort_keys=True))
    messages = body.get("messages", [])
    features.check_chat_turns(messages)
    features.check_reasoning_model(model, body)
    prompt = collect_text(messages)
    response_format = body.get("response_format") or {}
    schema = None
    if response_format.get("type") == "json_schema":
        schema = response_format.get("json_schema", {}).get("schema", {})
    json_object = response_format.get("type") == "json_object"
    tool = features.forced_tool(body, responses=False)
    cap = body.get("max_completion_tokens", body.get("max_tokens"))
    thinks = features.open_reasoning(model) and not features.thinking_off(body)
    choices = []
    completion_tokens = 0
    for index in range(int(body.get("n") or 1)):
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None,
                                   "annotations": []}
        if tool is not None:
            message["tool_calls"] = features.chat_tool_calls(tool, f"{seed}{index}")
            completion_tokens += estimate_tokens(message["tool_calls"][0]["function"]
                                                 ["arguments"])
            finish = "tool_calls"
        else:
            text, truncated = _limit(_reply_text(prompt, schema, f"{seed}{index}", json_object),
                                     cap)
            completion_tokens += estimate_tokens(text)
            message["content"] = text
            finish = "length" if truncated else "stop"
        if thinks:
            message["reasoning"] = features.reasoning_words(prompt, f"{seed}{index}")
        logprobs = None
        if body.get("logprobs"):
            logprobs = {"content": features.token_logprobs(
                message["content"] or "", int(body.get("top_logprobs") or 0), seed),
                "refusal": None}
        choices.append({"index": index, "message": message, "logprobs": logprobs,
                        "finish_reason": finish})
    prompt_tokens = estimate_tokens(prompt) + 3 * len(messages)
    reasoning = features.reasoning_tokens(model, body, seed)
    completion_tokens += reasoning
    return {
        "id": f"chatcmpl-{seed[:29]}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {
                "cached_tokens": _cached_tokens(prompt_tokens, seed),
                "audio_tokens": 0,
            },
            "completion_tokens_details": {
                "reasoning_tokens": reasoning,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": f"fp_{seed[-10:]}",
    }


def response_object(body: dict[str, Any], custom_id: str, created: int) -> dict[str, Any]:
    model = str(body.get("model"))
    seed = digest("responses", custom_id, json.dumps(body, sort_keys=True))
    prompt = " ".join(filter(None, [collect_text(body.get("instructions")),
                                     collect_text(body.get("input")),
                                     features.call_outputs(body.get("input"))]))
    text_config = body.get("text") or {}
    text_format = text_config.get("format") or {"type": "text"}
    schema = text_format.get("schema", {}) if text_format.get("type") == "json_schema" else None
    features.check_response_items(body.get("input"))
    features.check_reasoning_model(model, body)
    tool = features.forced_tool(body, responses=True)
    text, truncated = _limit(_reply_text(prompt, schema, seed,
                                         text_format.get("type") == "json_object"),
                             body.get("max_output_tokens"))
    input_tokens = estimate_tokens(prompt) + 3
    reasoning = features.reasoning_tokens(model, body, seed)
    output_tokens = estimate_tokens(text) + reasoning
    output = _response_output(body, prompt, text, truncated, tool, seed, reasoning)
    return {
        "id": f"resp_{seed[:48]}",
        "object": "response",
        "created_at": created,
        "status": "incomplete" if truncated else "completed",
        "incomplete_details": {"reason": "max_output_tokens"} if truncated else None,
        "error": None,
        "model": model,
        "instructions": body.get("instructions"),
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools", []),
        "temperature": body.get("temperature", 1.0),
        "top_p": body.get("top_p", 1.0),
        "max_output_tokens": body.get("max_output_tokens"),
        "previous_response_id": body.get("previous_response_id"),
        "metadata": body.get("metadata", {}),
        "text": {"format": text_format},
        "truncation": body.get("truncation", "disabled"),
        "store": body.get("store", True),
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {
                "cached_tokens": _cached_tokens(input_tokens, seed),
                "cache_write_tokens": 0,
            },
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": input_tokens + output_tokens,
        },
    }


def _response_output(body: dict[str, Any], prompt: str, text: str, truncated: bool,
                     tool: dict[str, Any] | None, seed: str, reasoning: int) -> list[Any]:
    """Output items: a reasoning item (with a summary when asked), then the forced function
    call or the message."""
    items: list[dict[str, Any]] = []
    if reasoning:
        summary = []
        if (body.get("reasoning") or {}).get("summary"):
            summary = [{"type": "summary_text", "text": features.reasoning_words(prompt, seed)}]
        items.append({"type": "reasoning", "id": f"rs_{seed[:48]}", "summary": summary})
    if tool is not None:
        return items + features.responses_tool_calls(tool, seed)
    logprobs: list[Any] = []
    if "message.output_text.logprobs" in (body.get("include") or []):
        logprobs = features.token_logprobs(text, int(body.get("top_logprobs") or 0), seed)
    items.append({
        "type": "message", "id": f"msg_{seed[8:56]}",
        "status": "incomplete" if truncated else "completed", "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [],
                     "logprobs": logprobs}],
    })
    return items


def unit_vector(model: str, text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector whose components are exactly representable as float32."""
    rng = random.Random(digest("embedding", model, text))
    raw = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    packed = struct.pack(f"<{dimensions}f", *(x / norm for x in raw))
    return list(struct.unpack(f"<{dimensions}f", packed))


def embedding_list(body: dict[str, Any]) -> dict[str, Any]:
    model = str(body.get("model"))
    native = NATIVE_DIMENSIONS.get(model, 1536)
    dimensions = body.get("dimensions")
    if dimensions is not None and model == "text-embedding-ada-002":
        raise ReplyError(400, "This model does not support specifying dimensions.",
                         param="dimensions")
    if isinstance(dimensions, int) and dimensions > native:
        raise ReplyError(400, f"This model does not support more than {native} dimensions.",
                         param="dimensions")
    size = dimensions if isinstance(dimensions, int) else native
    raw_input = body.get("input")
    inputs = raw_input if isinstance(raw_input, list) else [raw_input]
    data = []
    for index, item in enumerate(inputs):
        text = item if isinstance(item, str) else json.dumps(item)
        vector: Any = unit_vector(model, text, size)
        if body.get("encoding_format") == "base64":
            vector = base64.b64encode(struct.pack(f"<{size}f", *vector)).decode("ascii")
        data.append({"object": "embedding", "index": index, "embedding": vector})
    tokens = sum(
        estimate_tokens(item) if isinstance(item, str) else len(json.dumps(item)) // 2
        for item in inputs
    )
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


OPENAI_CATEGORIES = {
    "harassment": [], "harassment/threatening": [], "hate": ["hate"],
    "hate/threatening": [], "illicit": [], "illicit/violent": [], "self-harm": ["self-harm"],
    "self-harm/instructions": [], "self-harm/intent": ["self-harm"], "sexual": [],
    "sexual/minors": [], "violence": ["violence"], "violence/graphic": [],
}
"""The omni-moderation categories (``CreateModerationResponse``) and the emulator's triggers."""


def moderation(body: dict[str, Any], custom_id: str) -> dict[str, Any]:
    """A ``CreateModerationResponse``: per input text, ``flagged`` and every category's flag,
    score and the input types it applied to (text only here)."""
    model = str(body.get("model") or "omni-moderation-latest")
    results = [{"flagged": any(one["categories"].values()), **one,
                "category_applied_input_types": {name: ["text"] for name in OPENAI_CATEGORIES}}
               for one in verdicts(model, body.get("input"), OPENAI_CATEGORIES)]
    return {"id": f"modr-{digest('moderation', custom_id)[:24]}", "model": model,
            "results": results}


def default_responder(url: str, body: dict[str, Any], custom_id: str) -> dict[str, Any]:
    """The emulator's stock replies (the batch stamps ``created`` with its clock afterwards)."""
    created = 0
    if url == "/v1/chat/completions":
        return chat_completion(body, custom_id, created)
    if url == "/v1/responses":
        return response_object(body, custom_id, created)
    if url == "/v1/embeddings":
        return embedding_list(body)
    if url == "/v1/moderations":
        return moderation(body, custom_id)
    raise ReplyError(400, f"The emulator has no replies for {url}.", param="url")


def batch_usage_of(url: str, reply: dict[str, Any]) -> dict[str, int]:
    """Map one reply's usage onto the batch object's ``usage`` fields."""
    usage = reply.get("usage") or {}
    if url == "/v1/chat/completions":
        return {
            "input_tokens": usage.get("prompt_tokens", 0),
            "cached_tokens": (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0),
            "output_tokens": usage.get("completion_tokens", 0),
            "reasoning_tokens": (usage.get("completion_tokens_details") or {}).get(
                "reasoning_tokens", 0
            ),
        }
    if url == "/v1/responses":
        return {
            "input_tokens": usage.get("input_tokens", 0),
            "cached_tokens": (usage.get("input_tokens_details") or {}).get("cached_tokens", 0),
            "output_tokens": usage.get("output_tokens", 0),
            "reasoning_tokens": (usage.get("output_tokens_details") or {}).get(
                "reasoning_tokens", 0
            ),
        }
    return {"input_tokens": usage.get("prompt_tokens", 0), "cached_tokens": 0,
            "output_tokens": 0, "reasoning_tokens": 0}


def break_json(reply: dict[str, Any], url: str) -> dict[str, Any]:
    """The ``invalid_json`` fault: cut the structured text so it no longer parses as JSON."""
    broken: dict[str, Any] = json.loads(json.dumps(reply))
    if url == "/v1/chat/completions":
        for choice in broken.get("choices", []):
            content = choice["message"].get("content") or ""
            choice["message"]["content"] = content[: max(1, len(content) // 2)] + "…"
    elif url == "/v1/responses":
        for item in broken.get("output", []):
            for part in item.get("content", []):
                if part.get("type") == "output_text":
                    part["text"] = part["text"][: max(1, len(part["text"]) // 2)] + "…"
    return broken
