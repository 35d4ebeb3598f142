"""Amazon Titan Text (``amazon.titan-text-lite/express/premier``, ``amazon.titan-tg1-large``):
``{"inputText", "textGenerationConfig": {"temperature", "topP", "maxTokenCount",
"stopSequences"}}`` with the chat in Titan's ``User: ...\\nBot:`` conversation format,
answered by ``{"inputTextTokenCount", "results": [{"tokenCount", "outputText",
"completionReason"}]}``. A system prompt leads the text, before the first ``User:`` line.
Facts: https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-text.html.
"""

from __future__ import annotations

import re
from typing import Any

from ...._results import FinishReason, Result, Usage, finish_reason
from ._base import Family, prompt_only
from ._prompt import PromptFormat, Turns, prompt_body, prompt_check, prompt_request

__all__ = ["TITAN_TEXT"]

_FINISH: dict[str, FinishReason] = {
    "FINISHED": "stop", "STOP_CRITERIA_MET": "stop", "LENGTH": "length",
    "CONTENT_FILTERED": "content_filter", "RAG_QUERY_WHEN_RAG_DISABLED": "other",
}
"""``completionReason`` values of the Titan Text parameter page."""
_SPEAKER = {"user": "User", "assistant": "Bot"}
_LINE = re.compile(r"^(User|Bot): (.*?)(?=\n(?:User|Bot):|\Z)", re.DOTALL | re.MULTILINE)


def render(turns: Turns) -> str:
    system = "\n".join(text for role, text in turns if role == "system")
    lines = [f"{_SPEAKER[role]}: {text}" for role, text in turns if role in _SPEAKER]
    return (system + "\n" if system else "") + "\n".join(lines) + "\nBot:"


def parse(text: str) -> Turns | None:
    if not text.endswith("\nBot:"):
        return None
    body = text[:-len("\nBot:")]
    start = body.find("User: ")
    if start < 0 or (start and body[start - 1] != "\n"):
        return None
    turns: Turns = [("system", body[:start - 1])] if start else []
    roles = {"User": "user", "Bot": "assistant"}
    turns += [(roles[m[1]], m[2]) for m in _LINE.finditer(body[start:])]
    return turns


FORMAT = PromptFormat(render, parse, "inputText", {
    "max_tokens": "maxTokenCount", "temperature": "temperature", "top_p": "topP",
    "stop": "stopSequences"}, config_key="textGenerationConfig")


def _decode(rid: str, output: dict[str, Any], row: dict[str, Any]) -> Result:
    results = output.get("results")
    first = results[0] if isinstance(results, list) and results else {}
    reason = first.get("completionReason")
    vendor = reason if isinstance(reason, str) else None
    return Result(rid, "succeeded", text=str(first.get("outputText") or ""), raw=row,
                  finish_reason=finish_reason(vendor, _FINISH), vendor_finish_reason=vendor,
                  usage=Usage(input_tokens=int(output.get("inputTextTokenCount") or 0),
                              output_tokens=int(first.get("tokenCount") or 0)))


TITAN_TEXT = Family(
    name="titan-text", kind="chat", label="Amazon Titan Text",
    body_fields=frozenset({"inputText", "textGenerationConfig"}),
    capabilities=prompt_only("Amazon Titan Text"),
    encode=lambda request, options: prompt_body(request, FORMAT, options),
    to_request=lambda body, cid: prompt_request(body, cid, FORMAT),
    decode=_decode,
    answers=lambda output: isinstance(output.get("results"), list),
    check=lambda request, fail: prompt_check(request, FORMAT, "Amazon Titan Text", fail),
)
