"""Reading OpenAI-shaped batch INPUT lines (``{"custom_id", "method", "url", "body"}``) as
neutral requests: the format most users already have, and the one Azure OpenAI and Groq batch
files share.

Endpoints understood, with or without the ``/v1`` prefix (Azure's files say
``/chat/completions``): chat completions, responses, embeddings and moderations. Body fields
batchkit has a name for become their neutral fields (tools, tool calls and results, reasoning
effort, n, logprobs, response formats); the rest are kept in ``params`` and merged back
unchanged when the file is written for the same family again. Shapes: the OpenAI OpenAPI spec's
``CreateChatCompletionRequest``, ``CreateResponse``, ``CreateEmbeddingRequest`` and
``CreateModerationRequest`` (https://platform.openai.com/docs/api-reference/batch/request-input).

An embeddings or moderations line is one request whatever its ``input``: a string is its
``text``, a list of strings its ``texts`` (a list of one too, so the line is written back as a
list). A list of token ids (embeddings) or of image parts (moderations) is refused: batchkit
sends text.
"""

from __future__ import annotations

from typing import Any

from ..._requests import ChatRequest, EmbedRequest, ModerationRequest, Request
from .._reader_kit import build, chat_fields, fail, string_id, text_or_texts
from .responses_reader import responses_fields

__all__ = ["line_model", "looks_like", "neutral_chat_fields", "request_from_line"]

_SAME_NAME = ("max_tokens", "temperature", "top_p", "stop", "seed", "n", "logprobs",
              "top_logprobs", "parallel_tool_calls")
_ENDPOINTS = ("chat/completions", "responses", "embeddings", "moderations")


def looks_like(obj: dict[str, Any]) -> bool:
    """A batch line names its endpoint (``url``) beside the ``body``."""
    return "url" in obj and "body" in obj


def line_model(obj: dict[str, Any]) -> str | None:
    body = obj.get("body")
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else None


def request_from_line(obj: dict[str, Any], line_no: int, model: str | None) -> Request:
    """The request of one line (each line is one request)."""
    del model  # the line names its own
    cid = string_id(obj.get("custom_id"))
    body = obj.get("body")
    if not isinstance(body, dict):
        fail("'body' must be a JSON object", line_no, cid)
    if obj.get("method", "POST") != "POST":
        fail("'method' must be POST", line_no, cid)
    url = obj.get("url")
    endpoint = url.removeprefix("/").removeprefix("v1/") if isinstance(url, str) else None
    if endpoint not in _ENDPOINTS:
        fail(f"url {url!r} is not supported (use /v1/chat/completions, /v1/responses, "
             "/v1/embeddings or /v1/moderations, with or without /v1)", line_no, cid)
    extra = set(obj) - {"custom_id", "method", "url", "body"}
    if extra:
        fail(f"unknown line field(s) {', '.join(sorted(extra))} (a batch line holds "
             "custom_id, method, url and body)", line_no, cid)
    body = {k: v for k, v in body.items() if k != "model"}
    if endpoint == "embeddings":
        texts = text_or_texts(body.pop("input", None), line_no, cid,
                              "token ids are not read: batchkit sends text")
        return build(EmbedRequest, {"custom_id": cid, **texts,
                                    "dimensions": body.pop("dimensions", None),
                                    "params": body}, line_no)
    if endpoint == "moderations":
        texts = text_or_texts(body.pop("input", None), line_no, cid,
                              "image inputs are not read: batchkit sends text")
        return build(ModerationRequest, {"custom_id": cid, **texts, "params": body}, line_no)
    data: dict[str, Any] = {"custom_id": cid}
    if endpoint == "responses":
        data.update(responses_fields(body, line_no, cid))
    else:
        data["messages"] = body.pop("messages", None)
        data.update(neutral_chat_fields(body))
    data["params"] = body
    return build(ChatRequest, data, line_no)


def neutral_chat_fields(body: dict[str, Any]) -> dict[str, Any]:
    """Take the chat-body fields batchkit has names for out of ``body`` (what is left stays
    raw; ``_reader_kit.chat_fields``).

    ``max_completion_tokens`` is ``max_tokens`` (the older ``max_tokens`` is read too, and
    written back as ``max_completion_tokens``, its current name); ``response_format`` of type
    ``text`` is the default, so nothing (``read_requests(response_model=...)`` replaces a
    schema or JSON mode).
    """
    if "max_completion_tokens" in body and "max_tokens" not in body:
        body["max_tokens"] = body.pop("max_completion_tokens")
    return chat_fields(body, _SAME_NAME, ("json_schema", "json_object", "text"))
