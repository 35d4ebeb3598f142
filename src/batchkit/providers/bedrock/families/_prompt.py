"""The shared half of the families whose body is one prompt string (Titan Text, Llama, Mistral,
DeepSeek): the chat rendered through the model's prompt template, sampling fields under the
family's own names, and the way back. No I/O.

Reading a body back is exact: a prompt is split into messages only when rendering those
messages gives the very same prompt; any other prompt becomes one user message and is kept
verbatim in ``params={"bedrock": {...}}`` (as are body fields batchkit has no name for), so
body -> neutral -> body is the identity for every body.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...._requests import ChatRequest, Message, Request
from ._base import BodyError, Fail, put, text_messages

__all__ = ["PromptFormat", "prompt_body", "prompt_check", "prompt_request"]

Turns = list[tuple[str, str]]


@dataclass(frozen=True)
class PromptFormat:
    """A family's prompt body: its template both ways and its field names."""

    render: Callable[[Turns], str]
    parse: Callable[[str], Turns | None]
    prompt_key: str
    """``prompt`` or Titan's ``inputText``."""
    fields: Mapping[str, str]
    """neutral field (max_tokens, temperature, top_p, stop) -> body field"""
    config_key: str | None = None
    """Titan nests the sampling fields in ``textGenerationConfig``."""
    max_temperature: float = 1.0


def prompt_check(request: Request, fmt: PromptFormat, label: str, fail: Fail) -> None:
    """What the body cannot say: a neutral field it has no name for, a temperature above its
    range, a conversation that does not end with the user speaking."""
    assert isinstance(request, ChatRequest)
    turns = text_messages(request, fail)
    for field in ("max_tokens", "temperature", "top_p", "stop"):
        if getattr(request, field) is not None and field not in fmt.fields:
            fail(f"{label} on Bedrock has no '{field}'; remove it for this model")
    if request.temperature is not None and request.temperature > fmt.max_temperature:
        fail(f"{label} takes temperature between 0 and {fmt.max_temperature:g}")
    if not turns or turns[-1][0] != "user":
        fail(f"{label} answers a prompt ending with a user message; end the conversation "
             "with one")


def prompt_body(request: Request, fmt: PromptFormat, options: Mapping[str, Any]) -> dict[str, Any]:
    assert isinstance(request, ChatRequest)
    config: dict[str, Any] = {}
    max_tokens = request.max_tokens or options.get("max_tokens")
    for field, value in (("max_tokens", int(max_tokens) if max_tokens else None),
                         ("temperature", request.temperature), ("top_p", request.top_p),
                         ("stop", request.stop)):
        if field in fmt.fields:
            put(config, fmt.fields[field], value)
    body: dict[str, Any] = {fmt.prompt_key: fmt.render([(m.role, m.text)
                                                        for m in request.messages])}
    if fmt.config_key is None:
        body.update(config)
    elif config:
        body[fmt.config_key] = config
    return body


def prompt_request(body: dict[str, Any], custom_id: str, fmt: PromptFormat) -> ChatRequest:
    prompt = body.get(fmt.prompt_key)
    if not isinstance(prompt, str) or not prompt:
        raise BodyError(f"'{fmt.prompt_key}' must be a non-empty string")
    kept: dict[str, Any] = {k: v for k, v in body.items()
                            if k not in (fmt.prompt_key, fmt.config_key)}
    config = body.get(fmt.config_key, {}) if fmt.config_key else body
    if not isinstance(config, dict):
        raise BodyError(f"'{fmt.config_key}' must be an object")
    fields: dict[str, Any] = {}
    for field, key in fmt.fields.items():
        if key in config:
            fields[field] = config[key]
            kept.pop(key, None)
    if fmt.config_key and set(config) - set(fmt.fields.values()):
        kept[fmt.config_key] = config  # fields batchkit has no name for: the config verbatim
    messages = _messages(fmt, prompt)
    if messages is None:
        messages = [Message(role="user", content=prompt)]
        kept[fmt.prompt_key] = prompt
    return ChatRequest(custom_id=custom_id, messages=messages, **fields,
                       params={"bedrock": kept} if kept else {})


def _messages(fmt: PromptFormat, prompt: str) -> list[Message] | None:
    """The prompt's turns as messages, or None when the prompt is not exactly the template."""
    turns = fmt.parse(prompt)
    if not turns or fmt.render(turns) != prompt or any(not text for _, text in turns):
        return None
    return [Message(role=role, content=text) for role, text in turns]  # type: ignore[arg-type]
