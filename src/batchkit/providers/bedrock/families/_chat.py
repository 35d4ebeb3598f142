"""The rules every chat family with messages of parts (Claude, Nova) shares on Bedrock. No I/O."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from ...._requests import ChatRequest, ImagePart
from ._base import Fail

__all__ = ["IMAGE_FORMATS", "TOOL_NAME", "check_chat", "given_params", "image_data", "schema"]

TOOL_NAME = "respond"
"""The forced tool that carries a ``response_model``'s reply (Claude and Nova alike)."""
IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg",
                 "image/gif": "gif", "image/webp": "webp"}
_DATA_URL = re.compile(r"^data:(?P<type>[^;,]+);base64,(?P<data>.*)$", re.DOTALL)


def image_data(part: ImagePart) -> tuple[str | None, str]:
    """``(media type, base64 data)`` of an inline image; ``(None, "")`` for a link."""
    if part.url is None:
        return str(part.media_type), str(part.data)
    inline = _DATA_URL.match(part.url)
    return (inline["type"], inline["data"]) if inline else (None, "")


def given_params(request: ChatRequest) -> set[str]:
    """The raw params' keys, unscoped and scoped to bedrock."""
    scoped = request.params.get("bedrock")
    return {*request.params, *(scoped if isinstance(scoped, Mapping) else ())}


def schema(request: ChatRequest) -> dict[str, Any] | None:
    """The JSON schema a structured answer must fit, or None (shared per response model: the
    bodies embed it, nothing changes it)."""
    model = request.response_model
    return request.response_schema if model is None else _model_schema(model)


@functools.lru_cache(maxsize=256)
def _model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Built once per class: pydantic's schema generation costs ~0.2 ms, a job has one model."""
    return model.model_json_schema()


def check_chat(request: ChatRequest, label: str, taken: tuple[str, ...], fail: Fail) -> None:
    """Sampling within Bedrock's range, no seed, a structured answer as the only forced tool
    (``taken``: the body fields that tool occupies), images inline in user messages."""
    if request.temperature is not None and request.temperature > 1:
        fail(f"{label} takes temperature between 0 and 1")
    if request.seed is not None:
        fail(f"{label} on Bedrock has no 'seed'; remove it for this provider")
    structured = request.response_model is not None or request.response_schema is not None
    if structured and any(k in given_params(request) for k in taken):
        fail(f"params {'/'.join(taken)} would replace the tool that carries the response_model")
    if structured and request.tools:
        fail("on Bedrock a response_model/response_schema is a forced tool and cannot share the "
             "request with tools; make it a tool (bk.Tool.from_model) with tool_choice naming it")
    for message in request.messages:
        for part in message.parts:
            if not isinstance(part, ImagePart):
                continue
            if message.role != "user":
                fail(f"images are only allowed in user messages, not {message.role!r} ones")
            media_type, _ = image_data(part)
            if media_type is None:
                fail("Bedrock takes images as base64 data (a data: URL or data=...), "
                     "not a link; download the image first")
            if media_type not in IMAGE_FORMATS:
                fail(f"image type {media_type!r} is not one of png, jpeg, gif, webp")
