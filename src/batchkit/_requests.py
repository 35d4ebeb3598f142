"""Neutral requests: what a caller asks for, before any vendor's format is involved.

A request is immutable and validated on construction. Any broken rule raises
:class:`InvalidRequestError` with one line naming the ``custom_id`` and the rule, never a
multi-line pydantic dump, because these errors are read in terminals over thousands of rows.
"""

from __future__ import annotations

import importlib
import re
from typing import Annotated, Any, ClassVar, Literal

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ._exceptions import InvalidRequestError
from ._validate import lone_surrogate

__all__ = [
    "ChatRequest",
    "EmbedRequest",
    "ImagePart",
    "Message",
    "Request",
    "TextPart",
    "import_response_model",
    "response_model_path",
]

MAX_CUSTOM_ID_LENGTH = 512
_IMAGE_URL = re.compile(r"^(https?://\S+|data:image/[\w.+-]+;base64,\S+)$", re.IGNORECASE)
"""What a vendor can fetch or decode: a web address, or base64 image data inline."""


def _first_error(exc: ValidationError) -> str:
    """The most specific error, on one line.

    For a union (``str | list[part]``) pydantic reports every branch; the deepest location is
    the branch the caller meant, and type tags like ``list[...]`` are dropped from the path.
    """
    err = max(exc.errors(), key=lambda e: len(e["loc"]))
    where = ".".join(str(p) for p in err["loc"] if "[" not in str(p))
    msg = err["msg"].removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


def _valid_text(value: str) -> str:
    """Refuse text that cannot be written as UTF-8 (see ``_validate.lone_surrogate``)."""
    problem = lone_surrogate(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _not_a_bool(value: Any) -> Any:
    """pydantic reads ``True`` as 1 for a number field; in a request that is always a mistake."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number, not {value}")
    return value


class _OneLineModel(BaseModel):
    """Raises :class:`InvalidRequestError` (one line, naming the custom_id when there is one)
    instead of pydantic's multi-line ``ValidationError``, for the parts built on their own too."""

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            cid = data.get("custom_id")
            raise InvalidRequestError(
                _first_error(exc), custom_id=cid if isinstance(cid, str) else None
            ) from None

    # Marked as pydantic's own __init__ so that pydantic does not call it for a part nested in a
    # request: the request's error then keeps the full location (messages.0.role) and its id.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]


class TextPart(_OneLineModel):
    """A piece of text inside a message."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["text"] = "text"
    text: str

    @field_validator("text")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("a text part must not be empty")
        return _valid_text(value)


class ImagePart(_OneLineModel):
    """An image inside a message: a URL (``https:`` or ``data:``) or base64 ``data``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["image"] = "image"
    url: str | None = None
    data: str | None = None
    media_type: str | None = None
    detail: Literal["auto", "low", "high"] | None = None

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
                _valid_text(value)
        if self.media_type is not None and not self.media_type.startswith("image/"):
            raise ValueError(f"media_type must be an image type such as 'image/png', "
                             f"not {self.media_type!r}")
        return self


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]


def _openai_part_to_neutral(part: Any) -> Any:
    """Accept OpenAI-style ``image_url`` parts, since most users' files are OpenAI-shaped."""
    if isinstance(part, dict) and part.get("type") == "image_url":
        image = part.get("image_url") or {}
        url = image.get("url") if isinstance(image, dict) else image
        detail = image.get("detail") if isinstance(image, dict) else None
        return {"type": "image", "url": url, "detail": detail}
    return part


class Message(_OneLineModel):
    """One chat message. ``developer`` is accepted as an alias of ``system``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: str | list[ContentPart]

    @model_validator(mode="before")
    @classmethod
    def _accept_common_shapes(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if data.get("role") == "developer":
                data["role"] = "system"
            if isinstance(data.get("content"), list):
                data["content"] = [_openai_part_to_neutral(p) for p in data["content"]]
        return data

    @field_validator("content")
    @classmethod
    def _not_empty(cls, value: str | list[Any]) -> str | list[Any]:
        if isinstance(value, list) and not value:
            raise ValueError("message content must not be an empty list")
        if not value:
            raise ValueError("message content must not be empty")
        return _valid_text(value) if isinstance(value, str) else value

    @property
    def text(self) -> str:
        """All text of the message, parts joined by newlines (images left out)."""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text for p in self.content if isinstance(p, TextPart))


class _RequestBase(_OneLineModel):
    """Fields and checks shared by every request kind."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)
    kind: ClassVar[str]

    custom_id: str
    """Your id for this request; results come back under it. Unique within a job."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Vendor-specific fields merged into the vendor's request body as they are."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Kept beside the result; never sent to the vendor unless the vendor keeps fields."""

    @field_validator("custom_id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty")
        if len(value) > MAX_CUSTOM_ID_LENGTH:
            raise ValueError(f"longer than {MAX_CUSTOM_ID_LENGTH} characters")
        return _valid_text(value)

    @field_validator("metadata", "params")
    @classmethod
    def _json_only(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            orjson.dumps(value)
        except TypeError as exc:
            raise ValueError(f"must be JSON-serializable ({exc})") from None
        return value


class ChatRequest(_RequestBase):
    """A chat completion, optionally parsed into a pydantic ``response_model``."""

    kind: ClassVar[str] = "chat"

    messages: list[Message]
    response_model: type[BaseModel] | None = None
    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: list[str] | None = None
    seed: int | None = None

    _numbers_not_bools = field_validator(
        "max_tokens", "temperature", "top_p", "seed", mode="before"
    )(_not_a_bool)

    @field_validator("stop")
    @classmethod
    def _stop_is_text(cls, value: list[str] | None) -> list[str] | None:
        for stop in value or ():
            _valid_text(stop)
        return value

    @field_validator("messages")
    @classmethod
    def _has_messages(cls, value: list[Message]) -> list[Message]:
        if not value:
            raise ValueError("must contain at least one message")
        if all(m.role == "system" for m in value):
            raise ValueError("needs at least one user or assistant message")
        return value

    @field_validator("response_model", mode="before")
    @classmethod
    def _is_pydantic_model(cls, value: Any) -> Any:
        if value is not None and not (isinstance(value, type) and issubclass(value, BaseModel)):
            raise ValueError(f"must be a pydantic BaseModel subclass, got {value!r}")
        return value

    @property
    def system(self) -> str | None:
        """The system messages' text joined, or None (for vendors that take it apart)."""
        texts = [m.text for m in self.messages if m.role == "system"]
        return "\n\n".join(texts) if texts else None


class EmbedRequest(_RequestBase):
    """One text to embed."""

    kind: ClassVar[str] = "embed"

    text: str
    input_type: (
        Literal["search_document", "search_query", "classification", "clustering"] | None
    ) = None
    dimensions: int | None = Field(default=None, gt=0)

    _numbers_not_bools = field_validator("dimensions", mode="before")(_not_a_bool)

    @field_validator("text")
    @classmethod
    def _has_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return _valid_text(value)


Request = ChatRequest | EmbedRequest


def response_model_path(model: type[BaseModel]) -> str:
    """``module:QualName`` of a response model, so another process can import it on resume."""
    return f"{model.__module__}:{model.__qualname__}"


def import_response_model(path: str) -> type[BaseModel] | None:
    """Import a response model from ``module:QualName``; None if it cannot be found."""
    module_name, _, qualname = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for attr in qualname.split("."):
            obj = getattr(obj, attr)
    except (ImportError, AttributeError):
        return None
    return obj if isinstance(obj, type) and issubclass(obj, BaseModel) else None
