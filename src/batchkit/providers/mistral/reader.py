"""Reading Mistral batch INPUT lines (``{"custom_id", "body"}``, no method or url: the job
names its endpoint and model; https://docs.mistral.ai/capabilities/batch) as neutral requests.
Together's batch files have the same envelope with the model in the body
(https://docs.together.ai/docs/batch-inference), so this reader reads them too.

A body with ``messages`` is a chat request (``ChatCompletionRequest``: ``random_seed`` — or
``seed`` — is the seed, ``reasoning_effort`` the reasoning effort, function tools and choices
as in the OpenAI family); one with ``input`` is an embedding (``output_dimension`` the
dimensions), or a moderation when the model is one of Mistral's moderation models. A moderation
line (``ClassificationRequest``, https://docs.mistral.ai/api/#tag/batch) is spelt like an
embedding line (``{"input"}``, the model named on the job), so only the model tells them apart:
the body's ``model``, else the one named for the file (``format="mistral:<model>"``), looked up
in the price catalog. An ``input`` list of strings is one request's ``texts`` (a list of one
too, so the line is written back as a list). Fields with no neutral name are kept in ``params``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..._requests import ChatRequest, EmbedRequest, ModerationRequest, Request
from .._reader_kit import build, chat_fields, id_and_body, text_or_texts

__all__ = ["line_model", "looks_like", "request_from_line"]

_SAME_NAME = ("max_tokens", "temperature", "top_p", "stop", "n", "parallel_tool_calls")


def looks_like(obj: dict[str, Any]) -> bool:
    """``custom_id`` and ``body`` with no endpoint ``url`` beside them."""
    return "custom_id" in obj and "body" in obj and "url" not in obj


def line_model(obj: dict[str, Any]) -> str | None:
    body = obj.get("body")
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else None


def request_from_line(obj: dict[str, Any], line_no: int, model: str | None) -> Request:
    """The request of one line (each line is one request)."""
    cid, body = id_and_body(obj, line_no)
    named = line_model(obj) or model
    body = {k: v for k, v in body.items() if k != "model"}
    if "input" in body:
        texts = text_or_texts(body.pop("input"), line_no, cid,
                              "token ids are not read: batchkit sends text")
        if _moderates(named):
            return build(ModerationRequest, {"custom_id": cid, **texts, "params": body},
                         line_no)
        dimensions = body.pop("output_dimension", body.pop("dimensions", None))
        return build(EmbedRequest, {"custom_id": cid, **texts, "dimensions": dimensions,
                                    "params": body}, line_no)
    data: dict[str, Any] = {"custom_id": cid, "messages": _messages(body.pop("messages", None))}
    for seed in ("random_seed", "seed"):
        if seed in body:
            data["seed"] = body.pop(seed)
    data.update(chat_fields(body, _SAME_NAME, ("json_schema", "json_object")))
    data["params"] = body
    return build(ChatRequest, data, line_no)


def _messages(messages: Any) -> Any:
    """A tool message's ``name`` repeats its call's tool name (Mistral requires it): left out,
    as the neutral tool message is matched by ``tool_call_id``."""
    if not isinstance(messages, list):
        return messages
    return [{k: v for k, v in m.items() if k != "name"}
            if isinstance(m, dict) and m.get("role") == "tool" else m for m in messages]


@lru_cache(maxsize=64)
def _moderates(model: str | None) -> bool:
    """Whether the price catalog (with the user's rows) lists ``model`` as a Mistral moderation
    model: what tells a moderation line from an embedding line."""
    if model is None:
        return False
    from ...cost import load_catalog

    row = load_catalog().rows.get(f"mistral:{model}")
    return row is not None and row.kind == "moderation"
