"""The OpenAI batch line codec, shared by every OpenAI-shaped vendor. Pure: no SDK, no I/O.

OpenAI, Azure, Groq, Together and Mistral all take JSONL lines shaped like
``{"custom_id", "method", "url", "body"}`` and answer with ``{"id", "custom_id", "response",
"error"}`` lines, but differ in small ways (no ``method``/``url``, no ``model`` in the body, the
deployment name as model, ``max_tokens`` instead of ``max_completion_tokens``, no strict schemas).
Those differences are fields of :class:`LineFormat`, so each adapter configures one instance
instead of copying the codec. Decoding and status mapping, the same for the whole family, are
in :mod:`.results`.

Facts come from the OpenAI OpenAPI spec (``CreateChatCompletionRequest``, ``CreateResponse``,
``CreateEmbeddingRequest``), the ``openai`` SDK's generated types and the batch guide,
https://platform.openai.com/docs/guides/batch; see also providers.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, NoReturn

import orjson
from pydantic import BaseModel

from ..._exceptions import InvalidRequestError
from ..._requests import ChatRequest, EmbedRequest, ImagePart, Message, Request, TextPart
from .._strict_schema import (
    StrictSchemaError,
    schema_name,
    strict_json_schema,
    strict_schema_cached,
    to_strict_schema,
)

__all__ = [
    "CHAT_URL",
    "EMBEDDINGS_URL",
    "RESPONSES_URL",
    "LineFormat",
    "StrictSchemaError",
    "schema_name",
    "strict_json_schema",
    "to_strict_schema",
]

CHAT_URL = "/v1/chat/completions"
RESPONSES_URL = "/v1/responses"
EMBEDDINGS_URL = "/v1/embeddings"

# -- encode ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineFormat:
    """How one OpenAI-shaped vendor wants its batch lines.

    ``model`` is what goes in ``body.model`` (Azure: the deployment name); None leaves it out
    for vendors that take the model once per batch. ``max_tokens_field`` defaults to
    ``max_completion_tokens`` because the OpenAI spec deprecates ``max_tokens`` for it and
    reasoning (o-series, gpt-5) models reject ``max_tokens``; vendors that only know the older
    name set it back (Together). ``strict`` sends ``response_model`` schemas with
    ``strict: true``; without it the model's own JSON schema goes out best-effort (Groq's
    non-gpt-oss models, Together). ``method_and_url=False`` writes ``{custom_id, body}`` lines
    (Together). The URLs are the vendor's spelling of each endpoint (Azure's
    ``/chat/completions``); ``embeddings_url=None`` marks a vendor whose batches take no
    embeddings, which :meth:`check` refuses naming ``vendor``. ``embeddings_base64`` asks for
    ``encoding_format: "base64"`` (as the ``openai`` SDK does by default): the same float32
    bits in a file 2.6x smaller that decodes without parsing 1,536 float texts per line;
    ``params={"encoding_format": "float"}`` asks for the text form instead.
    """

    model: str | None
    chat_endpoint: Literal["chat", "responses"] = "chat"
    method_and_url: bool = True
    max_tokens_field: str = "max_completion_tokens"
    strict: bool = True
    max_stop_sequences: int | None = 4
    chat_url: str = CHAT_URL
    responses_url: str = RESPONSES_URL
    embeddings_url: str | None = EMBEDDINGS_URL
    embeddings_base64: bool = True
    vendor: str = "OpenAI"

    def url(self, request: Request) -> str:
        """The endpoint path of ``request``'s line (also the batch's ``endpoint``)."""
        if isinstance(request, EmbedRequest):
            if self.embeddings_url is None:
                raise InvalidRequestError(self._no_embeddings_rule(),
                                          custom_id=request.custom_id)
            return self.embeddings_url
        return self.responses_url if self.chat_endpoint == "responses" else self.chat_url

    def _no_embeddings_rule(self) -> str:
        return (f"{self.vendor} batches take chat requests only; send embeddings to a provider "
                "whose batch API has them")

    def encode(self, request: Request, custom_id: str) -> bytes:
        """One JSONL line (no newline) for ``request``, sent under ``custom_id``.

        The response schema goes in as bytes serialized once per model class
        (``orjson.Fragment``): re-serializing the same schema on every line was most of the
        cost of encoding a structured job.
        """
        line: dict[str, Any] = {"custom_id": custom_id}
        if self.method_and_url:
            line["method"] = "POST"
            line["url"] = self.url(request)
        line["body"] = self._body(request, _format_fragment)
        return orjson.dumps(line)

    def body(self, request: Request) -> dict[str, Any]:
        """The endpoint request body; ``params`` are merged last as the vendor escape hatch.

        ``metadata`` is never sent, and ``EmbedRequest.input_type`` is left out: OpenAI's
        embeddings are symmetric, and refusing the hint would break moving a job between vendors.
        The response format is computed once per model class and shared by every body, so
        treat the returned body as read-only.
        """
        return self._body(request, _format_dict)

    def _body(self, request: Request, response_format: _FormatMaker) -> dict[str, Any]:
        body: dict[str, Any] = {} if self.model is None else {"model": self.model}
        if isinstance(request, EmbedRequest):
            body["input"] = request.text
            if request.dimensions is not None:
                body["dimensions"] = request.dimensions
            if self.embeddings_base64:
                body["encoding_format"] = "base64"
        elif self.chat_endpoint == "responses":
            self._responses_body(request, body, response_format)
        else:
            self._chat_body(request, body, response_format)
        if request.params:
            body.update(request.params)
        return body

    def _chat_body(self, req: ChatRequest, body: dict[str, Any],
                   response_format: _FormatMaker) -> None:
        body["messages"] = [
            {"role": m.role, "content": m.content} if isinstance(m.content, str)
            else _chat_message(m)
            for m in req.messages
        ]
        # Spelled out rather than looped: this runs once per request of a million-row job.
        if req.max_tokens is not None:
            body[self.max_tokens_field] = req.max_tokens
        if req.temperature is not None:
            body["temperature"] = req.temperature
        if req.top_p is not None:
            body["top_p"] = req.top_p
        if req.stop is not None:
            body["stop"] = req.stop
        if req.seed is not None:
            body["seed"] = req.seed
        if req.response_model is not None:
            body["response_format"] = response_format(req.response_model, self.strict, False)

    def _responses_body(self, req: ChatRequest, body: dict[str, Any],
                        response_format: _FormatMaker) -> None:
        body["input"] = [_responses_message(m) for m in req.messages if m.role != "system"]
        _put(body, "instructions", req.system)
        _put(body, "max_output_tokens", req.max_tokens)
        _put(body, "temperature", req.temperature)
        _put(body, "top_p", req.top_p)
        if req.response_model is not None:
            body["text"] = response_format(req.response_model, self.strict, True)

    def check(self, request: Request) -> None:
        """Raise ``InvalidRequestError`` for what the vendor would reject or batchkit would lose."""
        cid = request.custom_id

        def fail(rule: str) -> NoReturn:
            raise InvalidRequestError(rule, custom_id=cid)

        if request.params:
            refused = ["model", "stream", "input" if isinstance(request, EmbedRequest) else "n"]
            for key in refused:
                if key in request.params and not (key == "n" and request.params[key] == 1):
                    fail(_PARAM_RULES[key])
        if isinstance(request, EmbedRequest):
            if self.embeddings_url is None:
                fail(self._no_embeddings_rule())
            return
        for m in request.messages:
            if m.role != "user" and any(isinstance(p, ImagePart) for p in m.parts):
                fail(f"images are only allowed in user messages, not {m.role!r} ones")
        if self.max_stop_sequences and request.stop and len(request.stop) > self.max_stop_sequences:
            fail(f"at most {self.max_stop_sequences} stop sequences are allowed")
        if self.chat_endpoint == "responses":
            if request.stop is not None or request.seed is not None:
                fail("the /v1/responses endpoint takes neither 'stop' nor 'seed'")
            if request.max_tokens is not None and request.max_tokens < 16:
                fail("the /v1/responses endpoint needs max_tokens >= 16 (max_output_tokens)")
        if self.strict and request.response_model is not None:
            try:
                strict_schema_cached(request.response_model)
            except StrictSchemaError as exc:
                fail(f"response_model cannot be sent as a strict schema: {exc}")


_PARAM_RULES = {
    "model": "params must not set 'model'; choose it in the provider string",
    "stream": "batch APIs reject 'stream'; remove it from params",
    "n": "params 'n' other than 1 is not supported: batchkit keeps one choice per request",
    "input": "params must not set 'input'; use one EmbedRequest per text",
}


_FormatMaker = Callable[[type[BaseModel], bool, bool], Any]
"""``(model, strict, responses_endpoint)`` -> the body's response format value."""


@cache
def _format_dict(model: type[BaseModel], strict: bool, responses: bool) -> dict[str, Any]:
    """``response_format`` (chat) or ``text`` (responses) for ``model``, once per class."""
    schema = strict_schema_cached(model) if strict else model.model_json_schema()
    fmt = {"name": schema_name(model), "schema": schema, "strict": strict}
    if responses:
        return {"format": {"type": "json_schema", **fmt}}
    return {"type": "json_schema", "json_schema": fmt}


@cache
def _format_fragment(model: type[BaseModel], strict: bool, responses: bool) -> orjson.Fragment:
    """:func:`_format_dict` already serialized, for :meth:`LineFormat.encode`."""
    return orjson.Fragment(orjson.dumps(_format_dict(model, strict, responses)))


def _put(body: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        body[key] = value


def _image_url(part: ImagePart) -> str:
    return part.url if part.url is not None else f"data:{part.media_type};base64,{part.data}"


def _chat_message(message: Message) -> dict[str, Any]:
    if isinstance(message.content, str):
        return {"role": message.role, "content": message.content}
    content: list[dict[str, Any]] = []
    for p in message.parts:
        if isinstance(p, ImagePart):
            image: dict[str, Any] = {"url": _image_url(p)}
            _put(image, "detail", p.detail)
            content.append({"type": "image_url", "image_url": image})
        elif isinstance(p, TextPart):
            content.append({"type": "text", "text": p.text})
    return {"role": message.role, "content": content}


def _responses_message(message: Message) -> dict[str, Any]:
    # Assistant turns take plain text (input_* parts are for user turns); images in them are
    # refused by LineFormat.check, so .text loses nothing.
    if isinstance(message.content, str) or message.role == "assistant":
        return {"role": message.role, "content": message.text}
    content = [
        {"type": "input_image", "image_url": _image_url(p), "detail": p.detail or "auto"}
        if isinstance(p, ImagePart) else {"type": "input_text", "text": p.text}
        for p in message.parts if isinstance(p, ImagePart | TextPart)
    ]
    return {"role": message.role, "content": content}
