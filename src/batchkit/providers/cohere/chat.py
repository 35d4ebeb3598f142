"""Cohere's batch chat records: a ``/v2/chat`` body per line, and the ``ChatResponseV2`` back.
Pure: no SDK, no I/O. Embed jobs and job states live in :mod:`.codec`.

The v2 features are spelt as Cohere's v2 chat schema has them (API reference ``/v2/chat``, the
``cohere`` SDK's ``ToolV2``, ``ToolCallV2``, ``AssistantMessageV2``, ``ToolMessageV2``,
``Thinking``, ``ResponseFormatV2``, ``LogprobItem``; https://docs.cohere.com/docs/tool-use,
https://docs.cohere.com/docs/reasoning):

* tools: ``{"type": "function", "function": {name, description, parameters}}``; a tool with
  ``strict=True`` turns on the request's ``strict_tools`` (Cohere has it per request, not per
  tool); ``tool_choice`` ``required`` / ``none`` as ``REQUIRED`` / ``NONE``, ``auto`` by leaving
  it out (Cohere's default); a named tool has no Cohere spelling (refused by the capability
  table, with the way round);
* a replayed conversation: assistant ``tool_calls`` (arguments as JSON text), ``tool`` messages
  with ``tool_call_id``;
* reasoning: ``thinking: {"type": "enabled", "token_budget"}`` (an effort level becomes a
  budget by :data:`EFFORT_BUDGETS`), ``off`` is ``{"type": "disabled"}``;
* ``logprobs: true`` (Cohere returns the chosen tokens' log probabilities, no alternatives);
* ``response_schema`` as ``{"type": "json_object", "json_schema"}``, ``json_mode`` as
  ``{"type": "json_object"}``.

Decoded: text parts, ``thinking`` parts into ``reasoning``, ``tool_calls``, ``logprobs``, and the
finish reason in batchkit's words (``ERROR`` / ``TIMEOUT`` are errored results).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any, NoReturn

import orjson
from pydantic import BaseModel

from ..._exceptions import InvalidRequestError
from ..._requests import ChatRequest, ImagePart, Message, TextPart
from ..._results import ErrorInfo, FinishReason, Result, ResultStatus, Usage, finish_reason
from ..._tools import tool_call_from_raw
from .._capabilities import vendor_params

__all__ = [
    "CHAT_FIELDS",
    "EFFORT_BUDGETS",
    "FINISH_REASONS",
    "check_chat",
    "decode_chat_record",
    "encode_chat",
    "passing_error",
]

CHAT_FIELDS = frozenset({
    "messages", "tools", "strict_tools", "documents", "citation_options", "response_format",
    "safety_mode", "max_tokens", "stop_sequences", "temperature", "seed", "frequency_penalty",
    "presence_penalty", "k", "p", "logprobs", "tool_choice", "thinking", "priority",
})
"""The ``/v2/chat`` request fields a batch line's body may carry (``model`` and ``stream``
aside: the batch names the model, batches never stream); a test compares them with the spec
and with the SDK's ``V2ChatRequest`` parameters."""
EFFORT_BUDGETS: Mapping[str, int] = {"minimal": 512, "low": 1024, "medium": 8192, "high": 24576}
"""Effort level -> ``thinking.token_budget``, the same figures batchkit uses for every vendor
that thinks by budget; pass ``budget_tokens`` for any other."""
FINISH_REASONS: dict[str, FinishReason] = {
    "COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
}
"""``ChatFinishReason`` in batchkit's words; ``ERROR`` and ``TIMEOUT`` make errored results."""


def check_chat(request: ChatRequest) -> None:
    """Refuse what Cohere's v2 chat body (spec ``/v2/chat``) cannot express."""
    cid = request.custom_id

    def fail(rule: str) -> NoReturn:
        raise InvalidRequestError(rule, custom_id=cid)

    scoped = request.params.get("cohere")
    for key in ("model", "stream"):
        if key in request.params or (isinstance(scoped, Mapping) and key in scoped):
            fail(f"params must not set {key!r} (the batch names the model; batches never stream)")
    for key in scoped if isinstance(scoped, Mapping) else ():
        if key not in CHAT_FIELDS:
            fail(f"params['cohere'] {key!r} is not a field of Cohere's v2 chat request")
    cohere_params(request)
    if request.temperature is not None and request.temperature > 1:
        fail("Cohere takes temperature between 0 and 1")
    if request.top_p is not None and not 0.01 <= request.top_p <= 0.99:
        fail("Cohere takes top_p (its 'p') between 0.01 and 0.99")
    if request.stop is not None and len(request.stop) > 5:
        fail("Cohere takes at most 5 stop sequences")
    if request.seed is not None and request.seed < 0:
        fail("Cohere takes a seed of 0 or more")
    if request.top_logprobs:
        fail("Cohere returns only the chosen tokens' logprobs; leave top_logprobs unset")
    for m in request.messages:
        if m.role != "user" and any(isinstance(p, ImagePart) for p in m.parts):
            fail(f"images are only allowed in user messages, not {m.role!r} ones")


def cohere_params(request: ChatRequest) -> dict[str, Any]:
    """The raw params for Cohere's body (another vendor's scope left out, an unscoped field
    the v2 chat request lacks refused)."""
    if not request.params:  # most rows: nothing to scope, so no registry lookup per row
        return {}
    from ..._registry import available_providers

    vendors = [name for name, _, _ in available_providers()]
    return vendor_params(request, "cohere", vendors, CHAT_FIELDS)


def encode_chat(request: ChatRequest, vendor_id: str) -> bytes:
    """One ``batch-chat-v2-input`` line: ``{"custom_id", "body"}``, the body a ``/v2/chat``
    request without ``model`` (the batch names it). Raw params are merged last."""
    body: dict[str, Any] = {"messages": [_message(m) for m in request.messages]}
    for key, value in (("max_tokens", request.max_tokens), ("temperature", request.temperature),
                       ("p", request.top_p), ("stop_sequences", request.stop),
                       ("seed", request.seed)):
        if value is not None:
            body[key] = value
    if request.tools:
        body["tools"] = [{"type": "function", "function": {
            "name": t.name, "parameters": t.parameters,
            **({"description": t.description} if t.description else {})}}
            for t in request.tools]
        if any(t.strict for t in request.tools):
            body["strict_tools"] = True
    if request.tool_choice in ("required", "none"):
        body["tool_choice"] = request.tool_choice.upper()
    if request.reasoning is not None:
        reasoning = request.reasoning
        budget = reasoning.budget_tokens or EFFORT_BUDGETS.get(str(reasoning.effort))
        body["thinking"] = {"type": "disabled"} if reasoning.off else {
            "type": "enabled", "token_budget": budget}
    if request.logprobs:
        body["logprobs"] = True
    if request.response_model is not None:
        body["response_format"] = {"type": "json_object",
                                   "json_schema": _json_schema(request.response_model)}
    elif request.response_schema is not None:
        body["response_format"] = {"type": "json_object", "json_schema": request.response_schema}
    elif request.json_mode:
        body["response_format"] = {"type": "json_object"}
    body.update(cohere_params(request))
    return orjson.dumps({"custom_id": vendor_id, "body": body})


@cache
def _json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A response model's JSON schema, built once per class (building it takes about as long as
    encoding a thousand lines); shared by every line, so read-only."""
    return model.model_json_schema()


def _message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.text}
    if message.role == "assistant":
        out: dict[str, Any] = {"role": "assistant"}
        if message.content is not None:
            out["content"] = message.text
        if message.tool_calls:
            out["tool_calls"] = [{"id": c.id, "type": "function", "function": {
                "name": c.name, "arguments": orjson.dumps(c.arguments).decode()}}
                for c in message.tool_calls]
        return out
    if isinstance(message.content, str) or message.role != "user":
        return {"role": message.role, "content": message.text}
    parts: list[dict[str, Any]] = []
    for p in message.parts:
        if isinstance(p, ImagePart):
            url = p.url if p.url is not None else f"data:{p.media_type};base64,{p.data}"
            image: dict[str, Any] = {"url": url}
            if p.detail is not None:
                image["detail"] = p.detail
            parts.append({"type": "image_url", "image_url": image})
        elif isinstance(p, TextPart):
            parts.append({"type": "text", "text": p.text})
    return {"role": "user", "content": parts}


# -- decode ----------------------------------------------------------------------------------

_PASSING_STATUS = re.compile(r"^\s*(?:HTTP\s*)?(?:429|5\d\d)\b")


def passing_error(text: str) -> bool:
    """Whether a batch record's ``error`` names a passing failure (HTTP 429 or 5xx), worth
    running the request again. Cohere documents the field only as free text, so only a text that
    opens with such a status (``"429: ..."``) counts; anything else is final."""
    return _PASSING_STATUS.match(text) is not None


def decode_chat_record(cid: str, obj: dict[str, Any]) -> Result:
    """One batch output record ``{"custom_id", "body" | "error"}`` -> a Result."""
    error = obj.get("error")
    body = obj.get("body")
    if isinstance(body, str) and body:  # a body stored as JSON text reads the same
        body = orjson.loads(body)
    if error:
        return Result(cid, "errored", raw=obj, error=ErrorInfo(
            "request_failed", str(error), retryable=passing_error(str(error))))
    if not isinstance(body, dict):
        raise ValueError(f"record for {cid!r} has neither an error nor a body")
    message = body.get("message") or {}
    content = [p for p in message.get("content") or [] if isinstance(p, dict)]
    texts = [str(p.get("text") or "") for p in content if p.get("type") == "text"]
    thoughts = [str(p.get("thinking") or "") for p in content if p.get("type") == "thinking"]
    calls = [tool_call_from_raw(str(c.get("id") or ""), str(fn.get("name") or ""),
                                fn.get("arguments"))
             for c in message.get("tool_calls") or [] if isinstance(c, dict)
             for fn in [c.get("function") or {}]]
    reason = body.get("finish_reason")
    vendor_reason = str(reason) if reason else None
    status: ResultStatus = "errored" if reason in ("ERROR", "TIMEOUT") else "succeeded"
    error_info = (ErrorInfo(str(reason).lower(), "the generation ended with " + str(reason),
                            retryable=True) if status == "errored" else None)
    return Result(cid, status, text="".join(texts) if texts else None,
                  finish_reason=finish_reason(vendor_reason, FINISH_REASONS),
                  vendor_finish_reason=vendor_reason, tool_calls=calls,
                  reasoning="".join(thoughts) or None, logprobs=_logprobs(body.get("logprobs")),
                  usage=_usage(body.get("usage")), error=error_info, raw={**obj, "body": body})


def _logprobs(items: Any) -> list[dict[str, Any]] | None:
    """``LogprobItem``s (a text and the logprob of each of its token ids) -> per token."""
    if not isinstance(items, list):
        return None
    return [{"token": item.get("text"), "logprob": sum(item.get("logprobs") or []),
             "top_logprobs": []} for item in items if isinstance(item, dict)]


def _usage(usage: Any) -> Usage | None:
    """Billed units when given (what is paid for), else the token counts."""
    if not isinstance(usage, dict):
        return None
    counted = usage.get("billed_units") or usage.get("tokens") or {}
    return Usage(input_tokens=int(counted.get("input_tokens") or 0),
                 output_tokens=int(counted.get("output_tokens") or 0),
                 cached_input_tokens=int(usage.get("cached_tokens") or 0))
