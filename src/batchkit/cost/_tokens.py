"""Token counting, offline, with every figure marked exact or approximate.

* OpenAI-family models count exactly with tiktoken: ``o200k_base`` for gpt-4o, gpt-4.1, gpt-5 and
  the o-series; ``cl100k_base`` for gpt-4, gpt-3.5 and text-embedding-3 / ada-002 (tiktoken's own
  ``model.py`` table). Chat messages add the overhead OpenAI's cookbook "How to count tokens with
  tiktoken" documents and verified against the API: 3 tokens per message, 1 per ``name``, and 3
  for the reply primer ``<|start|>assistant<|message|>``.
* Tools and JSON schemas (``response_model``) use the cookbook's tool formula; OpenAI publishes no
  formula for structured-output schemas, so these figures are always flagged approximate.
* Other vendors publish no offline tokenizer (Anthropic has none; Gemini's and Cohere's need a
  download), so their counts are ``ceil(characters / 4)`` per text, Google's documented rule of
  thumb ("a token is equivalent to about 4 characters"), plus the same message overhead.

tiktoken downloads its encoding files on first use, with no timeout. batchkit never lets it:
the encodings ship inside the package (``_encodings.py``), so counts are exact offline, and a
missing tiktoken or an altered file falls back to the approximation, flagged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from .._requests import ChatRequest, ImagePart, Message, Request, TextPart
from . import _encodings
from ._encodings import load_encoding

__all__ = [
    "IMAGE_TOKENS",
    "TokenCount",
    "TokenCounter",
    "count_chat_tokens",
    "count_text_tokens",
    "counter_for",
    "load_encoding",
    "openai_encoding_for_model",
]

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMER_TOKENS = 3
IMAGE_TOKENS = 765
"""Assumed per image: OpenAI's gpt-4o figure for a 1024x1024 high-detail image (85 + 4 x 170).
The real count depends on size, detail and model, so any request with an image is approximate."""
LOW_DETAIL_IMAGE_TOKENS = 85
CHARS_PER_TOKEN = 4.0

# tiktoken/model.py: these prefixes use o200k_base; the cl100k list is the older families.
_O200K_PREFIXES = ("gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3",
                   "o4", "gpt-oss")  # fmt: skip
_CL100K_PREFIXES = ("gpt-4", "gpt-3.5", "gpt-35", "text-embedding-3", "text-embedding-ada-002",
                    "davinci-002", "babbage-002")  # fmt: skip
# Cookbook num_tokens_for_tools constants; func_init is 7 on o200k models, 10 on gpt-3.5/gpt-4.
_FUNC_INIT = {"o200k_base": 7, "cl100k_base": 10}
_PROP_INIT, _PROP_KEY, _ENUM_INIT, _ENUM_ITEM, _FUNC_END = 3, 3, -3, 3, 12
_SIMPLE_TYPES = {"string", "integer", "number", "boolean", "null"}


@dataclass(frozen=True, slots=True)
class TokenCount:
    """A token figure and whether it is exact (what the vendor will bill) or approximate."""

    tokens: int
    exact: bool
    method: str

    def __add__(self, other: TokenCount) -> TokenCount:
        method = self.method if self.method == other.method else f"{self.method}+{other.method}"
        return TokenCount(self.tokens + other.tokens, self.exact and other.exact, method)


def openai_encoding_for_model(model: str) -> str:
    """The tiktoken encoding of an OpenAI model; unknown names get the newest (o200k_base)."""
    name = model.removeprefix("ft:")
    if name.startswith(_O200K_PREFIXES):
        return "o200k_base"
    if name.startswith(_CL100K_PREFIXES):
        return "cl100k_base"
    return "o200k_base"


class TokenCounter:
    """Counts the input tokens of requests for one tokenizer spec from the price catalog.

    Specs: ``tiktoken:<encoding>`` (exact, OpenAI chat format), ``tiktoken-approx:<encoding>``
    (same encoding, another vendor's chat template, so approximate), ``chars:<n>``.
    """

    def __init__(self, spec: str) -> None:
        self.spec = spec
        scheme, _, arg = spec.partition(":")
        self._encoding = load_encoding(arg) if scheme.startswith("tiktoken") else None
        self._exact = scheme == "tiktoken" and self._encoding is not None
        if self._encoding is not None:
            self.method = arg
        elif scheme == "chars":
            self._chars = float(arg)
            self.method = f"chars/{arg}"
        else:
            self._chars = CHARS_PER_TOKEN
            self.method = f"chars/4 ({arg} not loadable)"

    @property
    def exact(self) -> bool:
        """Whether plain-text requests count exactly (tools, schemas and images never do)."""
        return self._exact

    def text(self, text: str) -> int:
        if self._encoding is not None:
            return len(self._encoding.encode_ordinary(text))
        return math.ceil(len(text) / self._chars)

    def count(self, request: Request) -> TokenCount:
        """Input tokens of one request."""
        if not isinstance(request, ChatRequest):  # an embedding or moderation: its texts
            return TokenCount(sum(self.text(t) for t in request.inputs), self._exact,
                              self.method)
        return self._chat(request)

    def messages(self, messages: Iterable[Mapping[str, Any]]) -> TokenCount:
        """The cookbook's ``num_tokens_from_messages``: every field value is counted."""
        tokens, exact = REPLY_PRIMER_TOKENS, self._exact
        for message in messages:
            tokens += TOKENS_PER_MESSAGE
            for key, value in message.items():
                if isinstance(value, str):
                    tokens += self.text(value)
                else:
                    n, part_exact = self._parts(value)
                    tokens, exact = tokens + n, exact and part_exact
                if key == "name":
                    tokens += TOKENS_PER_NAME
        return TokenCount(tokens, exact, self.method)

    def _parts(self, value: Any) -> tuple[int, bool]:
        """Content parts: text as text, images as an assumed figure, anything else as JSON."""
        if not isinstance(value, list):
            return self.text(orjson.dumps(value).decode()), False
        tokens, exact = 0, True
        for part in value:
            if isinstance(part, Mapping) and part.get("type") == "text":
                tokens += self.text(str(part.get("text", "")))
            elif isinstance(part, Mapping) and part.get("type") in ("image", "image_url"):
                low = part.get("detail") == "low" or (
                    isinstance(part.get("image_url"), Mapping)
                    and part["image_url"].get("detail") == "low"
                )
                tokens, exact = tokens + (LOW_DETAIL_IMAGE_TOKENS if low else IMAGE_TOKENS), False
            else:
                tokens, exact = tokens + self.text(orjson.dumps(part).decode()), False
        return tokens, exact

    def _chat(self, request: ChatRequest) -> TokenCount:
        count = self.messages(_message_dict(m) for m in request.messages)
        tools = request.params.get("tools")
        if isinstance(tools, list) and tools:
            count = count + TokenCount(self.tools(tools), False, self.method)
        schema = _request_schema(request)
        if schema is not None:
            count = count + TokenCount(self.schema(schema), False, self.method)
        return count

    def tools(self, tools: Iterable[Any]) -> int:
        """The cookbook's ``num_tokens_for_tools`` (without the messages), tolerant of gaps.

        Properties that are not simple scalars (nested objects, arrays, ``$ref``) are counted as
        their JSON text, which the cookbook formula does not cover.
        """
        func_init = _FUNC_INIT.get(self.method, _FUNC_INIT["o200k_base"])
        tokens = 0
        for tool in tools:
            fn = tool.get("function", tool) if isinstance(tool, Mapping) else {}
            desc = str(fn.get("description", "")).removesuffix(".")
            tokens += func_init + self.text(f"{fn.get('name', '')}:{desc}")
            tokens += self._properties(fn.get("parameters") or {})
        return tokens + _FUNC_END if tokens else 0

    def schema(self, schema: Mapping[str, Any]) -> int:
        """A JSON schema counted as a one-function tool named after its title (approximate)."""
        tool = {
            "name": schema.get("title", "response"),
            "description": schema.get("description", ""),
            "parameters": schema,
        }
        extra = schema.get("$defs")
        return self.tools([tool]) + (self.text(orjson.dumps(extra).decode()) if extra else 0)

    def _properties(self, parameters: Mapping[str, Any]) -> int:
        props = parameters.get("properties") or {}
        if not props:
            return 0
        tokens = _PROP_INIT
        for name, prop in props.items():
            tokens += _PROP_KEY
            ptype = prop.get("type", "")
            if ptype not in _SIMPLE_TYPES:
                tokens += self.text(orjson.dumps(prop).decode())
                continue
            if "enum" in prop:
                tokens += _ENUM_INIT
                for item in prop["enum"]:
                    tokens += _ENUM_ITEM + self.text(str(item))
            desc = str(prop.get("description", "")).removesuffix(".")
            tokens += self.text(f"{name}:{ptype}:{desc}")
        return tokens


def _message_dict(message: Message) -> dict[str, Any]:
    if isinstance(message.content, str):
        return {"role": message.role, "content": message.content}
    parts: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, ImagePart):
            parts.append({"type": "image", "detail": part.detail})
        elif isinstance(part, TextPart):
            parts.append({"type": "text", "text": part.text})
        else:  # a document: the vendor counts its pages, not known here (flagged approximate)
            parts.append({"type": "image", "detail": "high"})
    return {"role": message.role, "content": parts}


def _request_schema(request: ChatRequest) -> Mapping[str, Any] | None:
    """The JSON schema the vendor will see: the response_model's, or a raw response_format."""
    if request.response_model is not None:
        return request.response_model.model_json_schema()
    fmt = request.params.get("response_format")
    if isinstance(fmt, Mapping) and isinstance(fmt.get("json_schema"), Mapping):
        schema = fmt["json_schema"].get("schema")
        return schema if isinstance(schema, Mapping) else None
    return None


_counters: dict[tuple[str, str], TokenCounter] = {}


def counter_for(spec: str) -> TokenCounter:
    """A shared counter per spec (re-made if the encodings folder is pointed elsewhere)."""
    key = (spec, str(_encodings.ENCODINGS_DIR))
    counter = _counters.get(key)
    if counter is None:
        counter = _counters[key] = TokenCounter(spec)
    return counter


def count_chat_tokens(
    messages: Iterable[Mapping[str, Any]],
    *,
    model: str = "gpt-4o-mini",
    tools: Iterable[Mapping[str, Any]] | None = None,
) -> TokenCount:
    """Prompt tokens of OpenAI-shaped ``messages`` (with ``name`` fields) for an OpenAI model.

    This is the cookbook's ``num_tokens_from_messages`` plus ``num_tokens_for_tools``; it takes
    plain dicts because the cookbook's examples use fields (``name``) batchkit's Message lacks.
    """
    counter = counter_for(f"tiktoken:{openai_encoding_for_model(model)}")
    count = counter.messages(messages)
    tool_list = list(tools or ())
    if tool_list:
        count = count + TokenCount(counter.tools(tool_list), False, counter.method)
    return count


def count_text_tokens(text: str, *, model: str = "text-embedding-3-small") -> TokenCount:
    """Tokens of a bare text (an embedding input) for an OpenAI model."""
    counter = counter_for(f"tiktoken:{openai_encoding_for_model(model)}")
    return TokenCount(counter.text(text), counter.exact, counter.method)
