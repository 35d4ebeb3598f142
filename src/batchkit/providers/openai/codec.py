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

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

import orjson
from pydantic import BaseModel

from ..._exceptions import InvalidRequestError
from ..._parts import DocumentPart
from ..._requests import ChatRequest, EmbedRequest, ImagePart, ModerationRequest, Request
from .._capabilities import FEATURE_FIELDS, vendor_params
from .._strict_schema import (
    StrictSchemaError,
    schema_name,
    strict_json_schema,
    strict_schema_cached,
    to_strict_schema,
)
from .bodies import (
    OPENAI_EFFORTS,
    TEXT_MESSAGE_FIELDS,
    chat_message,
    chat_tools,
    feature_fields,
    responses_input,
    responses_tools,
    strict_tool_problem,
)

__all__ = [
    "CHAT_URL",
    "EMBEDDINGS_URL",
    "MODERATIONS_URL",
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
MODERATIONS_URL = "/v1/moderations"
MAX_EMBED_TEXTS = 2048
"""``CreateEmbeddingRequest.input``: an array of at most 2048 texts (the OpenAI spec)."""

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
    moderations_url: str = MODERATIONS_URL
    """Where moderation lines go; vendors without moderation refuse them by their
    capability table before any line is made."""
    embeddings_base64: bool = True
    vendor: str = "OpenAI"
    key: str = "openai"
    """The vendor's registry name: its scope in ``params={key: {...}}``."""
    efforts: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: {k: {"reasoning_effort": v} for k, v in OPENAI_EFFORTS.items()})
    """Neutral reasoning effort (``off`` included) -> the chat body fields that say it; an
    effort missing here is refused by :meth:`check`."""
    params_types: Mapping[str, tuple[str, str]] = field(default_factory=lambda: {
        "chat": ("openai.types.chat.completion_create_params", "CompletionCreateParamsBase"),
        "responses": ("openai.types.responses.response_create_params",
                      "ResponseCreateParamsBase"),
        "embed": ("openai.types.embedding_create_params", "EmbeddingCreateParams"),
        "moderation": ("openai.types.moderation_create_params", "ModerationCreateParams"),
    })
    """Per endpoint, the vendor SDK's TypedDict of request fields (module, class): an unscoped
    ``params`` key must be one of them."""

    def url(self, request: Request) -> str:
        """The endpoint path of ``request``'s line (also the batch's ``endpoint``)."""
        if isinstance(request, EmbedRequest):
            if self.embeddings_url is None:
                raise InvalidRequestError(self._no_embeddings_rule(),
                                          custom_id=request.custom_id)
            return self.embeddings_url
        if isinstance(request, ModerationRequest):
            return self.moderations_url
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
        if type(request) is ChatRequest and self.chat_endpoint == "chat":
            return self._chat_line(request, custom_id)
        line: dict[str, Any] = {"custom_id": custom_id}
        if self.method_and_url:
            line["method"] = "POST"
            line["url"] = self.url(request)
        line["body"] = self._body(request, spliced=True)
        return orjson.dumps(line)

    def _chat_line(self, req: ChatRequest, custom_id: str) -> bytes:
        """:meth:`encode` of a chat request, most lines of most jobs, without the dispatch on
        the request's kind and endpoint; the same bytes."""
        body: dict[str, Any] = {} if self.model is None else {"model": self.model}
        self._chat_body(req, body, spliced=True)
        if req.params:
            body.update(self.raw_params(req))
        if self.method_and_url:
            return orjson.dumps({"custom_id": custom_id, "method": "POST", "url": self.chat_url,
                                 "body": body})
        return orjson.dumps({"custom_id": custom_id, "body": body})

    def body(self, request: Request) -> dict[str, Any]:
        """The endpoint request body; ``params`` are merged last as the vendor escape hatch.

        ``metadata`` is never sent, and ``EmbedRequest.input_type`` is left out: OpenAI's
        embeddings are symmetric, and refusing the hint would break moving a job between vendors.
        The response format is computed once per model class and shared by every body, so
        treat the returned body as read-only.
        """
        return self._body(request, spliced=False)

    def _body(self, request: Request, *, spliced: bool) -> dict[str, Any]:
        """The body; ``spliced``: the parts shared by many lines (response formats, tools) as
        bytes serialized once (``orjson.Fragment``, for :meth:`encode`), else as dicts."""
        body: dict[str, Any] = {} if self.model is None else {"model": self.model}
        if isinstance(request, EmbedRequest):
            # A list input embeds each text in one line; one text stays a string, as it was.
            body["input"] = request.text if request.texts is None else request.texts
            if request.dimensions is not None:
                body["dimensions"] = request.dimensions
            if self.embeddings_base64:
                body["encoding_format"] = "base64"
        elif isinstance(request, ModerationRequest):
            body["input"] = request.text if request.texts is None else request.texts
        elif self.chat_endpoint == "responses":
            self._responses_body(request, body, spliced=spliced)
        else:
            self._chat_body(request, body, spliced=spliced)
        if request.params:
            body.update(self.raw_params(request))
        return body

    def raw_params(self, request: Request) -> dict[str, Any]:
        """``request.params`` as this vendor's line takes them: its own scope over the unscoped
        keys, which must be fields of the vendor's request type (see ``vendor_params``)."""
        from ..._registry import available_providers

        endpoint = request.kind if request.kind != "chat" else self.chat_endpoint
        vendors = [name for name, _, _ in available_providers()]
        return vendor_params(request, self.key, vendors,
                             _known_fields(*self.params_types[endpoint])
                             if endpoint in self.params_types else None)

    def _chat_body(self, req: ChatRequest, body: dict[str, Any], *, spliced: bool) -> None:
        # A text turn (most of a million-row job) is written here without a call.
        body["messages"] = [
            {"role": m.role, "content": m.content}
            if type(m.content) is str and m.__pydantic_fields_set__ <= TEXT_MESSAGE_FIELDS
            else chat_message(m) for m in req.messages]
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
            body["response_format"] = (_format_fragment if spliced else _format_dict)(
                req.response_model, self.strict, False)
        if not FEATURE_FIELDS.isdisjoint(req.__pydantic_fields_set__):  # one set operation
            self._chat_features(req, body, spliced)

    def _chat_features(self, req: ChatRequest, body: dict[str, Any], spliced: bool) -> None:
        if req.response_schema is not None:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": self._raw_schema(req.response_schema)}
        elif req.json_mode:
            body["response_format"] = {"type": "json_object"}
        if req.tools or req.tool_choice is not None or req.parallel_tool_calls is not None:
            chat_tools(req, body, self.strict, spliced=spliced)
        if req.reasoning is not None or req.n is not None or req.logprobs:
            feature_fields(req, body, self.efforts)

    def _responses_body(self, req: ChatRequest, body: dict[str, Any], *, spliced: bool) -> None:
        body["input"] = responses_input(req)
        _put(body, "instructions", req.system)
        _put(body, "max_output_tokens", req.max_tokens)
        _put(body, "temperature", req.temperature)
        _put(body, "top_p", req.top_p)
        if req.response_model is not None:
            body["text"] = (_format_fragment if spliced else _format_dict)(
                req.response_model, self.strict, True)
        elif req.response_schema is not None:
            body["text"] = {"format": {"type": "json_schema",
                                       **self._raw_schema(req.response_schema)}}
        elif req.json_mode:
            body["text"] = {"format": {"type": "json_object"}}
        responses_tools(req, body, self.strict, spliced=spliced)
        if req.reasoning is not None:
            # A summary is asked for so Result.reasoning has the model's thinking in words.
            body["reasoning"] = ({"effort": OPENAI_EFFORTS["off"]} if req.reasoning.off else
                                 {"effort": OPENAI_EFFORTS[req.reasoning.effort or "medium"],
                                  "summary": "auto"})
        if req.logprobs:
            body["include"] = ["message.output_text.logprobs"]
            _put(body, "top_logprobs", req.top_logprobs)

    def _raw_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """A caller's raw JSON schema as ``json_schema`` (named by its ``title``)."""
        name = _schema_name(schema)
        if self.strict:
            return {"name": name, "schema": to_strict_schema(schema), "strict": True}
        return {"name": name, "schema": schema}

    def check(self, request: Request) -> None:
        """Raise ``InvalidRequestError`` for what the vendor would reject or batchkit would lose
        (the capability table has refused whole features already; these are the finer rules)."""
        rule = self._broken_rule(request)
        if rule is not None:
            raise InvalidRequestError(rule, custom_id=request.custom_id)

    def _broken_rule(self, request: Request) -> str | None:
        """The first rule ``request`` breaks, or None. Runs once per request of a million-row
        job, so a plain chat request takes the fewest steps."""
        if request.params:
            for key in ("model", "stream", "n" if isinstance(request, ChatRequest) else "input"):
                if key in request.params and not (key == "n" and request.params[key] == 1):
                    return _PARAM_RULES[key]
            self.raw_params(request)
        if isinstance(request, EmbedRequest):
            if self.embeddings_url is None:
                return self._no_embeddings_rule()
            if request.texts is not None and len(request.texts) > MAX_EMBED_TEXTS:
                return (f"an embedding line takes at most {MAX_EMBED_TEXTS} texts, not "
                        f"{len(request.texts)}; split them into several requests")
            return None
        if isinstance(request, ModerationRequest):
            return None
        has_parts = False
        for m in request.messages:
            if type(m.content) is list:
                has_parts = True
                if m.role != "user":
                    for p in m.content:
                        if isinstance(p, ImagePart | DocumentPart):
                            what = "images" if isinstance(p, ImagePart) else "documents"
                            return (f"{what} are only allowed in user messages, not {m.role!r} "
                                    "ones")
        if (request.stop is not None and self.max_stop_sequences
                and len(request.stop) > self.max_stop_sequences):
            return f"at most {self.max_stop_sequences} stop sequences are allowed"
        if has_parts or request.reasoning is not None or self.chat_endpoint == "responses":
            rule = self._feature_rule(request)
            if rule is not None:
                return rule
        if self.strict:
            return self._strict_rule(request)
        return None

    @staticmethod
    def _strict_rule(request: ChatRequest) -> str | None:
        try:
            if request.response_model is not None:
                strict_schema_cached(request.response_model)
            if request.response_schema is not None:
                to_strict_schema(request.response_schema)
        except StrictSchemaError as exc:
            which = "response_model" if request.response_model is not None else "response_schema"
            return f"{which} cannot be sent as a strict schema: {exc}"
        return strict_tool_problem(request) if request.tools else None

    def _feature_rule(self, request: ChatRequest) -> str | None:
        reasoning = request.reasoning
        if reasoning is not None and not reasoning.off:
            if reasoning.effort is None:
                return (f"{self.vendor} takes a reasoning effort, not a token budget: give "
                        f"reasoning={{'effort': one of {self._efforts()}}}")
            if reasoning.effort not in self.efforts:
                return (f"{self.vendor} takes reasoning effort {self._efforts()}, "
                        f"not {reasoning.effort!r}")
        if reasoning is not None and reasoning.off and "off" not in self.efforts:
            return f"{self.vendor} cannot turn reasoning off; leave reasoning unset"
        if self.chat_endpoint == "responses":
            if request.stop is not None or request.seed is not None:
                return "the /v1/responses endpoint takes neither 'stop' nor 'seed'"
            if request.max_tokens is not None and request.max_tokens < 16:
                return "the /v1/responses endpoint needs max_tokens >= 16 (max_output_tokens)"
            if request.n is not None and request.n > 1:
                return (f"the /v1/responses endpoint has no n: send {request.n} requests, or "
                        "use the chat endpoint")
            if any(m.name is not None for m in request.messages):
                return "the /v1/responses endpoint keeps no message 'name'; use the chat endpoint"
        elif any(isinstance(p, DocumentPart) and p.url is not None
                 for m in request.messages for p in m.parts):
            return (f"{self.vendor} chat takes a document as data or file_id, not url; give "
                    "its bytes (DocumentPart(data=...)) or use the responses endpoint")
        return None

    def _efforts(self) -> str:
        return "|".join(e for e in self.efforts if e != "off")


_PARAM_RULES = {
    "model": "params must not set 'model'; choose it in the provider string",
    "stream": "batch APIs reject 'stream'; remove it from params",
    "n": "params 'n' is not taken; use ChatRequest(n=...), which keeps every choice",
    "input": "params must not set 'input'; use one EmbedRequest per text",
}


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


@cache
def _known_fields(module: str, name: str) -> frozenset[str] | None:
    """The request fields of an SDK TypedDict, or None (not checked) without that SDK."""
    try:
        typed = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    return frozenset(typed.__annotations__)


def _schema_name(schema: dict[str, Any]) -> str:
    """A raw schema's ``title`` as a format name (letters, digits, ``_``, ``-``; 64 at most)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", str(schema.get("title") or "response"))[:64]
