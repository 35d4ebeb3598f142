"""Reading Cohere's batch input as neutral requests: embed-job dataset rows and chat batch lines.

* **Embed jobs** (``embed-input`` JSONL: one ``{"text", ...}`` object per row;
  https://docs.cohere.com/docs/embed-jobs-api): ``text`` is the text; ``batchkit_id`` (what
  batchkit writes to match rows) is the custom_id, else the row is named ``row-<line>``; every
  other field is metadata, which Cohere keeps beside the embedding (``keep_fields``) and
  batchkit writes back into the row. A row carrying ``id``, ``custom_id`` or ``kind`` is a
  neutral or corpus line, not this format.
* **Chat batches** (``batch-chat-v2-input``: ``{"custom_id", "body"}``, the body a ``/v2/chat``
  request without ``model``, which the batch names; https://docs.cohere.com/reference/create-batch,
  https://docs.cohere.com/reference/chat): messages are spelt as in the chat-completions family
  (text and ``image_url`` parts, assistant ``tool_calls`` with JSON-text arguments, ``tool``
  messages by ``tool_call_id``); ``p`` is top_p, ``stop_sequences`` the stop list,
  ``strict_tools`` makes every tool strict, ``tool_choice`` ``REQUIRED`` / ``NONE`` is
  ``required`` / ``none``, ``thinking`` is the reasoning (a token budget, or off),
  ``response_format`` ``json_object`` the JSON schema or JSON mode. Every other field (``k``,
  ``documents``, ``safety_mode``, ...) stays raw in ``params``, written back for Cohere alone.

A chat line is spelt as a Mistral batch line (the same envelope, the same plain fields), so the
first line of a file cannot tell them apart and detection reads such a file as Mistral's: name
the format (``format="cohere"``, ``batchkit convert --from cohere``) to read Cohere's spelling.
"""

from __future__ import annotations

from typing import Any

from ..._requests import ChatRequest, EmbedRequest, Request
from .._reader_kit import build, fail, function_tool, id_and_body
from .codec import ID_FIELD

__all__ = ["looks_like", "request_from_line"]

_SAME_NAME = ("max_tokens", "temperature", "seed", "logprobs")
_CHOICES = {"REQUIRED": "required", "NONE": "none"}


def looks_like(obj: dict[str, Any]) -> bool:
    return "text" in obj and not {"custom_id", "id", "kind", "messages"} & set(obj)


def request_from_line(obj: dict[str, Any], line_no: int, model: str | None) -> Request:
    del model  # a batch or an embed job names its model once
    if "body" in obj and "text" not in obj:
        return _chat_line(obj, line_no)
    row = dict(obj)
    cid = row.pop(ID_FIELD, None)
    text = row.pop("text", None)
    return build(EmbedRequest, {"custom_id": cid if cid is not None else f"row-{line_no}",
                                "text": text, "metadata": row}, line_no)


def _chat_line(obj: dict[str, Any], line_no: int) -> Request:
    """A ``batch-chat-v2-input`` line as a ChatRequest."""
    cid, body = id_and_body(obj, line_no)
    if "messages" not in body:
        fail("the body has no 'messages' (batchkit reads Cohere chat batches and embed-job "
             "rows)", line_no, cid)
    body = dict(body)
    data: dict[str, Any] = {"custom_id": cid, "messages": body.pop("messages")}
    if "p" in body:
        data["top_p"] = body.pop("p")
    if "stop_sequences" in body:
        data["stop"] = body.pop("stop_sequences")
    choice = body.get("tool_choice")
    if isinstance(choice, str) and choice in _CHOICES:
        data["tool_choice"] = _CHOICES[body.pop("tool_choice")]
    for name in _SAME_NAME:
        if name in body:
            data[name] = body.pop(name)
    strict = body.pop("strict_tools", None) if body.get("strict_tools") in (True, False) else None
    if isinstance(body.get("tools"), list):
        data["tools"] = [{**tool, "strict": True} if strict and isinstance(tool, dict) else tool
                         for tool in map(function_tool, body.pop("tools"))]
    data.update(_thinking(body))
    data.update(_response_format(body))
    data["params"] = body
    return build(ChatRequest, data, line_no)


def _thinking(body: dict[str, Any]) -> dict[str, Any]:
    """``thinking`` as the reasoning: ``disabled`` is off, ``enabled`` its token budget."""
    thinking = body.get("thinking")
    if thinking == {"type": "disabled"}:
        del body["thinking"]
        return {"reasoning": {"effort": "off"}}
    if isinstance(thinking, dict) and thinking.get("type") == "enabled" and set(thinking) == {
            "type", "token_budget"}:
        del body["thinking"]
        return {"reasoning": {"budget_tokens": thinking["token_budget"]}}
    return {}


def _response_format(body: dict[str, Any]) -> dict[str, Any]:
    """``{"type": "json_object"[, "json_schema"]}`` as the response schema or JSON mode."""
    fmt = body.get("response_format")
    if not isinstance(fmt, dict) or fmt.get("type") != "json_object" or not set(fmt) <= {
            "type", "json_schema"}:
        return {}
    del body["response_format"]
    schema = fmt.get("json_schema")
    return {"json_mode": True} if schema is None else {"response_schema": schema}
