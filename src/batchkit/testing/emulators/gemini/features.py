"""Function calling, thinking, candidates and logprobs as both Google batch emulators answer them.

The Gemini API and Vertex AI run the same ``GenerateContentRequest``, so the Gemini and Vertex
emulators share this module: the rules the request types alone do not carry (a function
response must answer the calls of the turn right before it, one for one; ``allowedFunctionNames``
only with mode ``ANY`` and naming declared functions; a Pro model cannot turn thinking off;
``logprobs`` only with ``responseLogprobs``; ``candidateCount`` 1-8), and the candidates of an
answer: a function call whose ``args`` fit the declared schema when the config forces one
(``ANY``), a thought summary part when ``includeThoughts`` is set, ``candidateCount``
candidates, and ``logprobsResult`` when ``responseLogprobs`` is set. Rules and shapes follow
https://ai.google.dev/gemini-api/docs/function-calling, .../thinking and google-genai's types.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from batchkit.testing._schema_fill import SchemaFillError, fill_schema
from batchkit.testing._text import digest, estimate_tokens

MAX_CANDIDATES = 8
MAX_LOGPROBS = 20


def _get(obj: dict[str, Any], camel: str) -> Any:
    """A field by its lowerCamel name or its snake_case one: proto JSON reads both, and
    google-genai sends some fields (``parameters_json_schema``) in snake_case."""
    if camel in obj:
        return obj[camel]
    return obj.get(re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel))


def feature_problem(model: str, body: dict[str, Any]) -> str | None:
    """Why the API refuses ``body``'s tools, tool config, conversation or thinking, or None."""
    declared = [d.get("name") for t in body.get("tools") or [] if isinstance(t, dict)
                for d in _get(t, "functionDeclarations") or [] if isinstance(d, dict)]
    for tool in body.get("tools") or []:
        for declaration in _get(tool or {}, "functionDeclarations") or []:
            if "parameters" in declaration and _get(declaration, "parametersJsonSchema"):
                return ("* GenerateContentRequest.tools[0].function_declarations: parameters "
                        "and parameters_json_schema cannot both be set.")
    calling = (_get(_get(body, "toolConfig") or {}, "functionCallingConfig") or {})
    allowed = _get(calling, "allowedFunctionNames")
    if allowed and calling.get("mode") != "ANY":
        return ("* GenerateContentRequest.tool_config.function_calling_config."
                "allowed_function_names: only allowed when mode is ANY.")
    for name in allowed or ():
        if name not in declared:
            return (f"* GenerateContentRequest.tool_config.function_calling_config."
                    f"allowed_function_names: {name!r} is not a declared function.")
    if calling.get("mode") == "ANY" and not declared:
        return ("* GenerateContentRequest.tool_config.function_calling_config.mode: ANY needs "
                "function declarations.")
    problem = _turn_problem(body.get("contents") or [])
    if problem:
        return problem
    return _config_problem(model, _get(body, "generationConfig") or {})


def _turn_problem(contents: list[Any]) -> str | None:
    previous_calls = 0
    for content in contents:
        parts = [p for p in (content or {}).get("parts") or [] if isinstance(p, dict)]
        responses = sum(1 for p in parts if _get(p, "functionResponse") is not None)
        if responses and responses != previous_calls:
            return ("Please ensure that function response turn comes immediately after a "
                    "function call turn. And the number of function response parts should "
                    "be equal to number of function call parts of the function call turn.")
        previous_calls = sum(1 for p in parts if _get(p, "functionCall") is not None)
    return None


def _config_problem(model: str, config: dict[str, Any]) -> str | None:
    thinking = _get(config, "thinkingConfig") or {}
    if thinking and any(old in model for old in ("gemini-1.", "gemini-2.0")):
        return "* GenerateContentRequest.generation_config.thinking_config: thinking is not " \
               "supported by this model."
    if _get(thinking, "thinkingBudget") == 0 and "pro" in model:
        return "Budget 0 is invalid. This model only works in thinking mode."
    if "logprobs" in config and not _get(config, "responseLogprobs"):
        return "* GenerateContentRequest.generation_config.logprobs: logprobs is only " \
               "valid if response_logprobs is true."
    top = config.get("logprobs")
    if isinstance(top, int) and not 0 <= top <= MAX_LOGPROBS:
        return f"* GenerateContentRequest.generation_config.logprobs: must be in " \
               f"[0, {MAX_LOGPROBS}]."
    count = _get(config, "candidateCount")
    if isinstance(count, int) and not 1 <= count <= MAX_CANDIDATES:
        return f"* GenerateContentRequest.generation_config.candidate_count: must be in " \
               f"[1, {MAX_CANDIDATES}]."
    return None


# -- answers ---------------------------------------------------------------------------------


def forced_call(request: dict[str, Any], seed: str) -> dict[str, Any] | None:
    """The ``functionCall`` the config forces (mode ``ANY``), arguments fitting the schema."""
    calling = (_get(_get(request, "toolConfig") or {}, "functionCallingConfig") or {})
    if calling.get("mode") != "ANY":
        return None
    declarations = [d for t in request.get("tools") or [] for d in
                    _get(t or {}, "functionDeclarations") or []]
    allowed = _get(calling, "allowedFunctionNames")
    chosen = next((d for d in declarations if not allowed or d.get("name") in allowed), None)
    if chosen is None:
        return None
    schema = _get(chosen, "parametersJsonSchema")
    if schema is None:
        schema = openapi_to_json_schema(chosen.get("parameters") or {"type": "object"})
    try:
        args = fill_schema(schema, seed=seed)
    except SchemaFillError:
        args = {}
    return {"id": f"fc_{seed[:12]}", "name": chosen.get("name"), "args": args}


def candidates(model: str, request: dict[str, Any], seed: str,
               answer: Callable[[str], str]) -> tuple[list[dict[str, Any]], int, int]:
    """``(candidates, candidatesTokenCount, thoughtsTokenCount)`` for a valid request;
    ``answer(seed)`` is a candidate's text when no function call is forced."""
    config = _get(request, "generationConfig") or {}
    count = int(_get(config, "candidateCount") or 1)
    thinking = _get(config, "thinkingConfig") or {}
    thinks = "2.5" in model or "gemini-3" in model or bool(thinking)
    if _get(thinking, "thinkingBudget") == 0:
        thinks = False
    out, output_tokens, thought_tokens = [], 0, 0
    for index in range(count):
        own = digest(seed, str(index))
        parts: list[dict[str, Any]] = []
        if thinks and _get(thinking, "includeThoughts"):
            thought = f"Thinking ({own[:6]}) about what was asked before answering."
            parts.append({"text": thought, "thought": True})
        if thinks:
            thought_tokens += 8 + int(own[:2], 16) % 24
        call = forced_call(request, own)
        finish = "STOP"
        if call is not None:
            parts.append({"functionCall": call})
            output_tokens += estimate_tokens(json.dumps(call["args"]))
            text = ""
        else:
            text = answer(own)
            cap = _get(config, "maxOutputTokens")
            if isinstance(cap, int) and estimate_tokens(text) > cap:
                text, finish = text[: cap * 4], "MAX_TOKENS"
            parts.append({"text": text})
            output_tokens += estimate_tokens(text)
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts},
                                     "finishReason": finish, "index": index}
        if _get(config, "responseLogprobs") and text:
            candidate.update(_logprobs(text, own, int(config.get("logprobs") or 0)))
        out.append(candidate)
    return out, output_tokens, thought_tokens


def _logprobs(text: str, seed: str, top: int) -> dict[str, Any]:
    tokens = text.split(" ")
    chosen: list[dict[str, Any]] = []
    tops: list[dict[str, Any]] = []
    for step, token in enumerate(tokens):
        token = token if step == len(tokens) - 1 else token + " "
        value = -((int(digest(seed, str(step))[:4], 16) % 2000) / 1000.0)
        chosen.append({"token": token, "logProbability": value})
        alternatives = [{"token": token, "logProbability": value}]
        alternatives += [{"token": f"alt{k}", "logProbability": value - k - 1.0}
                         for k in range(max(top - 1, 0))]
        tops.append({"candidates": alternatives[:top]})
    total = sum(c["logProbability"] for c in chosen)
    result: dict[str, Any] = {"chosenCandidates": chosen, "logProbabilitySum": total}
    if top:
        result["topCandidates"] = tops
    return {"logprobsResult": result, "avgLogprobs": total / len(chosen)}


def openapi_to_json_schema(schema: Any) -> Any:
    """Gemini's OpenAPI ``Schema`` (``type: OBJECT``, ``nullable``) as JSON Schema, enough for
    generating an instance: upper-case types lowered, Gemini-only keys dropped."""
    if isinstance(schema, list):
        return [openapi_to_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            out[key] = value.lower()
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: openapi_to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "anyOf"):
            out[key] = openapi_to_json_schema(value)
        elif key not in ("nullable", "propertyOrdering", "example"):
            out[key] = value
    return out
