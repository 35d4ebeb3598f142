"""Meta Llama 3 / 3.1 / 3.2 / 3.3 / 4 Instruct on Bedrock (``meta.llama*``): ``{"prompt",
"max_gen_len", "temperature", "top_p"}`` with the chat rendered in Llama 3's header template,
answered by ``{"generation", "prompt_token_count", "generation_token_count", "stop_reason"}``.
The body has no stop sequences. Facts:
https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-meta.html and Meta's
prompt format page https://www.llama.com/docs/model-cards-and-prompt-formats/meta-llama-3/.
"""

from __future__ import annotations

import re
from typing import Any

from ...._results import FinishReason, Result, Usage, finish_reason
from ._base import Family, prompt_only
from ._prompt import PromptFormat, Turns, prompt_body, prompt_check, prompt_request

__all__ = ["LLAMA"]

_BEGIN = "<|begin_of_text|>"
_TURN = re.compile(r"<\|start_header_id\|>(system|user|assistant)<\|end_header_id\|>\n\n"
                   r"(.*?)<\|eot_id\|>", re.DOTALL)
_ANSWER = "<|start_header_id|>assistant<|end_header_id|>\n\n"
_FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length"}


def render(turns: Turns) -> str:
    """Each turn in its header block, then the assistant's open header the model completes."""
    return _BEGIN + "".join(f"<|start_header_id|>{role}<|end_header_id|>\n\n{text}<|eot_id|>"
                            for role, text in turns) + _ANSWER


def parse(prompt: str) -> Turns | None:
    if not (prompt.startswith(_BEGIN) and prompt.endswith(_ANSWER)):
        return None
    return [(m[1], m[2]) for m in _TURN.finditer(prompt[len(_BEGIN):-len(_ANSWER)])]


FORMAT = PromptFormat(render, parse, "prompt", {"max_tokens": "max_gen_len",
                                                "temperature": "temperature", "top_p": "top_p"})


def _decode(rid: str, output: dict[str, Any], row: dict[str, Any]) -> Result:
    stop = output.get("stop_reason")
    vendor = stop if isinstance(stop, str) else None
    return Result(rid, "succeeded", text=str(output.get("generation") or ""), raw=row,
                  finish_reason=finish_reason(vendor, _FINISH), vendor_finish_reason=vendor,
                  usage=Usage(input_tokens=int(output.get("prompt_token_count") or 0),
                              output_tokens=int(output.get("generation_token_count") or 0)))


LLAMA = Family(
    name="llama", kind="chat", label="Meta Llama",
    body_fields=frozenset({"prompt", "max_gen_len", "temperature", "top_p", "images"}),
    capabilities=prompt_only("Meta Llama"),
    encode=lambda request, options: prompt_body(request, FORMAT, options),
    to_request=lambda body, cid: prompt_request(body, cid, FORMAT),
    decode=_decode,
    answers=lambda output: isinstance(output.get("generation"), str),
    check=lambda request, fail: prompt_check(request, FORMAT, "Meta Llama", fail),
)
