"""Cohere Embed on Bedrock (``cohere.embed-english-v3``, ``cohere.embed-multilingual-v3``,
``cohere.embed-v4:0``): ``{"texts": [one text], "input_type", "truncate", "embedding_types"}``
(v4 also ``output_dimension``), answered by ``{"id", "texts", "embeddings", "response_type"}``
where ``embeddings`` is a list of vectors (``embeddings_floats``) or, with ``embedding_types``,
an object of them by type (``embeddings_by_type``). A batch record carries the request's text,
or its several ``texts`` (a ``(k, d)`` matrix comes back). Cohere requires ``input_type``: a
request without one is sent as ``search_document``. Facts:
https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed-v3.html and
.../model-parameters-embed-v4.html.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ...._requests import EmbedRequest, Request
from ...._results import Result
from ...._results import vectors as stack
from ..._capabilities import yes
from ._base import BodyError, Fail, Family, prompt_only

__all__ = ["COHERE_EMBED_V3", "COHERE_EMBED_V4"]

DEFAULT_INPUT_TYPE = "search_document"
_INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")
_V4_DIMENSIONS = (256, 512, 1024, 1536)
MAX_TEXTS = 96
"""The most ``texts`` one InvokeModel body takes (the Embed v3 and v4 parameter pages)."""
_DTYPES = {"float": np.float32, "int8": np.int8, "uint8": np.uint8, "binary": np.int8,
           "ubinary": np.uint8}


def _encode(request: Request, options: Mapping[str, Any]) -> dict[str, Any]:
    assert isinstance(request, EmbedRequest)
    body: dict[str, Any] = {"texts": request.inputs,
                            "input_type": request.input_type or DEFAULT_INPUT_TYPE}
    if request.dimensions is not None:
        body["output_dimension"] = request.dimensions
    return body


def _to_request(body: dict[str, Any], custom_id: str) -> EmbedRequest:
    texts = body.get("texts")
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise BodyError("'texts' must be a list of one or more texts")
    input_type = body.get("input_type")
    if input_type not in _INPUT_TYPES:
        raise BodyError(f"'input_type' must be one of {', '.join(_INPUT_TYPES)}, not "
                        f"{input_type!r}")
    kept = {k: v for k, v in body.items() if k not in ("texts", "input_type", "output_dimension")}
    one = {"text": texts[0]} if len(texts) == 1 else {"texts": texts}
    return EmbedRequest(custom_id=custom_id, **one, input_type=input_type,
                        dimensions=body.get("output_dimension"),
                        params={"bedrock": kept} if kept else {})


def _check_texts(request: Request, fail: Fail) -> None:
    if isinstance(request, EmbedRequest) and len(request.inputs) > MAX_TEXTS:
        fail(f"Cohere Embed on Bedrock takes at most {MAX_TEXTS} texts a record, not "
             f"{len(request.inputs)}; split them into several requests")


def _check_v3(request: Request, fail: Fail) -> None:
    _check_texts(request, fail)
    if isinstance(request, EmbedRequest) and request.dimensions is not None:
        fail("Cohere Embed v3 models have a fixed size; remove 'dimensions' (Cohere Embed v4 "
             "takes 256, 512, 1024 or 1536)")


def _check_v4(request: Request, fail: Fail) -> None:
    _check_texts(request, fail)
    if isinstance(request, EmbedRequest) and request.dimensions not in (None, *_V4_DIMENSIONS):
        fail(f"Cohere Embed v4 takes dimensions 256, 512, 1024 or 1536, not "
             f"{request.dimensions}")


def _decode(rid: str, output: dict[str, Any], row: dict[str, Any]) -> Result:
    embeddings = output.get("embeddings")
    by_type: dict[str, np.ndarray] = {}
    embedding = None
    if isinstance(embeddings, dict):
        for kind, vectors in embeddings.items():
            if isinstance(vectors, list) and vectors:
                by_type[kind] = stack(vectors, _DTYPES.get(kind, np.float32))
        embedding = by_type.get("float")
    elif isinstance(embeddings, list) and embeddings:
        embedding = stack(embeddings)
    return Result(rid, "succeeded", embedding=embedding, embeddings_by_type=by_type or None,
                  raw=row)


def _answers(output: dict[str, Any]) -> bool:
    return "embeddings" in output and ("response_type" in output or "texts" in output)


_CAPABILITIES = prompt_only("Cohere Embed", embed_texts=yes("texts [...]"))
_V3_FIELDS = frozenset({"texts", "images", "input_type", "truncate", "embedding_types"})
COHERE_EMBED_V3 = Family(
    name="cohere-embed-v3", kind="embed", label="Cohere Embed v3", body_fields=_V3_FIELDS,
    capabilities=_CAPABILITIES, encode=_encode, to_request=_to_request,
    decode=_decode, answers=_answers, check=_check_v3,
)
COHERE_EMBED_V4 = Family(
    name="cohere-embed-v4", kind="embed", label="Cohere Embed v4",
    body_fields=_V3_FIELDS | {"output_dimension", "max_tokens", "inputs"},
    capabilities=_CAPABILITIES, encode=_encode, to_request=_to_request,
    decode=_decode, answers=_answers, check=_check_v4,
)
