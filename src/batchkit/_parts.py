"""The parts of a chat message (text, image, document) and what every neutral model shares.

Kept apart from ``_requests`` so that a request module reads as the requests themselves; the
base class here is why every neutral model's error is one line naming the request.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ._exceptions import InvalidRequestError
from ._validate import lone_surrogate

__all__ = [
    "ContentPart",
    "DocumentPart",
    "ImagePart",
    "OneLineModel",
    "TextPart",
    "first_error",
    "not_a_bool",
    "openai_part_to_neutral",
    "valid_text",
]

_IMAGE_URL = re.compile(r"^(https?://\S+|data:image/[\w.+-]+;base64,\S+)$", re.IGNORECASE)
"""What a vendor can fetch or decode: a web address, or base64 image data inline."""


def first_error(exc: ValidationError) -> str:
    """The most specific error, on one line.

    For a union (``str | list[part]``) pydantic reports every branch; the deepest location is
    the branch the caller meant, and type tags like ``list[...]`` are dropped from the path.
    """
    err = max(exc.errors(), key=lambda e: len(e["loc"]))
    where = ".".join(str(p) for p in err["loc"] if "[" not in str(p))
    msg = err["msg"].removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


def valid_text(value: str) -> str:
    """Refuse text that cannot be written as UTF-8 (see ``_validate.lone_surrogate``)."""
    problem = lone_surrogate(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def not_a_bool(value: Any) -> Any:
    """pydantic reads ``True`` as 1 for a number field; in a request that is always a mistake."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number, not {value}")
    return value


class OneLineModel(BaseModel):
    """Raises :class:`InvalidRequestError` (one line, naming the custom_id when there is one)
    instead of pydantic's multi-line ``ValidationError``, for the parts built on their own too."""

    # Validators are built at first use, not at import: ``import batchkit`` stays under 100 ms
    # (building them all took a third of it) and a process that never validates never pays.
    model_config = ConfigDict(defer_build=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            cid = data.get("custom_id")
            raise InvalidRequestError(
                first_error(exc), custom_id=cid if isinstance(cid, str) else None
            ) from None

    # Marked as pydantic's own __init__ so that pydantic does not call it for a part nested in a
    # request: the request's error then keeps the full location (messages.0.role) and its id.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]


class TextPart(OneLineModel):
    """A piece of text inside a message."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["text"] = "text"
    text: str
    cache: bool = False
    """A prompt-cache breakpoint after this part (see :attr:`Message.cache`)."""

    @field_validator("text")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("a text part must not be empty")
        return valid_text(value)


class ImagePart(OneLineModel):
    """An image inside a message: a URL (``https:`` or ``data:``) or base64 ``data``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["image"] = "image"
    url: str | None = None
    data: str | None = None
    media_type: str | None = None
    detail: Literal["auto", "low", "high"] | None = None
    cache: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> ImagePart:
        if (self.url is None) == (self.data is None):
            raise ValueError("an image part needs exactly one of 'url' or 'data'")
        if self.data is not None and not self.media_type:
            raise ValueError("an image part with 'data' needs 'media_type' (e.g. 'image/png')")
        if self.url is not None and not _IMAGE_URL.match(self.url):
            raise ValueError(
                "an image 'url' must be an http(s) address or a 'data:image/...;base64,' URL"
            )
        for value in (self.url, self.data, self.media_type):
            if value is not None:
                valid_text(value)
        if self.media_type is not None and not self.media_type.startswith("image/"):
            raise ValueError(f"media_type must be an image type such as 'image/png', "
                             f"not {self.media_type!r}")
        return self


class DocumentPart(OneLineModel):
    """A document (PDF) inside a message: a ``url``, base64 ``data``, or a ``file_id`` the
    vendor already holds. Vendors that cannot read documents refuse it before sending."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["document"] = "document"
    url: str | None = None
    data: str | None = None
    file_id: str | None = None
    media_type: str = "application/pdf"
    title: str | None = None
    cache: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> DocumentPart:
        given = [name for name in ("url", "data", "file_id") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("a document part needs exactly one of 'url', 'data' or 'file_id'")
        if self.url is not None and not re.match(r"^https?://\S+$", self.url):
            raise ValueError("a document 'url' must be an http(s) address")
        for value in (self.url, self.data, self.file_id, self.title, self.media_type):
            if value is not None:
                valid_text(value)
        return self


ContentPart = Annotated[TextPart | ImagePart | DocumentPart, Field(discriminator="type")]


def openai_part_to_neutral(part: Any) -> Any:
    """Accept OpenAI-style ``image_url`` and ``file`` parts, since most users' files are
    OpenAI-shaped."""
    if isinstance(part, dict) and part.get("type") == "image_url":
        image = part.get("image_url") or {}
        url = image.get("url") if isinstance(image, dict) else image
        detail = image.get("detail") if isinstance(image, dict) else None
        return {"type": "image", "url": url, "detail": detail}
    if isinstance(part, dict) and part.get("type") == "file" and isinstance(part.get("file"), dict):
        file = part["file"]
        data = file.get("file_data")
        if isinstance(data, str) and data.startswith("data:") and ";base64," in data:
            media_type, _, data = data.removeprefix("data:").partition(";base64,")
            return {"type": "document", "data": data, "media_type": media_type,
                    "title": file.get("filename")}
        return {"type": "document", "file_id": file.get("file_id"), "data": data,
                "title": file.get("filename")}
    return part
