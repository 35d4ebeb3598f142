"""Mistral AI models on Bedrock (``mistral.*``): the text-completion body ``{"prompt",
"max_tokens", "stop", "temperature", "top_p", "top_k"}`` with the chat in Mistral's
``<s>[INST] ... [/INST]`` template, answered by ``{"outputs": [{"text", "stop_reason"}]}``; the
chat-completion answer of Mistral Large 2 (``{"choices": [{"message", "stop_reason"}]}``) is
read too. The template has no system turn: a system prompt goes before the first user text,
separated by a blank line, and reads back as part of that user message. Facts:
https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-mistral-text-completion.html
and .../model-parameters-mistral-chat-completion.html.
"""

from __future__ import annotations

import re
from typing import Any

from ...._results import FinishReason, Result, finish_reason
from ...._tools import tool_call_from_raw
from ._base import Family, prompt_only
from ._prompt import PromptFormat, Turns, prompt_body, prompt_check, prompt_request

__all__ = ["MISTRAL"]

_FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length",
                                    "tool_calls": "tool_calls", "model_length": "length"}
_TURN = re.compile(r"\[INST\] (.*?) \[/INST\](?: (.*?)</s>)?", re.DOTALL)


def render(turns: Turns) -> str:
    """``<s>[INST] user [/INST] assistant</s>[INST] user [/INST]``, system text leading."""
    system = "\n\n".join(text for role, text in turns if role == "system")
    out, pending = "<s>", system
    for role, text in turns:
        if role == "user":
            out += f"[INST] {pending + chr(10) * 2 if pending else ''}{text} [/INST]"
            pending = ""
        elif role == "assistant":
            out += f" {text}</s>"
    return out


def parse(prompt: str) -> Turns | None:
    if not prompt.startswith("<s>"):
        return None
    turns: Turns = []
    for match in _TURN.finditer(prompt[3:]):
        turns.append(("user", match[1]))
        if match[2] is not None:
            turns.append(("assistant", match[2]))
    return turns


FORMAT = PromptFormat(render, parse, "prompt", {"max_tokens": "max_tokens", "stop": "stop",
                                                "temperature": "temperature", "top_p": "top_p"})


def _decode(rid: str, output: dict[str, Any], row: dict[str, Any]) -> Result:
    choice: dict[str, Any] = {}
    for key in ("outputs", "choices"):
        items = output.get(key)
        if isinstance(items, list) and items and isinstance(items[0], dict):
            choice = items[0]
    found = choice.get("message")
    message: dict[str, Any] = found if isinstance(found, dict) else {}
    text = choice.get("text", message.get("content"))
    calls = [tool_call_from_raw(str(c.get("id") or ""), str(c["function"].get("name") or ""),
                                c["function"].get("arguments"))
             for c in message.get("tool_calls") or () if isinstance(c.get("function"), dict)]
    stop = choice.get("stop_reason", choice.get("finish_reason"))
    vendor = stop if isinstance(stop, str) else None
    return Result(rid, "succeeded", text=None if text is None else str(text), raw=row,
                  tool_calls=calls, finish_reason=finish_reason(vendor, _FINISH),
                  vendor_finish_reason=vendor)


def _answers(output: dict[str, Any]) -> bool:
    outputs, choices = output.get("outputs"), output.get("choices")
    return isinstance(outputs, list) or (
        isinstance(choices, list) and bool(choices) and isinstance(choices[0], dict)
        and "message" in choices[0])


MISTRAL = Family(
    name="mistral", kind="chat", label="Mistral AI",
    body_fields=frozenset({"prompt", "max_tokens", "stop", "temperature", "top_p", "top_k"}),
    capabilities=prompt_only("Mistral AI"),
    encode=lambda request, options: prompt_body(request, FORMAT, options),
    to_request=lambda body, cid: prompt_request(body, cid, FORMAT),
    decode=_decode,
    answers=_answers,
    check=lambda request, fail: prompt_check(request, FORMAT, "Mistral AI", fail),
)
