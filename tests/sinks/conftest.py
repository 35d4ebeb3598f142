"""Shared by the sink tests: an emulator that counts the texts it embeds, and a test corpus.

The count is taken inside the OpenAI emulator (its ``responder`` runs once per request line of
a batch), so "exactly N embeddings were bought" is measured where a vendor would bill them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from batchkit.testing import emulate

PROVIDER = "openai:text-embedding-3-small"
DIMENSIONS = 16
"""Small vectors keep 5,000-row runs fast; text-embedding-3 models take any shorter length."""
DOCS, CHUNKS_PER_DOC = 1000, 5
QUERY = "where do the otters of the northern lakes sleep at night"
PLANTED = ("doc-0500", 2)
"""The chunk whose text is the query: the emulator embeds equal texts to equal vectors."""
SINK_SCHEMES = ("lancedb", "qdrant", "chroma", "parquet")


@dataclass
class EmbedCounter:
    """Wraps the emulator's responder and records the text of every embedding request."""

    inner: Any
    texts: list[str] = field(default_factory=list)

    def __call__(self, url: str, body: dict[str, Any], custom_id: str) -> dict[str, Any]:
        if url == "/v1/embeddings":
            self.texts.append(body["input"])
        reply: dict[str, Any] = self.inner(url, body, custom_id)
        return reply

    def take(self) -> list[str]:
        """The texts embedded since the last call."""
        taken, self.texts = self.texts, []
        return taken


@dataclass
class Emulator:
    url: str
    counter: EmbedCounter
    app: Any
    """The OpenAI emulator app (``app.creates``: batches created)."""


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with emulate(providers=["openai"]) as handle:
        app = handle.apps["openai"]
        app.responder = counter = EmbedCounter(app.responder)
        yield Emulator(handle.url, counter, app)


def chunk_text(doc: int, chunk: int) -> str:
    if (f"doc-{doc:04d}", chunk) == PLANTED:
        return QUERY
    return f"document {doc}, passage {chunk}: notes on topic {doc % 37} and case {doc * 7 + chunk}"


def make_corpus(docs: int = DOCS) -> list[dict[str, Any]]:
    """``docs`` documents of 5 chunks each (their own ``chunks``), with varied metadata."""
    return [
        {"id": f"doc-{d:04d}", "chunks": [chunk_text(d, c) for c in range(CHUNKS_PER_DOC)],
         "title": f"Document {d}", "n": d, "tags": [f"t{d % 3}", f"t{d % 5}"],
         "extra": {"odd": d % 2 == 1} if d % 4 == 0 else None}
        for d in range(docs)
    ]


def expected_metadata(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("id", "chunks")}
