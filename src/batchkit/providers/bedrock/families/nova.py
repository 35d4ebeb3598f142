"""Amazon Nova understanding models (``amazon.nova-micro/lite/pro/premier``, Nova 2) on Bedrock.

Nova's InvokeModel body (the Converse request's shape, bytes as base64): messages of
content blocks with tool calls, tool results, images, documents and cache points, ``system``
blocks, ``inferenceConfig`` and ``toolConfig``. No I/O.

Facts: botocore's ``bedrock-runtime`` ``ConverseRequest`` shapes (``ContentBlock``,
``ToolConfiguration``, ``DocumentBlock``, ``CachePointBlock``) and the Nova user guide
https://docs.aws.amazon.com/nova/latest/userguide/complete-request-schema.html.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ...._requests import ChatRequest, DocumentPart, ImagePart, Message, Request
from ..._capabilities import complete, no
from ...anthropic.messages import DEFAULT_MAX_TOKENS
from ..capabilities import CAPABILITIES
from ._base import Fail, Family
from ._chat import IMAGE_FORMATS, TOOL_NAME, check_chat, image_data, schema
from .nova_reading import nova_reply, nova_request

__all__ = ["DOCUMENT_FORMATS", "NOVA"]
DOCUMENT_FORMATS = {"application/pdf": "pdf", "text/plain": "txt", "text/csv": "csv",
                     "text/html": "html", "text/markdown": "md", "application/msword": "doc",
                     "application/vnd.openxmlformats-officedocument.wordprocessingml.document":
                     "docx", "application/vnd.ms-excel": "xls",
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx"}
"""Converse's ``DocumentFormat`` values by media type."""
_CACHE_POINT = {"cachePoint": {"type": "default"}}


def _check(request: Request, fail: Fail) -> None:
    """What Nova's body cannot say: no tool choice ``none``, no parallel-call switch, documents
    only as inline data of a Converse document format."""
    assert isinstance(request, ChatRequest)
    check_chat(request, "Amazon Nova", ("toolConfig",), fail)
    if request.tool_choice == "none":
        fail("Amazon Nova has no tool_choice 'none'; leave the tools out of this request")
    if request.parallel_tool_calls is not None:
        fail("Amazon Nova has no parallel_tool_calls switch; remove it for this model")
    replays = any(m.role == "tool" or m.tool_calls for m in request.messages)
    if replays and not request.tools:
        fail("Amazon Nova needs the request's tools when its conversation replays tool calls")
    for message in request.messages:
        for part in message.parts:
            if not isinstance(part, DocumentPart):
                continue
            if message.role not in ("user", "tool"):
                fail(f"documents are only allowed in user messages, not {message.role!r} ones")
            if part.data is None:
                fail("Nova on Bedrock takes documents as base64 data, not a url or file_id; "
                     "download the file and pass data=...")
            if part.media_type not in DOCUMENT_FORMATS:
                fail(f"Nova reads documents of types {', '.join(DOCUMENT_FORMATS.values())}, "
                     f"not {part.media_type!r}")


def _encode(request: Request, options: Mapping[str, Any]) -> dict[str, Any]:
    """The body; a response model or schema becomes the forced ``respond`` tool."""
    assert isinstance(request, ChatRequest)
    max_tokens = request.max_tokens or int(options.get("max_tokens") or DEFAULT_MAX_TOKENS)
    answer = schema(request)
    config: dict[str, Any] = {"maxTokens": max_tokens}
    for key, value in (("temperature", request.temperature), ("topP", request.top_p),
                       ("stopSequences", request.stop)):
        if value is not None:
            config[key] = value
    body: dict[str, Any] = {"messages": _messages(request.messages), "inferenceConfig": config}
    systems = [m for m in request.messages if m.role == "system"]
    if systems:
        body["system"] = [{"text": request.system}]
        if any(m.cache for m in systems):
            body["system"].append(_CACHE_POINT)
    if answer is not None:
        body["toolConfig"] = {
            "tools": [_spec(TOOL_NAME, "Reply with this tool's input.", answer)],
            "toolChoice": {"tool": {"name": TOOL_NAME}},
        }
    elif request.tools:
        body["toolConfig"] = {"tools": [_spec(t.name, t.description, t.parameters)
                                        for t in request.tools]}
        choice = request.tool_choice
        if choice in ("auto", "required"):
            body["toolConfig"]["toolChoice"] = {"auto" if choice == "auto" else "any": {}}
        elif choice is not None:
            body["toolConfig"]["toolChoice"] = {"tool": {"name": choice}}
    return body


def _spec(name: str, description: str | None, schema: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, "inputSchema": {"json": schema}}
    if description:
        spec["description"] = description
    return {"toolSpec": spec}


def _messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Converse turns: consecutive tool messages share one user turn of ``toolResult`` blocks."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        blocks = _blocks(m)
        if m.role == "tool":  # a tool result's content holds no cache point: it goes after
            content = [b for b in blocks if b is not _CACHE_POINT]
            result = [{"toolResult": {"toolUseId": m.tool_call_id, "content": content}}]
            if out and out[-1]["role"] == "user" and "toolResult" in out[-1]["content"][0]:
                out[-1]["content"] += result
            else:
                out.append({"role": "user", "content": result})
            if m.cache or len(content) < len(blocks):
                out[-1]["content"].append(_CACHE_POINT)
            continue
        blocks += [{"toolUse": {"toolUseId": c.id, "name": c.name, "input": c.arguments}}
                   for c in m.tool_calls or ()]
        if m.cache:
            blocks.append(_CACHE_POINT)
        out.append({"role": m.role, "content": blocks})
    return out


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.content is None:
        return []
    if isinstance(message.content, str):
        return [{"text": message.content}]
    blocks: list[dict[str, Any]] = []
    for index, part in enumerate(message.parts):
        if isinstance(part, ImagePart):
            media_type, data = image_data(part)
            blocks.append({"image": {"format": IMAGE_FORMATS.get(str(media_type), "png"),
                                     "source": {"bytes": data}}})
        elif isinstance(part, DocumentPart):
            blocks.append({"document": {"format": DOCUMENT_FORMATS[part.media_type],
                                        "name": _document_name(part.title, index),
                                        "source": {"bytes": part.data}}})
        else:
            blocks.append({"text": part.text})
        if part.cache:
            blocks.append(_CACHE_POINT)
    return blocks


def _document_name(title: str | None, index: int) -> str:
    """Converse's document ``name``: letters, digits, spaces (not two in a row), hyphens,
    parentheses and square brackets, at most 200 characters."""
    name = re.sub(r"\s+", " ", re.sub(r"[^A-Za-z0-9\s\-()\[\]]", "-", title or "")).strip()
    return name[:200] or f"document-{index + 1}"


_CLAUDE_ONLY = ("parallel_tool_calls", "reasoning", "reasoning_off")
_NOT_YET = no("Amazon Nova's body has no such field in batchkit yet; use a Claude model, or pass "
              "Nova's own fields in params={'bedrock': {...}}")
NOVA = Family(
    name="nova", kind="chat", label="Amazon Nova",
    body_fields=frozenset({"schemaVersion", "system", "messages", "inferenceConfig",
                           "toolConfig"}),
    capabilities=complete({f: _NOT_YET if f in _CLAUDE_ONLY else s
                           for f, s in CAPABILITIES.items()}, "bedrock"),
    encode=_encode, to_request=nova_request, decode=nova_reply,
    answers=lambda output: isinstance(output.get("output"), dict),
    check=_check,
)
