"""Reading Cohere embed-job dataset rows (``embed-input`` JSONL: one ``{"text", ...}`` object
per row; https://docs.cohere.com/docs/embed-jobs-api) as neutral embedding requests.

``text`` is the text; ``batchkit_id`` (what batchkit writes to match rows) is the custom_id,
else the row is named ``row-<line>``; every other field is metadata, which Cohere keeps beside
the embedding (``keep_fields``) and batchkit writes back into the row. A row carrying ``id``,
``custom_id`` or ``kind`` is a neutral or corpus line, not this format.
"""

from __future__ import annotations

from typing import Any

from ..._requests import EmbedRequest, Request
from .._reader_kit import build
from .codec import ID_FIELD

__all__ = ["looks_like", "request_from_line"]


def looks_like(obj: dict[str, Any]) -> bool:
    return "text" in obj and not {"custom_id", "id", "kind", "messages"} & set(obj)


def request_from_line(obj: dict[str, Any], line_no: int, model: str | None) -> Request:
    del model  # an embed job names its model once
    row = dict(obj)
    cid = row.pop(ID_FIELD, None)
    text = row.pop("text")
    return build(EmbedRequest, {"custom_id": cid if cid is not None else f"row-{line_no}",
                                "text": text, "metadata": row}, line_no)
