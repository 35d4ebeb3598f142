"""Reading Mistral batch INPUT lines (``{"custom_id", "body"}``, no method or url: the job
names its endpoint and model; https://docs.mistral.ai/capabilities/batch) as neutral requests.
Together's batch files have the same envelope with the model in the body
(https://docs.together.ai/docs/batch-inference), so this reader reads them too.

A body with ``messages`` is a chat request (``ChatCompletionRequest``: ``random_seed`` — or
``seed`` — is the seed, ``reasoning_effort`` the reasoning effort, function tools and choices
as in the OpenAI family); one with ``input`` is an embedding (``output_dimension`` the
dimensions; a list of texts is one request per text, ``<custom_id>#<i>``). Fields with no
neutral name are kept in ``params``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..._requests import ChatRequest, EmbedRequest, Request
from .._reader_kit import build, fail, function_tool, function_tool_choice, string_id

__all__ = ["line_model", "looks_like", "request_from_line", "requests_from_line"]

_SAME_NAME = ("max_tokens", "temperature", "top_p", "stop", "n", "parallel_tool_calls")
_EFFORTS = {"none": "off", "minimal": "minimal", "low": "low", "medium": "medium",
            "high": "high"}


def looks_like(obj: dict[str, Any]) -> bool:
    """``custom_id`` and ``body`` with no endpoint ``url`` beside them."""
    return "custom_id" in obj and "body" in obj and "url" not in obj


def line_model(obj: dict[str, Any]) -> str | None:
    body = obj.get("body")
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else None


def request_from_line(obj: dict[str, Any], line_no: int, model: str | None) -> Request:
    found = list(requests_from_line(obj, line_no, model))
    if len(found) != 1:
        fail(f"embedding 'input' holds {len(found)} texts: read the file with read_requests, "
             "which splits it into one request per text", line_no, string_id(obj.get("custom_id")))
    return found[0]


def requests_from_line(obj: dict[str, Any], line_no: int, model: str | None) -> Iterator[Request]:
    del model  # the job names it (or the body does)
    cid = string_id(obj.get("custom_id"))
    body = obj.get("body")
    if not isinstance(body, dict):
        fail("'body' must be a JSON object", line_no, cid)
    if set(obj) != {"custom_id", "body"}:
        fail(f"unknown line field(s) {', '.join(sorted(set(obj) - {'custom_id', 'body'}))} (a "
             "batch line holds custom_id and body)", line_no, cid)
    body = {k: v for k, v in body.items() if k != "model"}
    if "input" in body:
        yield from _embeddings(cid, body, line_no)
        return
    data: dict[str, Any] = {"custom_id": cid, "messages": _messages(body.pop("messages", None))}
    for name in _SAME_NAME:
        if name in body:
            data[name] = body.pop(name)
    for seed in ("random_seed", "seed"):
        if seed in body:
            data["seed"] = body.pop(seed)
    if isinstance(data.get("stop"), str):
        data["stop"] = [data["stop"]]
    if isinstance(body.get("tools"), list):
        data["tools"] = [function_tool(t) for t in body.pop("tools")]
    if "tool_choice" in body:
        data["tool_choice"] = function_tool_choice(body.pop("tool_choice"))
    if body.get("reasoning_effort") in _EFFORTS:
        data["reasoning"] = {"effort": _EFFORTS[body.pop("reasoning_effort")]}
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_schema", "json_object"):
        del body["response_format"]
        if fmt["type"] == "json_object":
            data["json_mode"] = True
        else:
            spec = fmt.get("json_schema") or {}
            data["response_schema"] = {**(spec.get("schema") or {}), "title": spec.get("name")}
    data["params"] = body
    yield build(ChatRequest, data, line_no)


def _messages(messages: Any) -> Any:
    """A tool message's ``name`` repeats its call's tool name (Mistral requires it): left out,
    as the neutral tool message is matched by ``tool_call_id``."""
    if not isinstance(messages, list):
        return messages
    return [{k: v for k, v in m.items() if k != "name"}
            if isinstance(m, dict) and m.get("role") == "tool" else m for m in messages]


def _embeddings(cid: str | None, body: dict[str, Any], line_no: int) -> Iterator[Request]:
    text = body.pop("input")
    shared = {"dimensions": body.pop("output_dimension", body.pop("dimensions", None)),
              "params": body}
    if isinstance(text, list) and all(isinstance(t, str) for t in text) and len(text) > 1:
        for i, one in enumerate(text):
            yield build(EmbedRequest, {"custom_id": f"{cid}#{i}", "text": one, **shared},
                        line_no)
        return
    if isinstance(text, list) and len(text) == 1:
        text = text[0]
    yield build(EmbedRequest, {"custom_id": cid, "text": text, **shared}, line_no)
