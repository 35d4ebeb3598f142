"""The Anthropic Messages shape of a conversation, as Anthropic's Message Batches and Bedrock's
Claude models take it: content blocks (text, image, document), the tool calls an assistant made
and the tool results answering them, cache breakpoints, and the system prompt. No I/O.

Why a module of its own: the Messages body is the same wherever Claude runs; only the envelope
around it differs (Anthropic's ``{custom_id, params}``, Bedrock's ``{recordId, modelInput}`` with
``anthropic_version``). The reply is read in :mod:`.reply`, the request-level features (tools,
thinking, output formats) are spelt in :mod:`.features`.
Facts: https://docs.anthropic.com/en/api/messages and the ``anthropic`` SDK's param types.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any, NoReturn

from ..._requests import ChatRequest, DocumentPart, ImagePart, Message, TextPart

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "EPHEMERAL",
    "check_messages",
    "encode_message",
    "encode_messages",
    "encode_system",
]

DEFAULT_MAX_TOKENS = 4096
"""``max_tokens`` when neither the request nor ``options["max_tokens"]`` gives one: Anthropic
requires it, and 4096 fits every current Claude model's output limit while leaving room for
long structured replies. The cost estimate's upper bound uses whatever is sent."""

EPHEMERAL = {"type": "ephemeral"}
"""The one ``cache_control`` Anthropic has: a breakpoint caching the prompt up to its block."""

_DATA_URL = re.compile(r"^data:(?P<type>[^;,]+);base64,(?P<data>.*)$", re.DOTALL)
_DOCUMENT_TYPES = ("application/pdf", "text/plain")
"""The document sources the SDK types: base64 PDF, and plain text (sent as text)."""

Fail = Callable[[str], NoReturn]


def check_messages(request: ChatRequest, fail: Fail, *, links: bool) -> None:
    """Refuse what the Messages API rejects in a conversation: images outside user turns, text
    that is only whitespace, a document type it cannot read, and (``links=False``: Bedrock)
    images or documents by link or file id, which only Anthropic's own API fetches."""
    for m in request.messages:
        if type(m.content) is str:  # most messages: one text, nothing else to look at
            if m.content.isspace() or not m.content:
                fail(f"anthropic refuses text that is only whitespace (a {m.role!r} message)")
            continue
        for part in m.parts:
            if isinstance(part, ImagePart) and m.role not in ("user", "tool"):
                fail(f"images are only allowed in user messages, not {m.role!r} ones")
            if isinstance(part, DocumentPart):
                _check_document(part, m.role, fail, links=links)
        texts = [m.content] if isinstance(m.content, str) else [
            p.text for p in m.parts if isinstance(p, TextPart)]
        if any(not text.strip() for text in texts):
            fail(f"anthropic refuses text that is only whitespace (a {m.role!r} message)")


def _check_document(part: DocumentPart, role: str, fail: Fail, *, links: bool) -> None:
    if role not in ("user", "tool"):
        fail(f"documents are only allowed in user messages, not {role!r} ones")
    if part.media_type not in _DOCUMENT_TYPES:
        fail(f"Claude reads documents of type {' or '.join(_DOCUMENT_TYPES)}, not "
             f"{part.media_type!r}; convert it to PDF or text first")
    if part.media_type == "text/plain" and part.data is None:
        fail("a text/plain document must be given as data (base64 of UTF-8 text)")
    if not links and part.data is None:
        fail("Claude on Bedrock takes documents as base64 data, not a url or file_id; "
             "download the file and pass data=...")
    if part.media_type == "text/plain" and part.data is not None:
        try:
            base64.b64decode(part.data, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            fail("a text/plain document's data must be base64 of UTF-8 text")


def encode_system(request: ChatRequest, *, cache_all: bool = False) -> str | list[Any] | None:
    """The ``system`` field: one string, or text blocks when a system message is a cache
    breakpoint (``cache_all``: the ``cache_system`` option, a breakpoint after the whole system)."""
    systems = [m for m in request.messages if m.role == "system"]
    if not systems:
        return None
    if not cache_all and not any(m.cache or any(p.cache for p in m.parts) for m in systems):
        return "\n\n".join([m.text for m in systems])  # request.system, without a second pass
    blocks: list[dict[str, Any]] = []
    for m in systems:
        text: dict[str, Any] = {"type": "text", "text": m.text}
        if m.cache or any(p.cache for p in m.parts):
            text["cache_control"] = EPHEMERAL
        blocks.append(text)
    if cache_all:
        blocks[-1]["cache_control"] = EPHEMERAL
    return blocks


def encode_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """The ``messages`` list: system messages left out (they go to ``system``), consecutive tool
    messages merged into one user turn of ``tool_result`` blocks, as the API requires."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            block: dict[str, Any] = {"type": "tool_result", "tool_use_id": m.tool_call_id,
                                     "content": _content(m)}
            if m.cache:
                block["cache_control"] = EPHEMERAL
            previous = out[-1] if out else None
            if previous is not None and previous.get("tool_results"):
                previous["content"].append(block)
            else:
                out.append({"role": "user", "content": [block], "tool_results": True})
            continue
        out.append(encode_message(m))
    for entry in out:
        entry.pop("tool_results", None)
    return out


def encode_message(message: Message) -> dict[str, Any]:
    """A user or assistant message as a ``messages`` entry: a plain string where nothing more
    is needed, else content blocks with the assistant's ``tool_use`` blocks after its text."""
    content = _content(message) if message.content is not None else []
    if not message.tool_calls and not message.cache:
        return {"role": message.role, "content": content}
    blocks: list[dict[str, Any]] = (
        [{"type": "text", "text": content}] if isinstance(content, str) else content)
    blocks += [{"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
               for call in message.tool_calls or ()]
    if message.cache:
        blocks[-1]["cache_control"] = EPHEMERAL
    return {"role": message.role, "content": blocks}


def _content(message: Message) -> str | list[dict[str, Any]]:
    if isinstance(message.content, str):
        return message.content
    blocks = []
    for part in message.parts:
        block: dict[str, Any]
        if isinstance(part, ImagePart):
            block = _image(part)
        elif isinstance(part, DocumentPart):
            block = _document(part)
        else:
            block = {"type": "text", "text": part.text}
        if part.cache:
            block["cache_control"] = EPHEMERAL
        blocks.append(block)
    return blocks


def _image(part: ImagePart) -> dict[str, Any]:
    """An image block; ``data:`` URLs become base64 sources. ``detail`` has no Anthropic
    equivalent and is dropped (it is a cost hint, not content)."""
    if part.url is not None:
        inline = _DATA_URL.match(part.url)
        if inline is None:
            return {"type": "image", "source": {"type": "url", "url": part.url}}
        media_type, data = inline["type"], inline["data"]
    else:
        media_type, data = str(part.media_type), str(part.data)
    return {"type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data}}


def _document(part: DocumentPart) -> dict[str, Any]:
    """A ``document`` block: base64 PDF, a URL, a Files API id, or plain text (decoded)."""
    source: dict[str, Any]
    if part.file_id is not None:
        source = {"type": "file", "file_id": part.file_id}
    elif part.url is not None:
        source = {"type": "url", "url": part.url}
    elif part.media_type == "text/plain":
        source = {"type": "text", "media_type": "text/plain",
                  "data": base64.b64decode(str(part.data)).decode()}
    else:
        source = {"type": "base64", "media_type": "application/pdf", "data": part.data}
    block: dict[str, Any] = {"type": "document", "source": source}
    if part.title is not None:
        block["title"] = part.title
    return block
