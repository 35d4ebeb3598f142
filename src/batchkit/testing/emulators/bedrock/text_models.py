"""The emulated Bedrock models whose body is one prompt string or a list of texts: Amazon Titan
Text, Meta Llama, Mistral AI, DeepSeek-R1 and Cohere Embed. Each checks its body by the keys and
ranges of its Bedrock parameter page (none publishes a machine-readable schema), refusing an
unknown key as Bedrock does (``extraneous key [...] is not permitted``), and answers in its own
reply shape, deterministically from the record:

* Titan Text: ``{"inputTextTokenCount", "results": [{"tokenCount", "outputText",
  "completionReason"}]}`` (model-parameters-titan-text.html);
* Llama: ``{"generation", "prompt_token_count", "generation_token_count", "stop_reason"}``
  (model-parameters-meta.html);
* Mistral: ``{"outputs": [{"text", "stop_reason"}]}`` (model-parameters-mistral-text-completion);
  Mistral Large 2's chat body: ``{"choices": [{"index", "message", "stop_reason"}]}``, a forced
  (``any``) tool answered with a call fitting its schema (model-parameters-mistral-chat-completion);
* DeepSeek-R1: ``{"choices": [{"text", "stop_reason"}]}``, the text opening with the model's
  reasoning closed by ``</think>`` (model-parameters-deepseek.html);
* Cohere Embed: ``{"id", "texts", "embeddings", "response_type"}``, a list of vectors or an
  object of them by type (model-parameters-embed-v3.html / -v4.html).
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Callable
from typing import Any

from batchkit.testing._schema_fill import fill_schema
from batchkit.testing._text import collect_text, estimate_tokens

__all__ = ["PROBLEMS", "REPLIES"]

Check = Callable[[str, dict[str, Any]], str | None]


def _extra(body: dict[str, Any], allowed: set[str]) -> str | None:
    extra = sorted(set(body) - allowed)
    return f"#: extraneous key [{extra[0]}] is not permitted" if extra else None


def _number(body: dict[str, Any], key: str, low: float, high: float, path: str = "#") -> str | None:
    if key not in body:
        return None
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        return f"{path}/{key}: {value!r} is not a number between {low:g} and {high:g}"
    return None


def _integer(body: dict[str, Any], key: str, low: int, high: int, path: str = "#") -> str | None:
    if key not in body:
        return None
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return f"{path}/{key}: {value!r} is not an integer between {low} and {high}"
    return None


def _strings(body: dict[str, Any], key: str, most: int, path: str = "#") -> str | None:
    value = body.get(key, [])
    if not isinstance(value, list) or len(value) > most or not all(
            isinstance(v, str) for v in value):
        return f"{path}/{key}: expected an array of at most {most} strings"
    return None


def _prompt(body: dict[str, Any], key: str = "prompt") -> str | None:
    if not isinstance(body.get(key), str) or not body[key]:
        return f"#: required key [{key}] not found or not a non-empty string"
    return None


def _first(*problems: str | None) -> str | None:
    return next((p for p in problems if p is not None), None)


_TITAN_MAX = {"lite": 4096, "express": 8192, "premier": 3072}


def _titan_text(model_id: str, body: dict[str, Any]) -> str | None:
    config = body.get("textGenerationConfig", {})
    if not isinstance(config, dict):
        return "#/textGenerationConfig: expected type: JSONObject"
    cap = next((n for name, n in _TITAN_MAX.items() if name in model_id), 8192)
    path = "#/textGenerationConfig"
    return _first(
        _extra(body, {"inputText", "textGenerationConfig"}), _prompt(body, "inputText"),
        _extra(config, {"temperature", "topP", "maxTokenCount", "stopSequences"}),
        _number(config, "temperature", 0, 1, path), _number(config, "topP", 0, 1, path),
        _integer(config, "maxTokenCount", 0, cap, path),
        _strings(config, "stopSequences", 4, path))


def _llama(model_id: str, body: dict[str, Any]) -> str | None:
    return _first(_extra(body, {"prompt", "temperature", "top_p", "max_gen_len", "images"}),
                  _prompt(body), _number(body, "temperature", 0, 1),
                  _number(body, "top_p", 0, 1), _integer(body, "max_gen_len", 1, 2048))


def _mistral(model_id: str, body: dict[str, Any]) -> str | None:
    return _first(_extra(body, {"prompt", "max_tokens", "stop", "temperature", "top_p",
                                "top_k"}),
                  _prompt(body), _number(body, "temperature", 0, 1), _number(body, "top_p", 0, 1),
                  _integer(body, "top_k", 1, 200), _integer(body, "max_tokens", 1, 8192),
                  _strings(body, "stop", 10))


def _deepseek(model_id: str, body: dict[str, Any]) -> str | None:
    return _first(_extra(body, {"prompt", "temperature", "top_p", "max_tokens", "stop"}),
                  _prompt(body), _number(body, "temperature", 0, 1), _number(body, "top_p", 0, 1),
                  _integer(body, "max_tokens", 1, 32768), _strings(body, "stop", 10))


_ROLES = ("system", "user", "assistant", "tool")


def _mistral_chat(model_id: str, body: dict[str, Any]) -> str | None:
    turns = body.get("messages")
    if not isinstance(turns, list) or not turns:
        return "#: required key [messages] not found or empty"
    for index, turn in enumerate(turns):
        if not isinstance(turn, dict) or turn.get("role") not in _ROLES or not isinstance(
                turn.get("content", ""), str):
            return f"#/messages/{index}: expected {{role: {'|'.join(_ROLES)}, content: string}}"
    tools = body.get("tools", [])
    if not isinstance(tools, list) or not all(
            isinstance(t, dict) and t.get("type") == "function" and isinstance(
                t.get("function"), dict) for t in tools):
        return "#/tools: expected an array of {type: function, function: {...}}"
    return _first(
        _extra(body, {"messages", "tools", "tool_choice", "max_tokens", "temperature", "top_p"}),
        None if body.get("tool_choice", "auto") in ("auto", "any", "none")
        else "#/tool_choice: expected one of auto, any, none",
        _number(body, "temperature", 0, 1), _number(body, "top_p", 0, 1),
        _integer(body, "max_tokens", 1, 8192))


_COHERE_TYPES = {"float", "int8", "uint8", "binary", "ubinary"}


def _cohere(model_id: str, body: dict[str, Any]) -> str | None:
    v4 = "embed-v4" in model_id
    keys = {"texts", "images", "input_type", "truncate", "embedding_types"}
    texts = body.get("texts")
    if not isinstance(texts, list) or not 1 <= len(texts) <= 96 or not all(
            isinstance(t, str) and len(t) <= 2048 for t in texts):
        return "#/texts: expected an array of 1 to 96 strings of at most 2048 characters"
    if body.get("input_type") not in ("search_document", "search_query", "classification",
                                      "clustering", "image"):
        return "#/input_type: required, one of search_document, search_query, classification, " \
               "clustering, image"
    types = body.get("embedding_types", ["float"])
    return _first(
        _extra(body, keys | ({"output_dimension", "max_tokens", "inputs"} if v4 else set())),
        None if body.get("truncate", "NONE") in ("NONE", "START", "END")
        else "#/truncate: expected one of NONE, START, END",
        None if isinstance(types, list) and types and set(types) <= _COHERE_TYPES
        else "#/embedding_types: expected a non-empty subset of float, int8, uint8, binary, "
             "ubinary",
        None if body.get("output_dimension", 256) in (256, 512, 1024, 1536)
        else "#/output_dimension: expected one of 256, 512, 1024, 1536")


PROBLEMS: dict[str, Check] = {"titan-text": _titan_text, "llama": _llama, "mistral": _mistral,
                              "mistral-chat": _mistral_chat, "deepseek": _deepseek,
                              "cohere-embed": _cohere}


# -- replies ---------------------------------------------------------------------------------


_MARKERS = re.compile(r"<[|｜][^>]*?[|｜]>|</?s>|\[/?INST\]|<think>")
"""The prompt templates' special tokens, left out of the words an answer echoes."""


def _answer(prompt: str, seed: str, cap: Any) -> tuple[str, bool]:
    """The stock answer to a prompt, cut at ``cap`` tokens (True: it was cut)."""
    words = _MARKERS.sub(" ", prompt).split()
    text = f"Emulated answer ({seed[:8]}) to: " + " ".join(words[-12:])
    if isinstance(cap, int) and estimate_tokens(text) > cap:
        return text[: max(cap, 1) * 4], True
    return text, False


def _titan_text_reply(model_id: str, body: dict[str, Any], seed: str) -> dict[str, Any]:
    config = body.get("textGenerationConfig") or {}
    text, cut = _answer(body["inputText"], seed, config.get("maxTokenCount"))
    return {"inputTextTokenCount": estimate_tokens(body["inputText"]),
            "results": [{"tokenCount": estimate_tokens(text), "outputText": "\n" + text,
                         "completionReason": "LENGTH" if cut else "FINISHED"}]}


def _llama_reply(model_id: str, body: dict[str, Any], seed: str) -> dict[str, Any]:
    text, cut = _answer(body["prompt"], seed, body.get("max_gen_len"))
    return {"generation": text, "prompt_token_count": estimate_tokens(body["prompt"]),
            "generation_token_count": estimate_tokens(text),
            "stop_reason": "length" if cut else "stop"}


def _mistral_reply(model_id: str, body: dict[str, Any], seed: str) -> dict[str, Any]:
    text, cut = _answer(body["prompt"], seed, body.get("max_tokens"))
    return {"outputs": [{"text": " " + text, "stop_reason": "length" if cut else "stop"}]}


def _mistral_chat_reply(model_id: str, body: dict[str, Any], seed: str) -> dict[str, Any]:
    tools = [t["function"] for t in body.get("tools") or []]
    message: dict[str, Any] = {"role": "assistant"}
    if tools and body.get("tool_choice") == "any":
        arguments = fill_schema(tools[0].get("parameters") or {}, seed=seed)
        message.update(content="", tool_calls=[{"id": seed[:9], "function": {
            "name": tools[0]["name"], "arguments": json.dumps(arguments)}}])
        stop = "tool_calls"
    else:
        prompt = collect_text([t.get("content") for t in body["messages"]])
        text, cut = _answer(prompt, seed, body.get("max_tokens"))
        message.update(content=text, tool_calls=None)
        stop = "length" if cut else "stop"
    return {"id": seed[:32], "object": "chat.completion", "choices": [
        {"index": 0, "message": message, "stop_reason": stop}]}


def _deepseek_reply(model_id: str, body: dict[str, Any], seed: str) -> dict[str, Any]:
    text, cut = _answer(body["prompt"], seed, body.get("max_tokens"))
    return {"choices": [{"text": f"The user asks something; answer briefly.\n</think>\n\n{text}",
                         "stop_reason": "length" if cut else "stop"}]}


def _cohere_reply(model_id: str, body: dict[str, Any], seed: str) -> dict[str, Any]:
    size = int(body.get("output_dimension") or (1536 if "embed-v4" in model_id else 1024))
    vectors = []
    for index, _ in enumerate(body["texts"]):
        rng = random.Random(f"{seed}:{index}")
        raw = [rng.gauss(0.0, 1.0) for _ in range(size)]
        norm = math.sqrt(sum(x * x for x in raw)) or 1.0
        vectors.append([x / norm for x in raw])
    reply: dict[str, Any] = {"id": f"{seed[:8]}-{seed[8:12]}-{seed[12:16]}-{seed[16:20]}-"
                             f"{seed[20:32]}", "texts": body["texts"]}
    types = body.get("embedding_types")
    if types:
        packed = {"float": vectors,
                  "int8": [[max(-128, min(127, round(x * 127))) for x in v] for v in vectors],
                  "uint8": [[max(0, min(255, round(x * 127) + 128)) for x in v] for v in vectors]}
        reply["embeddings"] = {t: packed.get(t, [[int(x > 0) for x in v] for v in vectors])
                               for t in types}
        reply["response_type"] = "embeddings_by_type"
    else:
        reply["embeddings"] = vectors
        reply["response_type"] = "embeddings_floats"
    return reply


REPLIES: dict[str, Callable[[str, dict[str, Any], str], dict[str, Any]]] = {
    "titan-text": _titan_text_reply, "llama": _llama_reply, "mistral": _mistral_reply,
    "mistral-chat": _mistral_chat_reply, "deepseek": _deepseek_reply,
    "cohere-embed": _cohere_reply}
