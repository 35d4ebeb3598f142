from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

import batchkit as bk


class Reply(BaseModel):
    answer: str


def test_openai_batch_jsonl_is_understood(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    lines = [
        {"custom_id": "c1", "method": "POST", "url": "/v1/chat/completions", "body": {
            "model": "gpt-4o-mini", "max_completion_tokens": 50, "temperature": 0,
            "stop": "END", "logprobs": True,
            "messages": [{"role": "developer", "content": "be brief"},
                         {"role": "user", "content": [
                             {"type": "text", "text": "what is this?"},
                             {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]}},
        {"custom_id": "e1", "method": "POST", "url": "/v1/embeddings",
         "body": {"model": "text-embedding-3-small", "input": "hello", "dimensions": 256}},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines))
    chat, embed = list(bk.read_requests(path, response_model=Reply))
    assert isinstance(chat, bk.ChatRequest) and isinstance(embed, bk.EmbedRequest)
    assert chat.max_tokens == 50 and chat.temperature == 0 and chat.stop == ["END"]
    assert chat.params == {} and chat.logprobs is True and chat.response_model is Reply
    assert chat.messages[0].role == "system" and chat.system == "be brief"
    parts = chat.messages[1].content
    assert isinstance(parts, list) and isinstance(parts[1], bk.ImagePart)
    assert parts[1].url == "https://x/y.png"
    assert (embed.text, embed.dimensions, embed.params) == ("hello", 256, {})


def test_neutral_jsonl_and_csv(tmp_path: Path) -> None:
    jl = tmp_path / "n.jsonl"
    jl.write_text(
        '{"custom_id": "a", "messages": [{"role": "user", "content": "x"}], "max_tokens": 9}\n'
        "\n"
        '{"custom_id": "b", "text": "doc", "input_type": "search_document"}\n'
    )
    a, b = bk.read_requests(jl)
    assert isinstance(a, bk.ChatRequest) and a.max_tokens == 9
    assert isinstance(b, bk.EmbedRequest) and b.input_type == "search_document"
    csv_path = tmp_path / "d.csv"
    csv_path.write_text('text,title,url\n"hello, world",Hi,\nsecond,Two,http://x\n')
    rows = list(bk.read_requests(csv_path))
    assert [r.custom_id for r in rows] == ["row-1", "row-2"]
    assert rows[0].metadata == {"title": "Hi", "url": ""}
    assert isinstance(rows[0], bk.EmbedRequest) and rows[0].text == "hello, world"
    chats = list(bk.read_requests(csv_path, kind="chat", system="classify"))
    assert isinstance(chats[1], bk.ChatRequest) and chats[1].system == "classify"


def test_reading_is_lazy(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text('{"custom_id": "ok", "text": "x"}\nnot json\n')
    it = bk.read_requests(path)
    assert next(it).custom_id == "ok"  # the bad second line is not read yet
