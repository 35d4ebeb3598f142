"""Reading Vertex AI batch prediction INPUT lines as neutral requests.

Gemini models take ``{"request": GenerateContentRequest}`` lines
(https://cloud.google.com/vertex-ai/generative-ai/docs/multimodal/batch-prediction-from-cloud-storage),
read by the shared :mod:`..gemini.request_reader`; a request's ``labels`` are kept in
``params`` except ``batchkit_id``, which is the custom_id (batchkit writes it to match rows).
Embedding models take instance lines ``{"content", "task_type", "title"}``
(https://cloud.google.com/vertex-ai/generative-ai/docs/embeddings/batch-prediction-genai-embeddings).
A line without batchkit's id — a file batchkit did not write — is named ``row-<line>``.
"""

from __future__ import annotations

from typing import Any

from ..._requests import ChatRequest, EmbedRequest, Request
from .._reader_kit import build, fail, string_id
from ..gemini.reader import INPUT_TYPES
from ..gemini.request_reader import generate_content_fields
from .codec import ID_LABEL, KEY_FIELD

__all__ = ["looks_like", "request_from_line"]


def looks_like(obj: dict[str, Any]) -> bool:
    """A ``request`` line without Gemini's ``key``, or an embedding instance (``content``
    text)."""
    return ("request" in obj and "key" not in obj) or (
        isinstance(obj.get("content"), str) and "custom_id" not in obj)


def request_from_line(obj: dict[str, Any], line_no: int, model: str | None) -> Request:
    del model  # a batch prediction job names its model once
    if "request" not in obj:
        return _embedding(dict(obj), line_no)
    request = obj.get("request")
    labels = request.get("labels") if isinstance(request, dict) else None
    cid = string_id(labels.get(ID_LABEL)) if isinstance(labels, dict) else None
    if not isinstance(request, dict):
        fail("'request' must be a JSON object (a GenerateContentRequest)", line_no, cid)
    if set(obj) != {"request"}:
        fail(f"unknown line field(s) {', '.join(sorted(set(obj) - {'request'}))} (a batch "
             "line holds request)", line_no, cid)
    data = generate_content_fields(request, line_no, cid)
    if isinstance(labels, dict):
        rest = {k: v for k, v in labels.items() if k != ID_LABEL}
        if rest:
            data["params"]["labels"] = rest
        else:
            del data["params"]["labels"]
    return build(ChatRequest, {"custom_id": cid or f"row-{line_no}", **data}, line_no)


def _embedding(row: dict[str, Any], line_no: int) -> Request:
    cid = row.pop(KEY_FIELD, None)
    data: dict[str, Any] = {"custom_id": cid if cid is not None else f"row-{line_no}",
                            "text": row.pop("content")}
    if row.get("task_type") in INPUT_TYPES:
        data["input_type"] = INPUT_TYPES[row.pop("task_type")]
    data["params"] = row
    return build(EmbedRequest, data, line_no)
