"""Amazon Nova read back: a reply (``modelOutput``) as a Result, and an InvokeModel body as a
neutral request (for native input files and round trips). No I/O.

Facts: botocore's ``bedrock-runtime`` ``ConverseResponse``/``ConverseRequest`` shapes (Nova's
Invoke body is "nearly identical", bytes as base64) and
https://docs.aws.amazon.com/nova/latest/userguide/complete-request-schema.html.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...._requests import ChatRequest, DocumentPart, ImagePart, Message, TextPart
from ...._results import FinishReason, Result, Usage, finish_reason
from ...._tools import MessageToolCall, Tool, tool_call_from_raw
from ._base import BodyError
from ._chat import TOOL_NAME

__all__ = ["nova_reply", "nova_request"]

_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
    "model_context_window_exceeded": "length", "tool_use": "tool_calls",
    "content_filtered": "content_filter", "guardrail_intervened": "content_filter",
    "malformed_model_output": "other", "malformed_tool_use": "other",
}
"""Converse's ``StopReason`` values (botocore) in batchkit's vocabulary."""
_MEDIA = {"pdf": "application/pdf", "txt": "text/plain", "csv": "text/csv", "html": "text/html",
          "md": "text/markdown", "doc": "application/msword",
          "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
          "xls": "application/vnd.ms-excel",
          "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
_CONFIG = {"maxTokens": "max_tokens", "temperature": "temperature", "topP": "top_p",
           "stopSequences": "stop"}


def nova_reply(rid: str, output: dict[str, Any], row: dict[str, Any]) -> Result:
    """Text blocks joined, ``toolUse`` blocks as tool calls, except the forced ``respond``
    tool, whose input is a structured answer's text (ending as ``stop``)."""
    message = output["output"].get("message") or {}
    blocks = [b for b in message.get("content") or [] if isinstance(b, dict)]
    texts = [str(b["text"]) for b in blocks if "text" in b]
    uses = [b["toolUse"] for b in blocks if isinstance(b.get("toolUse"), dict)]
    text: str | None = "".join(texts) if texts else None
    vendor_stop = output.get("stopReason")
    stop = vendor_stop if isinstance(vendor_stop, str) else None
    finish = finish_reason(stop, _FINISH)
    answer = next((t for t in uses if t.get("name") == TOOL_NAME), None)
    if answer is not None:
        text, finish = orjson.dumps(answer.get("input")).decode(), "stop"
        uses = [t for t in uses if t is not answer]
    calls = [tool_call_from_raw(str(t.get("toolUseId") or ""), str(t.get("name") or ""),
                                t.get("input") if isinstance(t.get("input"), dict) else None)
             for t in uses]
    usage = output.get("usage") or {}
    read = int(usage.get("cacheReadInputTokenCount") or 0)
    written = int(usage.get("cacheWriteInputTokenCount") or 0)
    return Result(rid, "succeeded", text=text, finish_reason=finish, raw=row, tool_calls=calls,
                  vendor_finish_reason=stop, usage=Usage(
        input_tokens=int(usage.get("inputTokens") or 0) + read + written,
        output_tokens=int(usage.get("outputTokens") or 0),
        cached_input_tokens=read, cache_creation_input_tokens=written,
    ))


def nova_request(body: dict[str, Any], custom_id: str) -> ChatRequest:
    """The neutral request of a Nova body; fields with no neutral name stay in
    ``params={"bedrock": {...}}``."""
    if not isinstance(body.get("messages"), list):
        raise BodyError("'messages' must be a list of Converse turns")
    kept = {k: v for k, v in body.items()
            if k not in ("messages", "system", "inferenceConfig", "toolConfig")}
    messages: list[Message] = []
    system = body.get("system") or []
    texts = [str(b["text"]) for b in system if isinstance(b, dict) and "text" in b]
    if texts:
        messages.append(Message(role="system", content="\n\n".join(texts),
                                cache=any("cachePoint" in b for b in system)))
    for turn in body["messages"]:
        messages += _turn(turn)
    fields: dict[str, Any] = {}
    config = body.get("inferenceConfig") or {}
    for key, field in _CONFIG.items():
        if key in config:
            fields[field] = config[key]
    if set(config) - set(_CONFIG):
        kept["inferenceConfig"] = config
    fields.update(_tools(body.get("toolConfig")))
    return ChatRequest(custom_id=custom_id, messages=messages,
                       params={"bedrock": kept} if kept else {}, **fields)


def _tools(config: Any) -> dict[str, Any]:
    if not isinstance(config, dict):
        return {}
    specs = [t.get("toolSpec") or {} for t in config.get("tools") or [] if isinstance(t, dict)]
    choice = config.get("toolChoice") or {}
    if len(specs) == 1 and specs[0].get("name") == TOOL_NAME and choice == {
            "tool": {"name": TOOL_NAME}}:
        return {"response_schema": (specs[0].get("inputSchema") or {}).get("json")}
    fields: dict[str, Any] = {"tools": [
        Tool(name=str(s.get("name")), description=s.get("description"),
             parameters=(s.get("inputSchema") or {}).get("json") or {}) for s in specs]}
    if "auto" in choice:
        fields["tool_choice"] = "auto"
    elif "any" in choice:
        fields["tool_choice"] = "required"
    elif isinstance(choice.get("tool"), dict):
        fields["tool_choice"] = choice["tool"].get("name")
    return fields


def _turn(turn: Any) -> list[Message]:
    """A Converse turn: ``toolResult`` blocks become tool messages; a ``cachePoint`` marks the
    part before it, or the whole message when it closes the turn."""
    if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant"):
        raise BodyError("each message needs role 'user' or 'assistant'")
    blocks = [b for b in turn.get("content") or [] if isinstance(b, dict)]
    out: list[Message] = []
    parts: list[Any] = []
    calls: list[MessageToolCall] = []
    closing = bool(blocks) and "cachePoint" in blocks[-1]
    for index, block in enumerate(blocks):
        if "cachePoint" in block:
            if index == len(blocks) - 1 and out and not parts and not calls:
                out[-1] = out[-1].model_copy(update={"cache": True})
            elif index < len(blocks) - 1 and parts:
                parts[-1] = parts[-1].model_copy(update={"cache": True})
        elif "toolResult" in block:
            result = block["toolResult"]
            content = [_part(b) for b in result.get("content") or [] if isinstance(b, dict)]
            text = content[0].text if len(content) == 1 and isinstance(content[0], TextPart) \
                else content
            out.append(Message(role="tool", tool_call_id=result.get("toolUseId"), content=text))
        elif "toolUse" in block:
            use = block["toolUse"]
            calls.append(MessageToolCall(id=use.get("toolUseId"), name=use.get("name"),
                                         arguments=use.get("input") or {}))
        else:
            parts.append(_part(block))
    if parts or calls:
        plain = len(parts) == 1 and isinstance(parts[0], TextPart) and not parts[0].cache
        out.append(Message(role=turn["role"], content=parts[0].text if plain else parts or None,
                           tool_calls=calls or None, cache=closing))
    return out


def _part(block: dict[str, Any]) -> TextPart | ImagePart | DocumentPart:
    if "text" in block:
        return TextPart(text=str(block["text"]))
    if isinstance(block.get("image"), dict):
        image = block["image"]
        return ImagePart(data=(image.get("source") or {}).get("bytes"),
                         media_type=f"image/{image.get('format')}")
    if isinstance(block.get("document"), dict):
        doc = block["document"]
        fmt = str(doc.get("format"))
        if fmt not in _MEDIA:
            raise BodyError(f"document format {fmt!r} is not a Converse document format")
        return DocumentPart(data=(doc.get("source") or {}).get("bytes"), media_type=_MEDIA[fmt],
                            title=doc.get("name"))
    raise BodyError(f"a content block with {sorted(block)} has no neutral form")
