"""The requests and line formats the OpenAI codec tests share (encode, strict schema, decode).

A module of its own so each test module builds requests the same way: the default
``gpt-4o-mini`` chat line, the Responses endpoint, and a small structured-output model.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from batchkit._requests import ChatRequest
from batchkit.providers.openai.codec import LineFormat

FMT = LineFormat("gpt-4o-mini")
RESPONSES = LineFormat("gpt-4o-mini", chat_endpoint="responses")


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def chat(**kw: Any) -> ChatRequest:
    kw.setdefault("custom_id", "r1")
    kw.setdefault("messages", [user("hi")])
    return ChatRequest(**kw)


class Label(BaseModel):
    spam: bool
    reason: str
