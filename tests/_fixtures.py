"""Request parts several suites build their requests from: a tool from a pydantic model and one
from a raw schema, a response schema, a tiny PNG and PDF, and a tool-call round trip.

Why shared: the feature matrix (does each vendor keep a feature intact?) and the encode identity
test (do the encoders still write the same bytes?) probe the same features; with one set of
parts, a request the matrix proves a vendor takes is the request whose bytes are frozen. The
encode identity test's golden files hold what these build, so a change here shows there.
"""

from __future__ import annotations

import base64
from typing import Any

from pydantic import BaseModel

import batchkit as bk

__all__ = [
    "DOCUMENT", "DOCUMENT_BY_ID", "IMAGE", "LOOKUP", "NOTE", "PDF", "PNG", "SCHEMA", "TURNS",
    "Lookup", "asking",
]


class Lookup(BaseModel):
    """Look a product up."""

    sku: str
    quantity: int


LOOKUP = bk.Tool.from_model(Lookup, name="lookup")
NOTE = bk.Tool.from_schema("note", {"type": "object", "properties": {"text": {"type": "string"}},
                                    "required": ["text"], "additionalProperties": False},
                           strict=True)
SCHEMA = {"title": "Answer", "type": "object", "additionalProperties": False,
          "properties": {"city": {"type": "string"}, "sunny": {"type": "boolean"}},
          "required": ["city", "sunny"]}
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAAB"
       "JRU5ErkJggg==")
PDF = base64.b64encode(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF").decode()
IMAGE = {"type": "image", "data": PNG, "media_type": "image/png"}
DOCUMENT = {"type": "document", "data": PDF, "title": "a.pdf"}
DOCUMENT_BY_ID = {"type": "document", "file_id": "file-abc123"}
TURNS = [{"role": "user", "content": "Stock of sku A-1?"},
         {"role": "assistant", "content": None,
          "tool_calls": [{"id": "call_1", "name": "lookup",
                          "arguments": {"sku": "A-1", "quantity": 1}}]},
         {"role": "tool", "tool_call_id": "call_1", "content": "7 in stock"}]
"""A tool call and its result, ready for the model's next turn."""


def asking(*parts: dict[str, Any]) -> dict[str, Any]:
    """A user message of ``parts`` (an image, a document) followed by the question about them."""
    return {"role": "user", "content": [*parts, {"type": "text", "text": "What is shown?"}]}
