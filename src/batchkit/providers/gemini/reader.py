"""Reading Gemini API batch INPUT lines (``{"key", "request"}``, the JSONL file of a batch
job; https://ai.google.dev/gemini-api/docs/batch-mode#input-file) as neutral requests.

A ``request`` holding ``contents`` is a ``GenerateContentRequest`` (chat, read by
:mod:`.request_reader`); one holding ``content`` is an ``EmbedContentRequest`` (embeddings:
``taskType`` is the input type, ``outputDimensionality`` the dimensions;
https://ai.google.dev/api/embeddings#request-body). ``key`` is the custom_id. Fields with no
neutral name are kept in ``params``.
"""

from __future__ import annotations

from typing import Any

from ..._requests import ChatRequest, EmbedRequest, Request
from .._reader_kit import build, fail, string_id
from .codec import EMBED_TASK_TYPES
from .request_reader import camel_keys, generate_content_fields

__all__ = ["embed_fields", "looks_like", "request_from_line"]

INPUT_TYPES = {task: neutral for neutral, task in EMBED_TASK_TYPES.items()}
"""``taskType`` -> neutral ``EmbedRequest.input_type``."""


def looks_like(obj: dict[str, Any]) -> bool:
    """A Gemini API batch line: ``key`` and ``request``."""
    return "key" in obj and "request" in obj


def request_from_line(obj: dict[str, Any], line_no: int, model: str | None) -> Request:
    del model  # a batch job names its model once, not per line
    cid = string_id(obj.get("key"))
    request = obj.get("request")
    if not isinstance(request, dict):
        fail("'request' must be a JSON object", line_no, cid)
    extra = set(obj) - {"key", "request"}
    if extra:
        fail(f"unknown line field(s) {', '.join(sorted(extra))} (a batch line holds key and "
             "request)", line_no, cid)
    if "content" in request:
        return build(EmbedRequest, {"custom_id": cid, **embed_fields(request, line_no, cid)},
                     line_no)
    return build(ChatRequest, {"custom_id": cid, **generate_content_fields(request, line_no,
                                                                            cid)}, line_no)


def embed_fields(request: dict[str, Any], line_no: int, cid: str | None) -> dict[str, Any]:
    """An ``EmbedContentRequest``'s text, task type and dimensions; the rest as ``params``."""
    body = camel_keys(request)
    content = body.pop("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list) or len(parts) != 1 or not isinstance(parts[0], dict) or set(
            parts[0]) != {"text"}:
        fail("'request.content' must hold one text part (an EmbedRequest is one text)",
             line_no, cid)
    data: dict[str, Any] = {"text": parts[0]["text"],
                            "dimensions": body.pop("outputDimensionality", None)}
    task = body.get("taskType")
    if task in INPUT_TYPES:
        data["input_type"] = INPUT_TYPES[body.pop("taskType")]
    body.pop("model", None)  # the job's model, chosen in the provider string
    data["params"] = body
    return data
