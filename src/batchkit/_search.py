"""``bk.search``: embed a query the way the index's documents were embedded, ask the sink.

The query is embedded with ``input_type="search_query"`` (vendors with asymmetric models embed
queries and documents differently) by :func:`embed_query`, as a one-request job in
``mode="auto"``: the vendor's synchronous endpoint where batchkit has a real-time path for it,
a batch job otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._exceptions import ConfigError, ProviderError
from ._index import DEFAULT_SINK
from ._requests import EmbedRequest
from ._submit import run
from .sinks import Hit, Sink, open_sink

__all__ = ["embed_query", "search"]


def embed_query(text: str, provider: str | None = None, *, dimensions: int | None = None,
                **submit_kwargs: Any) -> np.ndarray:
    """The ``search_query`` vector of ``text``, journaled like any job.

    ``mode="auto"`` sends a one-request job through the vendor's real-time endpoint where the
    adapter has one (an answer in about a second) and through the batch API where it has not
    (minutes or more against a real vendor; instant in the sandbox). Pass ``mode=`` to choose.
    """
    request = EmbedRequest(custom_id="query", text=text, input_type="search_query",
                           dimensions=dimensions)
    submit_kwargs.setdefault("mode", "auto")
    result = run([request], provider, **submit_kwargs)[0]
    if not result.ok or result.embedding is None:
        why = result.error.message if result.error else result.status
        raise ProviderError(f"the query could not be embedded: {why}")
    return result.embedding


def search(
    sink: str | Sink = DEFAULT_SINK,
    query: str = "",
    provider: str | None = None,
    *,
    k: int = 10,
    dimensions: int | None = None,
    **submit_kwargs: Any,
) -> list[Hit]:
    """The ``k`` chunks of ``sink`` nearest to ``query``, nearest first.

    Use the provider (and ``dimensions``) the index was built with: a vector of another length
    is refused with a :class:`ConfigError` saying which length the index holds.
    """
    if not query.strip():
        raise ConfigError("search needs a non-empty query")
    if k <= 0:
        raise ConfigError(f"k must be 1 or more, got {k}")
    opened = open_sink(sink)
    try:
        stored = opened.dimension()
        if stored is None:
            raise ConfigError(f"{opened.url} holds no vectors yet: build it with bk.index "
                              "(or `batchkit index`) first")
        vector = embed_query(query, provider, dimensions=dimensions, **submit_kwargs)
        if vector.shape[0] != stored:
            raise ConfigError(
                f"the query's vector has {vector.shape[0]} dimensions but {opened.url} holds "
                f"{stored}: search with the provider and dimensions the index was built with")
        return opened.query(vector, k)
    finally:
        if isinstance(sink, str):
            opened.close()
