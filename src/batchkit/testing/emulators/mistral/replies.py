"""Mistral's bodies for the emulator: replies, error bodies, and each line's body validation.

Why a module of its own: what Mistral answers differs from OpenAI in the details batchkit
decodes. Chat replies have no ``refusal`` or token details, embeddings report
``completion_tokens: 0``, and errors are ``{"object": "error", "message", "type", "param",
"code"}``, where a request that fails validation (HTTP 422) carries its pydantic report as the
message: ``{"detail": [{"type", "loc", "msg"}]}`` (shapes seen in public issue reports against
api.mistral.ai). The ``mistralai`` SDK's ``ChatCompletionResponse`` and ``EmbeddingResponse``
parse every reply (a test checks). Replies are a pure function of the request.
"""

from __future__ import annotations

import base64
import json
import re
import struct
from collections.abc import Callable
from typing import Any

from batchkit.testing import _spec
from batchkit.testing._schema_fill import fill_schema
from batchkit.testing._text import collect_text, digest, estimate_tokens
from batchkit.testing.emulators._moderation import verdicts
from batchkit.testing.emulators.openai.replies import unit_vector

Responder = Callable[[str, dict[str, Any], str], dict[str, Any]]
"""``responder(endpoint, body, custom_id) -> response body`` for one batch line."""

BODY_SCHEMAS = {
    "/v1/chat/completions": "ChatCompletionRequest",
    "/v1/embeddings": "EmbeddingRequest",
    "/v1/moderations": "ClassificationRequest",
}
EMBEDDING_DIMENSIONS = {"mistral-embed": (1024, 1024), "codestral-embed": (1536, 3072)}
"""Model -> (native, largest ``output_dimension``); codestral-embed is Matryoshka-style."""
_DEFAULT_DIMENSIONS = (1024, 1024)
_DEEPER = re.compile(r" \(at (\$[^)]*)\)$")


class ReplyError(Exception):
    """Raised by a responder: the line fails with this HTTP status and Mistral error body."""

    def __init__(self, status_code: int, message: Any, *, type: str = "invalid_request_error",
                 code: str | None = None) -> None:
        super().__init__(str(message))
        self.status_code = status_code
        self.body = error_body(message, type=type, code=code)


def error_body(message: Any, *, type: str = "invalid_request_error",
               code: str | None = None) -> dict[str, Any]:
    """Mistral's error object (``message`` is a string, or a 422 ``{"detail": [...]}``)."""
    return {"object": "error", "message": message, "type": type, "param": None, "code": code}


def validation_detail(problems: list[str], prefix: tuple[str | int, ...] = ("body",)
                      ) -> dict[str, Any]:
    """The 422 ``message`` for ``_spec.validate`` problems (``"$.a[0].b: message"``)."""
    detail = []
    for problem in problems:
        path, _, message = problem.partition(": ")
        deeper = _DEEPER.search(message)  # a failed anyOf names its most specific branch
        if deeper:
            path, message = deeper.group(1), message[:deeper.start()]
        detail.append({"type": "value_error", "loc": [*prefix, *_loc(path)], "msg": message})
    return {"detail": detail}


def _loc(path: str) -> list[str | int]:
    """``$.requests[3].body`` -> ``["requests", 3, "body"]``."""
    loc: list[str | int] = []
    for part in path.removeprefix("$").replace("[", ".[").split("."):
        if part.startswith("["):
            loc.append(int(part[1:-1]))
        elif part:
            loc.append(part)
    return loc


def check_body(endpoint: str, body: dict[str, Any]) -> ReplyError | None:
    """The 422 a real request with this body would get, or None when the body is valid."""
    problems = _spec.validate("mistral", BODY_SCHEMAS[endpoint], body)
    if problems:
        return ReplyError(422, validation_detail(problems))
    problem = _tool_problem(body) if endpoint == "/v1/chat/completions" else None
    return ReplyError(400, problem) if problem else None


_CALL_ID = re.compile(r"^[A-Za-z0-9]{9}$")


def _tool_problem(body: dict[str, Any]) -> str | None:
    """What Mistral refuses about tools beyond the schema: call ids that are not nine letters or
    digits, a tool result answering no earlier call, a tool choice with no tools or naming
    none of them."""
    called: set[str] = set()
    for message in body.get("messages") or []:
        for call in message.get("tool_calls") or []:
            if not _CALL_ID.match(str(call.get("id"))):
                return (f"Tool call id was {call.get('id')} but must be a-z, A-Z, 0-9, with a "
                        "length of 9.")
            called.add(str(call["id"]))
        if message.get("role") == "tool" and message.get("tool_call_id") not in called:
            return (f"Tool message with tool_call_id {message.get('tool_call_id')} has no "
                    "matching tool call in a previous assistant message.")
    names = [t["function"]["name"] for t in body.get("tools") or []]
    choice = body.get("tool_choice")
    if choice not in (None, "auto", "none") and not names:
        return "tool_choice requires tools to be set."
    if isinstance(choice, dict) and choice["function"]["name"] not in names:
        return f"tool_choice names function {choice['function']['name']} which is not in tools."
    return None


def _forced_calls(body: dict[str, Any], seed: str) -> list[dict[str, Any]] | None:
    """The tool call Mistral makes when ``tool_choice`` forces one (``any`` / ``required`` /
    a named function), arguments fitting the function's parameters schema."""
    choice = body.get("tool_choice")
    tools = [t["function"] for t in body.get("tools") or []]
    if choice in (None, "auto", "none") or not tools:
        return None
    wanted = choice["function"]["name"] if isinstance(choice, dict) else tools[0]["name"]
    function = next(f for f in tools if f["name"] == wanted)
    arguments = fill_schema(function.get("parameters") or {"type": "object"}, seed=seed)
    call_id = "".join(c for c in seed if c.isalnum())[:9]
    return [{"id": call_id, "type": "function", "index": 0, "function": {
        "name": wanted, "arguments": json.dumps(arguments, ensure_ascii=False)}}]



def chat_completion(body: dict[str, Any], custom_id: str) -> dict[str, Any]:
    """A ``chat.completion`` reply: ``n`` choices, each a forced tool call or a text (JSON
    that satisfies a ``json_schema`` response format), led by a ``thinking`` chunk when a
    ``reasoning_effort`` other than ``none`` is asked for."""
    seed = digest("mistral-chat", custom_id, json.dumps(body, sort_keys=True))
    prompt = collect_text(body.get("messages", []))
    choices, completion_tokens = [], 0
    for index in range(int(body.get("n") or 1)):
        choice, tokens = _choice(body, digest(seed, str(index)), prompt, index)
        choices.append(choice)
        completion_tokens += tokens
    prompt_tokens = estimate_tokens(prompt) + 3 * len(body.get("messages", []))
    return {
        "id": seed[:32],
        "object": "chat.completion",
        "model": str(body.get("model")),
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
        "created": 0,
        "choices": choices,
    }


def _choice(body: dict[str, Any], seed: str, prompt: str, index: int
            ) -> tuple[dict[str, Any], int]:
    calls = _forced_calls(body, seed)
    if calls is not None:
        tokens = estimate_tokens(calls[0]["function"]["arguments"])
        return {"index": index, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "", "tool_calls": calls}}, tokens
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        text = json.dumps(fill_schema(schema, seed=seed), ensure_ascii=False)
    elif response_format.get("type") == "json_object":
        text = json.dumps({"answer": seed[:8]})
    else:
        words = prompt.split()
        text = f"Emulated answer ({seed[:8]}) to: " + " ".join(words[:12])
    cap = body.get("max_tokens")
    truncated = False
    if isinstance(cap, int) and estimate_tokens(text) > cap:  # cut as the vendor does
        text, truncated = text[: cap * 4], True
    tokens = estimate_tokens(text) if text else 0
    content: Any = text
    if body.get("reasoning_effort") not in (None, "none"):
        thought = f"Thinking ({seed[:6]}) about the question first."
        content = [{"type": "thinking", "thinking": [{"type": "text", "text": thought}]},
                   {"type": "text", "text": text}]
        tokens += estimate_tokens(thought)
    return {"index": index, "finish_reason": "length" if truncated else "stop",
            "message": {"role": "assistant", "content": content, "tool_calls": None}}, tokens


def embedding_list(body: dict[str, Any]) -> dict[str, Any]:
    """Unit vectors of the model's dimension (or ``output_dimension``, up to the model's most)."""
    model = str(body.get("model"))
    native, largest = EMBEDDING_DIMENSIONS.get(model, _DEFAULT_DIMENSIONS)
    size = body.get("output_dimension") or native
    if size > largest:
        raise ReplyError(400, f"output_dimension must be at most {largest} for model {model}")
    raw_input = body.get("input")
    inputs = raw_input if isinstance(raw_input, list) else [raw_input]
    data = []
    for index, text in enumerate(inputs):
        vector: Any = unit_vector(model, str(text), size)
        if body.get("encoding_format") == "base64":
            vector = base64.b64encode(struct.pack(f"<{size}f", *vector)).decode("ascii")
        data.append({"object": "embedding", "embedding": vector, "index": index})
    tokens = sum(estimate_tokens(str(text)) for text in inputs)
    return {
        "id": digest("mistral-embed", json.dumps(body, sort_keys=True))[:32],
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
    }


MISTRAL_CATEGORIES = {
    "sexual": [], "hate_and_discrimination": ["hate"], "violence_and_threats": ["violence"],
    "dangerous_and_criminal_content": [], "selfharm": ["self-harm"], "health": [],
    "financial": [], "law": [], "pii": [],
}
"""mistral-moderation's categories (https://docs.mistral.ai/usage/guardrailing) and the
emulator's triggers."""


def moderation(body: dict[str, Any]) -> dict[str, Any]:
    """A ``ModerationResponse``: per input text, each category's flag and score (Mistral gives
    no overall ``flagged``)."""
    model = str(body.get("model"))
    return {"id": digest("mistral-moderation", json.dumps(body, sort_keys=True))[:32],
            "model": model, "results": verdicts(model, body.get("input"), MISTRAL_CATEGORIES)}


def default_responder(endpoint: str, body: dict[str, Any], custom_id: str) -> dict[str, Any]:
    """The stock replies (the job stamps ``created`` with its clock afterwards)."""
    if endpoint == "/v1/chat/completions":
        return chat_completion(body, custom_id)
    if endpoint == "/v1/moderations":
        return moderation(body)
    return embedding_list(body)


def injected_error(status_code: int) -> dict[str, Any]:
    """The body of an injected per-request failure with ``status_code``."""
    if status_code == 429:
        return error_body("Requests rate limit exceeded", type="rate_limited")
    if status_code >= 500:
        return error_body("Internal server error", type="internal_server_error")
    return error_body("Prompt contains more tokens than the model's maximum context length")


def break_json(reply: dict[str, Any]) -> dict[str, Any]:
    """The ``invalid_json`` fault: cut a chat reply's text so it no longer parses as JSON."""
    broken: dict[str, Any] = json.loads(json.dumps(reply))
    for choice in broken.get("choices", []):
        content = choice["message"].get("content") or ""
        choice["message"]["content"] = content[: max(1, len(content) // 2)] + "…"
    return broken
