"""Amazon Titan Text Embeddings G1 (``amazon.titan-embed-text-v1``) and V2
(``amazon.titan-embed-text-v2:0``): ``{"inputText"}``, V2 also ``dimensions`` (256, 512, 1024),
``normalize`` and ``embeddingTypes``; answered by ``{"embedding", "inputTextTokenCount"}`` and,
for V2 with ``embeddingTypes``, ``embeddingsByType``. ``normalize`` and ``embeddingTypes`` have
no neutral field: they travel in ``params={"bedrock": {...}}``. Facts:
https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ...._requests import EmbedRequest, Request
from ...._results import Result, Usage
from ..._capabilities import Capabilities
from ._base import BodyError, Fail, Family, prompt_only

__all__ = ["TITAN_EMBED_V1", "TITAN_EMBED_V2"]

_V2_DIMENSIONS = (256, 512, 1024)
_NO_FEATURES: Capabilities = prompt_only("Amazon Titan Text Embeddings")


def _encode(request: Request, options: Mapping[str, Any]) -> dict[str, Any]:
    assert isinstance(request, EmbedRequest)
    body: dict[str, Any] = {"inputText": request.text}
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    return body


def _to_request(body: dict[str, Any], custom_id: str) -> EmbedRequest:
    text = body.get("inputText")
    if not isinstance(text, str) or not text:
        raise BodyError("'inputText' must be a non-empty string")
    kept = {k: v for k, v in body.items() if k not in ("inputText", "dimensions")}
    return EmbedRequest(custom_id=custom_id, text=text, dimensions=body.get("dimensions"),
                        params={"bedrock": kept} if kept else {})


def _check_v1(request: Request, fail: Fail) -> None:
    if isinstance(request, EmbedRequest) and request.dimensions is not None:
        fail("amazon.titan-embed-text-v1 has a fixed 1536 dimensions; remove 'dimensions'")


def _check_v2(request: Request, fail: Fail) -> None:
    if isinstance(request, EmbedRequest) and request.dimensions not in (None, *_V2_DIMENSIONS):
        fail(f"Titan Text Embeddings V2 takes dimensions 256, 512 or 1024, not "
             f"{request.dimensions}")


def _decode(rid: str, output: dict[str, Any], row: dict[str, Any]) -> Result:
    by_type = output.get("embeddingsByType")
    vectors: dict[str, np.ndarray] = {}
    if isinstance(by_type, dict):
        for kind, values in by_type.items():
            vectors[kind] = np.asarray(values, dtype=np.float32 if kind == "float" else np.uint8)
    vector = output.get("embedding")
    embedding = (np.asarray(vector, dtype=np.float32) if vector is not None
                 else vectors.get("float"))
    return Result(rid, "succeeded", embedding=embedding, embeddings_by_type=vectors or None,
                  usage=Usage(input_tokens=int(output.get("inputTextTokenCount") or 0)), raw=row)


def _answers(output: dict[str, Any]) -> bool:
    return "embedding" in output or "embeddingsByType" in output


TITAN_EMBED_V2 = Family(
    name="titan-embed-v2", kind="embed", label="Amazon Titan Text Embeddings V2",
    body_fields=frozenset({"inputText", "dimensions", "normalize", "embeddingTypes"}),
    capabilities=_NO_FEATURES, encode=_encode, to_request=_to_request, decode=_decode,
    answers=_answers, check=_check_v2,
)
TITAN_EMBED_V1 = Family(
    name="titan-embed-v1", kind="embed", label="Amazon Titan Text Embeddings G1",
    body_fields=frozenset({"inputText"}),
    capabilities=_NO_FEATURES, encode=_encode, to_request=_to_request, decode=_decode,
    answers=_answers, check=_check_v1,
)
