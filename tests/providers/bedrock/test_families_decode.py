"""Bedrock output rows of every model family, written by hand from each family's parameter page
(not from batchkit's encoder), decoded with every field checked: by the job's family and, for a
file read without its model, by the reply's shape. Error rows and ids are kept as written."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from batchkit.providers.bedrock.families import (
    CLAUDE,
    COHERE_EMBED_V3,
    DEEPSEEK,
    LLAMA,
    MISTRAL,
    NOVA,
    TITAN_EMBED_V2,
    TITAN_TEXT,
    Family,
)
from batchkit.providers.bedrock.results import decode_line

ID = "doc_01-b"
"""An id with ``_`` and ``-``: a foreign file's id, which must come back as written."""


def row(output: dict[str, Any], record_id: str = ID) -> bytes:
    return orjson.dumps({"recordId": record_id, "modelInput": {"prompt": "echoed"},
                         "modelOutput": output})


def both(line: bytes, family: Family) -> Any:
    """Decoded with the job's family and without (by shape): the two must agree."""
    known, guessed = decode_line(line, family), decode_line(line)
    assert (known.text, known.finish_reason, known.usage) == (
        guessed.text, guessed.finish_reason, guessed.usage)
    assert known.custom_id == ID and known.status == "succeeded"
    assert "modelInput" not in known.raw and known.raw["recordId"] == ID
    return known


@pytest.mark.parametrize(("reason", "finish"), [
    ("FINISHED", "stop"), ("LENGTH", "length"), ("STOP_CRITERIA_MET", "stop"),
    ("CONTENT_FILTERED", "content_filter"), ("RAG_QUERY_WHEN_RAG_DISABLED", "other")])
def test_titan_text(reason: str, finish: str) -> None:
    result = both(row({"inputTextTokenCount": 12, "results": [
        {"tokenCount": 9, "outputText": "\nA hello world program prints a greeting.\n",
         "completionReason": reason}]}), TITAN_TEXT)
    assert result.text == "\nA hello world program prints a greeting.\n"
    assert (result.finish_reason, result.vendor_finish_reason) == (finish, reason)
    assert (result.usage.input_tokens, result.usage.output_tokens) == (12, 9)


@pytest.mark.parametrize(("reason", "finish"), [("stop", "stop"), ("length", "length")])
def test_llama(reason: str, finish: str) -> None:
    result = both(row({"generation": "Paris is the capital of France.",
                       "prompt_token_count": 31, "generation_token_count": 8,
                       "stop_reason": reason}), LLAMA)
    assert result.text == "Paris is the capital of France."
    assert (result.finish_reason, result.vendor_finish_reason) == (finish, reason)
    assert (result.usage.input_tokens, result.usage.output_tokens) == (31, 8)


def test_mistral_text_completion_and_chat_completion() -> None:
    result = both(row({"outputs": [{"text": " I like lemon juice.", "stop_reason": "length"}]}),
                  MISTRAL)
    assert result.text == " I like lemon juice."
    assert (result.finish_reason, result.vendor_finish_reason) == ("length", "length")
    assert result.usage is None  # the body carries no token counts
    chat = both(row({"id": "b1", "object": "chat.completion", "choices": [{
        "index": 0, "stop_reason": "tool_calls", "message": {
            "role": "assistant", "content": "", "tool_calls": [{
                "id": "c1", "function": {"name": "lookup", "arguments": "{\"q\": \"A1\"}"}}]}}]}),
        MISTRAL)
    assert chat.finish_reason == "tool_calls" and chat.tool_calls[0].name == "lookup"
    assert chat.tool_calls[0].arguments == {"q": "A1"}


def test_deepseek_reasoning_is_split_from_the_answer() -> None:
    result = both(row({"choices": [{
        "text": "Two plus two: add them.\n</think>\n\nThe answer is 4.", "stop_reason": "stop"}]}),
        DEEPSEEK)
    assert result.text == "The answer is 4."
    assert result.reasoning == "Two plus two: add them."
    assert (result.finish_reason, result.vendor_finish_reason) == ("stop", "stop")
    cut = decode_line(row({"choices": [{"text": "Still thinking", "stop_reason": "length"}]}))
    assert (cut.text, cut.reasoning, cut.finish_reason) == ("Still thinking", None, "length")


def test_nova() -> None:
    result = both(row({"output": {"message": {"role": "assistant", "content": [
        {"text": "Hello"}, {"text": " there."}]}}, "stopReason": "max_tokens",
        "usage": {"inputTokens": 20, "outputTokens": 5, "totalTokens": 25,
                  "cacheReadInputTokenCount": 4, "cacheWriteInputTokenCount": 0}}), NOVA)
    assert result.text == "Hello there."
    assert (result.finish_reason, result.vendor_finish_reason) == ("length", "max_tokens")
    usage = result.usage
    assert (usage.input_tokens, usage.output_tokens, usage.cached_input_tokens) == (24, 5, 4)


def test_claude() -> None:
    result = both(row({"id": "msg_bdrk_01", "type": "message", "role": "assistant",
                       "model": "claude-3-5-haiku-20241022",
                       "content": [{"type": "text", "text": "Bonjour"}],
                       "stop_reason": "end_turn", "stop_sequence": None,
                       "usage": {"input_tokens": 14, "output_tokens": 3}}), CLAUDE)
    assert result.text == "Bonjour"
    assert (result.finish_reason, result.vendor_finish_reason) == ("stop", "end_turn")
    assert (result.usage.input_tokens, result.usage.output_tokens) == (14, 3)


def test_titan_embeddings_v2_with_types() -> None:
    line = row({"embedding": [0.6, 0.8], "inputTextTokenCount": 4,
                "embeddingsByType": {"float": [0.6, 0.8], "binary": [1, 1]}})
    result = decode_line(line, TITAN_EMBED_V2)
    assert result.custom_id == ID and result.usage.input_tokens == 4
    assert result.embedding.dtype == np.float32 and result.embedding.tolist() == pytest.approx(
        [0.6, 0.8])
    assert result.embeddings_by_type["binary"].tolist() == [1, 1]
    assert decode_line(line).embedding.tolist() == result.embedding.tolist()


def test_cohere_embeddings_floats_and_by_type() -> None:
    floats = decode_line(row({"id": "5f1e", "texts": ["hello"], "embeddings": [[0.25, -0.5]],
                              "response_type": "embeddings_floats"}), COHERE_EMBED_V3)
    assert floats.embedding.tolist() == [0.25, -0.5] and floats.embeddings_by_type is None
    typed = decode_line(row({"id": "5f1e", "texts": ["hello"], "response_type":
                             "embeddings_by_type", "embeddings": {
                                 "float": [[0.25, -0.5]], "int8": [[32, -64]]}}))
    assert typed.embedding.tolist() == [0.25, -0.5]
    assert typed.embeddings_by_type["int8"].dtype == np.int8
    assert typed.embeddings_by_type["int8"].tolist() == [32, -64]


@pytest.mark.parametrize(("error", "code", "status", "retryable"), [
    ({"errorCode": 400, "errorMessage": "Malformed input request: #: extraneous key [x]"},
     "validation_error", 400, False),
    ({"errorCode": "429", "errorMessage": "Too many requests"}, "throttling", 429, True),
    ({"errorCode": 424, "errorMessage": "Model failed"}, "model_error", 424, True),
    ({"errorCode": "ModelTimeoutException", "errorMessage": "late"},
     "ModelTimeoutException", None, False),
])
def test_error_rows_keep_their_id(error: dict[str, Any], code: str, status: int | None,
                                  retryable: bool) -> None:
    result = decode_line(orjson.dumps({"recordId": ID, "modelInput": {}, "error": error}),
                         LLAMA)
    assert (result.custom_id, result.status) == (ID, "errored")
    assert result.error is not None
    assert (result.error.code, result.error.http_status, result.error.retryable) == (
        code, status, retryable)
    assert result.error.message == error["errorMessage"]


def test_an_error_answer_in_place_of_a_reply() -> None:
    result = decode_line(row({"message": "Validation error: max_gen_len too big",
                              "statusCode": 400}), LLAMA)
    assert (result.status, result.error.code, result.error.http_status) == (
        "errored", "validation_error", 400)
    assert "max_gen_len" in result.error.message


def test_missing_model_output_is_an_error_row_kept_whole() -> None:
    result = decode_line(b'{"recordId": "a-b_c", "modelInput": {"prompt": "x"}}')
    assert (result.custom_id, result.status, result.error.code) == (
        "a-b_c", "errored", "missing_output")
    assert result.error.retryable and result.raw == {"recordId": "a-b_c"}


@pytest.mark.parametrize("record_id", ["CALL0000001", "a_b", "x-y-z", "bkx00", "ü 1/2"])
def test_ids_are_never_rewritten(record_id: str) -> None:
    result = decode_line(row({"generation": "ok", "stop_reason": "stop"}, record_id))
    assert result.custom_id == record_id


def test_a_foreign_file_decodes_under_its_own_ids(tmp_path: Any) -> None:
    """A console download of a job batchkit did not write: rows of several families, ids with
    ``_`` and ``-``, joined to requests named by those same ids (bk.decode, model unknown)."""
    import batchkit as bk

    lines = [
        row({"generation": "Hi.", "prompt_token_count": 3, "generation_token_count": 2,
             "stop_reason": "stop"}, "call_0001"),
        row({"outputs": [{"text": "Hola.", "stop_reason": "stop"}]}, "call-0002"),
        orjson.dumps({"recordId": "call_0003-x", "modelInput": {},
                      "error": {"errorCode": 400, "errorMessage": "bad body"}}),
        row({"inputTextTokenCount": 3, "results": [{"tokenCount": 2, "outputText": "Hey.",
                                                     "completionReason": "FINISHED"}]}, "x_9"),
    ]
    path = tmp_path / "records.jsonl.out"
    path.write_bytes(b"\n".join(lines) + b"\n")
    alone = bk.decode(path, "bedrock")
    assert [r.custom_id for r in alone] == ["call_0001", "call-0002", "call_0003-x", "x_9"]
    asked = [bk.ChatRequest(custom_id=cid, messages=[{"role": "user", "content": "hi"}])
             for cid in ("call-0002", "call_0001", "call_0003-x")]
    joined = bk.decode(path, "bedrock", requests=asked)
    assert [(r.custom_id, r.text) for r in joined] == [
        ("call-0002", "Hola."), ("call_0001", "Hi."), ("call_0003-x", None)]
    assert joined[2].error is not None and joined[2].error.code == "validation_error"
    assert [u["recordId"] for u in joined.unmatched] == ["x_9"]
