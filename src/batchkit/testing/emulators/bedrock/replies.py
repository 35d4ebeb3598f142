"""The emulated Bedrock models: which body each model family takes, and what it answers.

A batch job checks the file and the record envelope up front but "doesn't check if the
``modelInput`` value matches the request body for the model" (service-2.json, ``status``); a
body the model rejects becomes that record's error row ``{"errorCode": 400, "errorMessage":
"Malformed input request: ..."}``. So each family here has a check, against the vendor's own
schema wherever one exists:

* Claude: ``anthropic_version: bedrock-2023-05-31`` plus the Messages body, validated with the
  ``anthropic`` SDK's ``MessageCreateParamsNonStreaming`` (via the Anthropic emulator's checker);
* Nova: the Invoke body is the Converse request's shape (the Nova user guide: "nearly
  identical", bytes as base64), validated against botocore's ``bedrock-runtime``
  ``ConverseRequest``, plus the Invoke-only ``schemaVersion`` and ``inferenceConfig.topK``;
* Titan Text Embeddings: no machine-readable schema is published; the keys and values of the
  Titan embeddings parameter page (``inputText``, ``dimensions`` 256/512/1024, ``normalize``,
  ``embeddingTypes``), unknown keys refused as Bedrock does ("extraneous key [...]");
* Titan Text, Llama, Mistral, DeepSeek-R1 and Cohere Embed: :mod:`.text_models`.

The default replies are deterministic: text derived from the prompt, JSON satisfying a forced
tool's schema, unit vectors of the requested dimension, usage counted from the texts.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from batchkit.testing._schema_fill import fill_schema
from batchkit.testing._text import collect_text, digest, estimate_tokens
from batchkit.testing.emulators._aws import AwsError, ShapeChecker
from batchkit.testing.emulators.anthropic.replies import answer_blocks, prompt_tokens
from batchkit.testing.emulators.bedrock.text_models import PROBLEMS, REPLIES

__all__ = ["ModelInputError", "Responder", "default_responder", "family", "input_problem"]

Responder = Callable[[str, dict[str, Any], str], dict[str, Any]]
"""``responder(model_id, model_input, record_id) -> modelOutput`` for one valid record."""

_FAMILIES = (
    (re.compile(r"^(?:[a-z-]+\.)?anthropic\.claude-"), "claude"),
    (re.compile(r"^(?:[a-z-]+\.)?amazon\.nova-(?:2-)?(?:micro|lite|pro|premier)"), "nova"),
    (re.compile(r"^amazon\.titan-embed-text-v2"), "titan-v2"),
    (re.compile(r"^amazon\.(?:titan-embed-text-v1|titan-embed-g1-text)"), "titan-v1"),
    (re.compile(r"^amazon\.titan-(?:text-(?:lite|express|premier)|tg1-)"), "titan-text"),
    (re.compile(r"^(?:[a-z-]+\.)?cohere\.embed-(?:english-v3|multilingual-v3|v4)"),
     "cohere-embed"),
    (re.compile(r"^(?:[a-z-]+\.)?meta\.llama"), "llama"),
    (re.compile(r"^(?:[a-z-]+\.)?mistral\.(?:mistral-large-24(?:07|11)|pixtral)"),
     "mistral-chat"),
    (re.compile(r"^(?:[a-z-]+\.)?mistral\."), "mistral"),
    (re.compile(r"^(?:[a-z-]+\.)?deepseek\.r1"), "deepseek"),
)
_TITAN_KEYS = {"titan-v2": {"inputText", "dimensions", "normalize", "embeddingTypes"},
               "titan-v1": {"inputText"}}
_NOVA_INVOKE_ONLY = ("schemaVersion",)
_NOVA_CONFIG_ONLY = ("topK", "reasoningConfig")


class ModelInputError(ValueError):
    """A record whose body the model rejects (its error row, HTTP 400)."""


def family(model_id: str) -> str | None:
    """The body format a model (or a foundation-model / inference-profile ARN) takes."""
    base = model_id.rsplit("/", 1)[-1]
    return next((name for pattern, name in _FAMILIES if pattern.match(base)), None)


def input_problem(model_id: str, body: Any) -> str | None:
    """Why the model rejects ``body`` (None: it takes it)."""
    kind = family(model_id)
    if not isinstance(body, dict):
        return "#: expected type: JSONObject"
    if kind == "claude":
        return _claude_problem(model_id, body)
    if kind == "nova":
        return _nova_problem(model_id, body)
    if kind in _TITAN_KEYS:
        return _titan_problem(kind, body)
    if kind in PROBLEMS:
        return PROBLEMS[kind](model_id, body)
    return f"model {model_id} is not emulated"


@cache
def _claude_checker() -> Any:
    from batchkit.testing.emulators.anthropic.routes import ParamsChecker

    return ParamsChecker()


def _claude_problem(model_id: str, body: dict[str, Any]) -> str | None:
    """Bedrock's documented keys first, then the SDK's types for the Messages part.

    anthropic 2.11's ``MessageCreateParams`` has no ``temperature``, ``top_p`` or ``top_k``,
    which Bedrock's Claude parameter page documents; those are checked here by hand.
    """
    if body.get("anthropic_version") != "bedrock-2023-05-31":
        return "#/anthropic_version: expected 'bedrock-2023-05-31'"
    extra = sorted(set(body) - _CLAUDE_KEYS)
    if extra:
        return f"#: extraneous key [{extra[0]}] is not permitted"
    for key in ("temperature", "top_p"):
        value = body.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            return f"#/{key}: expected a number between 0 and 1"
    top_k = body.get("top_k", 0)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        return "#/top_k: expected an integer >= 0"
    params = {k: v for k, v in body.items() if k not in _CLAUDE_BEDROCK_ONLY}
    problem: str | None = _claude_checker().problem({**params, "model": model_id})
    return problem


_CLAUDE_BEDROCK_ONLY = {"anthropic_version", "anthropic_beta", "temperature", "top_p", "top_k"}
_CLAUDE_KEYS = _CLAUDE_BEDROCK_ONLY | {"max_tokens", "messages", "system", "stop_sequences",
                                       "tools", "tool_choice", "thinking", "output_config"}
"""The request keys of Bedrock's "Anthropic Claude Messages API" parameter page."""


@cache
def _runtime() -> ShapeChecker:
    return ShapeChecker("bedrock-runtime")


def _nova_problem(model_id: str, body: dict[str, Any]) -> str | None:
    if body.get("schemaVersion", "messages-v1") != "messages-v1":
        return "#/schemaVersion: expected 'messages-v1'"
    config = dict(body.get("inferenceConfig") or {})
    top_k = config.pop("topK", None)
    if top_k is not None and (not isinstance(top_k, int) or top_k < 0):
        return "#/inferenceConfig/topK: expected an integer >= 0"
    config.pop("reasoningConfig", None)
    request = {k: v for k, v in body.items() if k not in _NOVA_INVOKE_ONLY}
    if "inferenceConfig" in body:
        request["inferenceConfig"] = config
    runtime = _runtime()
    try:
        runtime.check(runtime.model.shape_for("ConverseRequest"), {**request, "modelId": model_id})
    except AwsError as error:
        return error.message
    return _nova_tool_problem(body)


def _nova_tool_problem(body: dict[str, Any]) -> str | None:
    """Converse's tool rules beyond its shapes: tool blocks need a ``toolConfig``, and each
    ``toolResult`` answers a ``toolUse`` of the turn before (every one of them)."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    previous: set[Any] = set()
    for index, message in enumerate(messages):
        blocks = [b for b in message.get("content") or [] if isinstance(b, dict)]
        uses = {b["toolUse"].get("toolUseId") for b in blocks if isinstance(b.get("toolUse"), dict)}
        answered = {b["toolResult"].get("toolUseId") for b in blocks
                    if isinstance(b.get("toolResult"), dict)}
        if (uses or answered) and not body.get("toolConfig"):
            return ("The toolConfig field must be defined when using toolUse and toolResult "
                    "content blocks.")
        if answered - previous:
            return (f"messages.{index}: a toolResult block's toolUseId matches no toolUse block "
                    "in the previous turn.")
        if previous - answered:
            return (f"messages.{index - 1}: the number of toolResult blocks at messages.{index} "
                    "does not match the number of toolUse blocks of the previous turn.")
        previous = uses
    return None


def _titan_problem(kind: str, body: dict[str, Any]) -> str | None:
    extra = sorted(set(body) - _TITAN_KEYS[kind])
    if extra:
        return f"#: extraneous key [{extra[0]}] is not permitted"
    text = body.get("inputText")
    if not isinstance(text, str) or not text:
        return "#/inputText: expected a non-empty string"
    if len(text) > 50_000:
        return "#/inputText: expected maxLength: 50000"
    if "dimensions" in body and body["dimensions"] not in (256, 512, 1024):
        return f"#/dimensions: {body['dimensions']} is not a valid enum value"
    if "normalize" in body and not isinstance(body["normalize"], bool):
        return "#/normalize: expected type: Boolean"
    types = body.get("embeddingTypes", ["float"])
    if not isinstance(types, list) or not types or set(types) - {"float", "binary"}:
        return "#/embeddingTypes: expected a non-empty subset of [float, binary]"
    return None


# -- replies ---------------------------------------------------------------------------------



def default_responder(model_id: str, body: dict[str, Any], record_id: str) -> dict[str, Any]:
    """The stock reply of the model's family: a pure function of the record."""
    seed = digest(model_id, record_id, json.dumps(body, sort_keys=True))
    kind = family(model_id)
    if kind == "claude":
        return _claude_reply(model_id, body, seed)
    if kind == "nova":
        return _nova_reply(body, seed)
    if kind in REPLIES:
        return REPLIES[kind](model_id, body, seed)
    return _titan_reply(kind or "titan-v2", body, seed)


def _gist(messages: Any, seed: str) -> str:
    words = collect_text(messages).split()
    return f"Emulated answer ({seed[:8]}) to: " + " ".join(words[:12]) + (
        " ..." if len(words) > 12 else "")


def _forced_tool(choice: Any, tools: list[dict[str, Any]], name_key: str) -> Any:
    """The tool a ``tool``-type tool choice forces, or None."""
    name = choice.get("name") if isinstance(choice, dict) else None
    return next((t for t in tools if t.get(name_key) == name), None) if name else None


def _claude_reply(model_id: str, body: dict[str, Any], seed: str) -> dict[str, Any]:
    """Claude's Messages reply, as the Anthropic emulator builds it: thinking when enabled, a
    ``tool_use`` block fitting a forced tool (``any`` or ``tool``), else a text answer."""
    answer = answer_blocks(body, _gist(body.get("messages"), seed), seed)
    usage: dict[str, Any] = {"input_tokens": prompt_tokens(body),
                             "output_tokens": answer.output_tokens}
    if answer.thinking_tokens:
        usage["output_tokens_details"] = {"thinking_tokens": answer.thinking_tokens}
    return {
        "id": "msg_bdrk_" + seed[:24], "type": "message", "role": "assistant",
        "model": model_id, "content": answer.blocks, "stop_reason": answer.stop_reason,
        "stop_sequence": None, "usage": usage,
    }


def _nova_text(blocks: Any) -> str:
    """The text blocks of a Nova ``content`` or ``system`` list, joined."""
    if not isinstance(blocks, list):
        return ""
    return " ".join(b["text"] for b in blocks
                    if isinstance(b, dict) and isinstance(b.get("text"), str))


def _nova_reply(body: dict[str, Any], seed: str) -> dict[str, Any]:
    tool_config = body.get("toolConfig") or {}
    specs = [t.get("toolSpec") or {} for t in tool_config.get("tools") or []]
    choice = tool_config.get("toolChoice") or {}
    forced = (specs[0] if specs and "any" in choice else
              _forced_tool(choice.get("tool"), specs, "name"))
    if forced is not None:
        answer = fill_schema((forced.get("inputSchema") or {}).get("json") or {}, seed=seed)
        content: list[dict[str, Any]] = [{"toolUse": {"toolUseId": "tooluse_" + seed[:22],
                                                      "name": forced["name"], "input": answer}}]
        out_text, stop = json.dumps(answer), "tool_use"
    else:
        messages = body.get("messages") or []
        words = " ".join(_nova_text(m.get("content")) for m in messages if isinstance(m, dict))
        out_text = f"Emulated answer ({seed[:8]}) to: " + " ".join(words.split()[:12])
        cap = (body.get("inferenceConfig") or {}).get("maxTokens")
        stop = "end_turn"
        if isinstance(cap, int) and estimate_tokens(out_text) > cap:
            out_text, stop = out_text[: cap * 4], "max_tokens"
        content = [{"text": out_text}]
    prompt = _nova_text(body.get("system")) + " " + " ".join(
        _nova_text(m.get("content")) for m in body.get("messages") or [] if isinstance(m, dict))
    used_in, used_out = estimate_tokens(prompt), estimate_tokens(out_text)
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": used_in, "outputTokens": used_out,
                  "totalTokens": used_in + used_out, "cacheReadInputTokenCount": 0,
                  "cacheWriteInputTokenCount": 0},
    }


def _titan_reply(kind: str, body: dict[str, Any], seed: str) -> dict[str, Any]:
    size = int(body.get("dimensions") or (1024 if kind == "titan-v2" else 1536))
    rng = random.Random(seed)
    raw = [rng.gauss(0.0, 1.0) for _ in range(size)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    vector = [x / norm for x in raw] if body.get("normalize", True) else raw
    reply: dict[str, Any] = {"embedding": vector,
                             "inputTextTokenCount": estimate_tokens(str(body.get("inputText")))}
    types = body.get("embeddingTypes")
    if kind == "titan-v2" and types:
        reply["embeddingsByType"] = {t: vector if t == "float" else [int(x > 0) for x in vector]
                                     for t in types}
    return reply
