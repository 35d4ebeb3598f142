"""Neutral requests: what a caller asks for, before any vendor's format is involved.

A request is immutable and validated on construction. Any broken rule raises
:class:`InvalidRequestError` with one line naming the ``custom_id`` and the rule, never a
multi-line pydantic dump, because these errors are read in terminals over thousands of rows.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Literal

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from ._parts import (
    ContentPart,
    DocumentPart,
    ImagePart,
    OneLineModel,
    TextPart,
    not_a_bool,
    openai_part_to_neutral,
    valid_text,
)
from ._tools import MessageToolCall, Tool, ToolChoice

__all__ = [
    "ChatRequest",
    "DocumentPart",
    "EmbedRequest",
    "ImagePart",
    "Message",
    "ModerationRequest",
    "Reasoning",
    "Request",
    "TextPart",
    "import_response_model",
    "response_model_path",
]

MAX_CUSTOM_ID_LENGTH = 512


_TEXT_MESSAGE_FIELDS = frozenset({"role", "content", "cache"})


class Message(OneLineModel):
    """One chat message. ``developer`` is accepted as an alias of ``system``.

    A conversation that used tools replays them: an ``assistant`` message carries the
    ``tool_calls`` the model made (its content may then be empty), and each ``tool`` message
    answers one of them by ``tool_call_id``. ``name`` is kept by vendors that have it (OpenAI)
    and refused by the others; ``cache`` marks a prompt-cache breakpoint after the message.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    role: Literal["system", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[MessageToolCall] | None = None
    tool_call_id: str | None = None
    cache: bool = False

    @model_validator(mode="before")
    @classmethod
    def _accept_common_shapes(cls, data: Any) -> Any:
        # Copied only when something changes: a plain text message (most of a million-row
        # job) is passed on as it came.
        if isinstance(data, dict) and (data.get("role") == "developer"
                                       or isinstance(data.get("content"), list)):
            data = dict(data)
            if data.get("role") == "developer":
                data["role"] = "system"
            if isinstance(data.get("content"), list):
                data["content"] = [openai_part_to_neutral(p) for p in data["content"]]
        return data

    @field_validator("content")
    @classmethod
    def _not_empty(cls, value: str | list[Any] | None) -> str | list[Any] | None:
        if isinstance(value, list) and not value:
            raise ValueError("message content must not be an empty list")
        if value is not None and not value:
            raise ValueError("message content must not be empty")
        # ASCII text cannot hold a lone surrogate: most texts skip the call (twice a request)
        if isinstance(value, str) and not value.isascii():
            return valid_text(value)
        return value

    @model_validator(mode="after")
    def _roles_and_tools(self) -> Message:
        # pydantic runs this for every message of every request (also a Message passed in
        # built): a text message with none of the tool fields returns at once.
        if self.__pydantic_fields_set__ <= _TEXT_MESSAGE_FIELDS and self.content is not None \
                and self.role != "tool":
            return self
        if self.tool_calls and self.role != "assistant":
            raise ValueError(f"only assistant messages carry tool_calls, not {self.role}")
        if self.role == "tool":
            if not self.tool_call_id:
                raise ValueError("a tool message needs the tool_call_id it answers")
            if self.content is None:
                raise ValueError("a tool message needs content (the tool's result)")
        elif self.tool_call_id is not None:
            raise ValueError("tool_call_id belongs on a tool message")
        if self.content is None and not self.tool_calls:
            raise ValueError("message content must not be empty")
        for value in (self.name, self.tool_call_id):
            if value is not None:
                valid_text(value)
        return self

    @property
    def parts(self) -> list[TextPart | ImagePart | DocumentPart]:
        """The content's parts; empty when the content is one string (or absent)."""
        return list(self.content) if isinstance(self.content, list) else []

    @property
    def text(self) -> str:
        """All text of the message, parts joined by newlines (images, documents left out)."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text for p in self.content if isinstance(p, TextPart))


class _RequestBase(OneLineModel):
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
        return value if value.isascii() else valid_text(value)

    @field_validator("metadata", "params")
    @classmethod
    def _json_only(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            orjson.dumps(value)
        except TypeError as exc:
            raise ValueError(f"must be JSON-serializable ({exc})") from None
        return value


class Reasoning(OneLineModel):
    """How much a reasoning model may think before it answers: an ``effort`` level, a token
    ``budget_tokens``, or both; ``"off"`` asks for no thinking. ``reasoning="low"`` and
    ``reasoning=2048`` are short for the two forms. Each vendor gets its own spelling (OpenAI
    ``reasoning_effort``, Anthropic ``thinking.budget_tokens``, Gemini ``thinkingConfig``), or a
    refusal where a model cannot think."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    effort: Literal["off", "minimal", "low", "medium", "high"] | None = None
    budget_tokens: int | None = Field(default=None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"effort": data}
        if isinstance(data, int) and not isinstance(data, bool):
            return {"budget_tokens": data}
        return data

    @model_validator(mode="after")
    def _says_something(self) -> Reasoning:
        if self.effort is None and self.budget_tokens is None:
            raise ValueError("reasoning needs an effort or a budget_tokens")
        if self.effort == "off" and self.budget_tokens:
            raise ValueError("reasoning 'off' cannot have a token budget")
        return self

    @property
    def off(self) -> bool:
        return self.effort == "off" or self.budget_tokens == 0


class ChatRequest(_RequestBase):
    """A chat completion, optionally parsed into a pydantic ``response_model``.

    Beyond plain chat it carries what real workloads batch: ``tools`` and ``tool_choice``
    (structured extraction by a forced tool), conversations replaying tool calls and results,
    documents, ``reasoning``, ``n`` choices, ``logprobs``, and a raw ``response_schema`` or
    ``json_mode``. A vendor that cannot express one of these refuses the request before
    anything is written or sent (see ``providers/_capabilities.py``).
    """

    kind: ClassVar[str] = "chat"

    messages: list[Message]
    response_model: type[BaseModel] | None = None
    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: list[str] | None = None
    seed: int | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    reasoning: Reasoning | None = None
    n: int | None = Field(default=None, ge=1, le=128)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    response_schema: dict[str, Any] | None = None
    """A raw JSON schema the reply must follow (``title`` names it), for callers without a
    pydantic model; the reply is then parsed as JSON into ``Result.parsed_json``."""
    json_mode: bool = False
    """Ask for any valid JSON object (no schema)."""

    _numbers_not_bools = field_validator(
        "max_tokens", "temperature", "top_p", "seed", "n", "top_logprobs", mode="before"
    )(not_a_bool)

    @model_validator(mode="after")
    def _consistent(self) -> ChatRequest:
        # Each rule is guarded by the field it is about, so a plain chat request (most rows of
        # a million-row job) pays a few attribute reads here, not set and list building.
        if self.tools is not None or self.tool_choice is not None:
            self._tools_consistent()
        if self.top_logprobs is not None and not self.logprobs:
            raise ValueError("top_logprobs needs logprobs=True")
        if (self.response_schema is not None or self.json_mode) and (
                self.response_model is not None or (self.response_schema is not None
                                                    and self.json_mode)):
            formats = [name for name, given in (("response_model", self.response_model),
                                                ("response_schema", self.response_schema),
                                                ("json_mode", self.json_mode)) if given]
            raise ValueError(f"choose one of {' / '.join(formats)}")
        called: set[str] = set()
        for i, message in enumerate(self.messages):
            if message.tool_calls:
                called.update(call.id for call in message.tool_calls)
            elif message.role == "tool" and message.tool_call_id not in called:
                raise ValueError(f"messages.{i}: tool_call_id {message.tool_call_id!r} answers "
                                 "no earlier assistant tool call")
        return self

    def _tools_consistent(self) -> None:
        tools = {t.name for t in self.tools or ()}
        if self.tools is not None and len(tools) != len(self.tools):
            raise ValueError("tools: two tools share a name")
        choice = self.tool_choice
        if choice not in (None, "auto", "none") and not tools:
            raise ValueError(f"tool_choice {choice!r} needs tools")
        if choice not in (None, "auto", "none", "required") and choice not in tools:
            raise ValueError(f"tool_choice names no tool of this request: {choice!r}")

    @field_validator("stop")
    @classmethod
    def _stop_is_text(cls, value: list[str] | None) -> list[str] | None:
        for stop in value or ():
            valid_text(stop)
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

    @classmethod
    def batch(cls, texts: Iterable[str], *, custom_ids: Iterable[str] | None = None,
              system: str | None = None, **shared: Any) -> Iterator[ChatRequest]:
        """One request per text (its user message, after ``system``), streamed, at the cost of
        the data: the ``shared`` fields (``response_model``, ``max_tokens``, ...) are validated
        once, each row's id and text by the same rules as here. Ids default to "0", "1", ...

            bk.ChatRequest.batch(emails, system="Spam or ham?", response_model=Verdict)
        """
        from ._bulk import chat_batch

        return chat_batch(texts, custom_ids=custom_ids, system=system, **shared)


class _TextsRequest(_RequestBase):
    """A request about one ``text`` or several ``texts`` (exactly one of the two)."""

    text: str | None = None
    texts: list[str] | None = None
    """Several texts in one vendor line, where the vendor's batch line takes a list (OpenAI's
    list ``input``); its result holds one answer per text, in this order. A vendor whose line
    takes one text refuses it before anything is sent: send one request per text there."""

    @field_validator("text")
    @classmethod
    def _has_text(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty")
        return None if value is None else valid_text(value)

    @field_validator("texts")
    @classmethod
    def _has_texts(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("must hold at least one text")
        for i, one in enumerate(value):
            if not one.strip():
                raise ValueError(f"text {i} must not be empty")
            valid_text(one)
        return value

    @model_validator(mode="after")
    def _one_of_text_and_texts(self) -> _TextsRequest:
        if (self.text is None) == (self.texts is None):
            raise ValueError("give exactly one of text or texts")
        return self

    @property
    def inputs(self) -> list[str]:
        """The texts of the request, in order (one for a ``text`` request)."""
        return self.texts if self.texts is not None else [self.text or ""]


class EmbedRequest(_TextsRequest):
    """One text to embed, or several ``texts`` in one vendor line (one vector each)."""

    kind: ClassVar[str] = "embed"

    input_type: (
        Literal["search_document", "search_query", "classification", "clustering"] | None
    ) = None
    dimensions: int | None = Field(default=None, gt=0)

    _numbers_not_bools = field_validator("dimensions", mode="before")(not_a_bool)

    @classmethod
    def batch(cls, texts: Iterable[str], *, custom_ids: Iterable[str] | None = None,
              **shared: Any) -> Iterator[EmbedRequest]:
        """One request per text, as :meth:`ChatRequest.batch` builds them."""
        from ._bulk import embed_batch

        return embed_batch(texts, custom_ids=custom_ids, **shared)


class ModerationRequest(_TextsRequest):
    """Ask a moderation model whether a ``text`` (or each of several ``texts``) breaks its
    content policy. Sent where a vendor's batch API takes moderations (OpenAI
    ``/v1/moderations``, Mistral), refused elsewhere before anything is sent; the answer is
    ``Result.moderation``, one :class:`~batchkit.Moderation` per text."""

    kind: ClassVar[str] = "moderation"


Request = ChatRequest | EmbedRequest | ModerationRequest


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
