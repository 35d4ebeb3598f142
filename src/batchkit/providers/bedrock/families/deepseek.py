"""DeepSeek-R1 on Bedrock (``deepseek.r1*``, through a cross-region profile such as
``us.deepseek.r1-v1:0``): ``{"prompt", "temperature", "top_p", "max_tokens", "stop"}`` with the
chat in DeepSeek's ``<｜User｜>``/``<｜Assistant｜>`` template opening a ``<think>`` block,
answered by ``{"choices": [{"text", "stop_reason"}]}``. The reply's text carries the model's
reasoning up to ``</think>``: that part is the Result's ``reasoning``, the rest its text. Facts:
https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-deepseek.html.
"""

from __future__ import annotations

import re
from typing import Any

from ...._results import FinishReason, Result, finish_reason
from ._base import Family, prompt_only
from ._prompt import PromptFormat, Turns, prompt_body, prompt_check, prompt_request

__all__ = ["DEEPSEEK"]

_BOS, _USER, _ASSISTANT, _EOS = ("<｜begin▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>",
                                 "<｜end▁of▁sentence｜>")
_OPEN = _ASSISTANT + "<think>\n"
_TURN = re.compile(f"{_USER}(.*?){_ASSISTANT}(?:(.*?){_EOS})?", re.DOTALL)
_FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length"}


def render(turns: Turns) -> str:
    """System text right after the start token, then the turns, the last one opening the
    assistant's ``<think>`` block."""
    out = _BOS + "\n\n".join(text for role, text in turns if role == "system")
    for role, text in turns:
        if role == "user":
            out += _USER + text
        elif role == "assistant":
            out += _ASSISTANT + text + _EOS
    return out + _OPEN


def parse(prompt: str) -> Turns | None:
    if not (prompt.startswith(_BOS) and prompt.endswith(_OPEN)):
        return None
    body = prompt[len(_BOS):-len("<think>\n")]
    system, _, rest = body.partition(_USER)
    turns: Turns = [("system", system)] if system else []
    for match in _TURN.finditer(_USER + rest):
        turns.append(("user", match[1]))
        if match[2] is not None:
            turns.append(("assistant", match[2]))
    return turns


FORMAT = PromptFormat(render, parse, "prompt", {"max_tokens": "max_tokens", "stop": "stop",
                                                "temperature": "temperature", "top_p": "top_p"})


def _decode(rid: str, output: dict[str, Any], row: dict[str, Any]) -> Result:
    choices = output.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else {}
    text = str(choice.get("text") or "")
    reasoning = None
    if "</think>" in text:
        thought, _, text = text.partition("</think>")
        reasoning, text = thought.removeprefix("<think>").strip(), text.lstrip()
    stop = choice.get("stop_reason")
    vendor = stop if isinstance(stop, str) else None
    return Result(rid, "succeeded", text=text, reasoning=reasoning, raw=row,
                  finish_reason=finish_reason(vendor, _FINISH), vendor_finish_reason=vendor)


def _answers(output: dict[str, Any]) -> bool:
    choices = output.get("choices")
    return (isinstance(choices, list) and bool(choices) and isinstance(choices[0], dict)
            and "text" in choices[0])


DEEPSEEK = Family(
    name="deepseek", kind="chat", label="DeepSeek-R1",
    body_fields=frozenset({"prompt", "max_tokens", "stop", "temperature", "top_p"}),
    capabilities=prompt_only("DeepSeek-R1"),
    encode=lambda request, options: prompt_body(request, FORMAT, options),
    to_request=lambda body, cid: prompt_request(body, cid, FORMAT),
    decode=_decode,
    answers=_answers,
    check=lambda request, fail: prompt_check(request, FORMAT, "DeepSeek-R1", fail),
)
