"""Every vendor's own output files, decoded with ``bk.decode``, every field checked.

The files in ``samples/`` were written by hand from each vendor's documentation and SDK types
(sources in ``samples/README.md``), never by batchkit, so these tests hold the decoders to what
the vendors send. Each vendor's file holds every row shape it has (success, a stop at the token
limit, a 4xx in the body, an error-file row, expired, cancelled), the requests include one with
no row (``missing_result``) and the file one row no request names (kept in ``unmatched``).
Ids mix ``_``, ``-`` and case and must come back exactly as the file spells them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import batchkit as bk

SAMPLES = Path(__file__).parent / "samples"
MISSING = ("missing_result", "the output has no row for this request", None, True)
EXPIRED_OPENAI = ("batch_expired", "This request could not be executed before the completion "
                  "window expired.", None, True)


@dataclass(frozen=True)
class Want:
    """What one result must hold; every field is compared, unset ones must be empty."""

    custom_id: str
    status: str
    text: str | None = None
    finish_reason: str | None = None
    vendor_finish_reason: str | None = None
    usage: tuple[int, int, int, int, int] | None = None
    """input, output, cached input, cache creation, reasoning tokens."""
    error: tuple[str, str, int | None, bool] | None = None
    """code, message, HTTP status, retryable."""
    reasoning: str | None = None
    embedding: tuple[float, ...] | None = None


def _seen(result: bk.Result) -> Want:
    usage = result.usage
    error = result.error
    return Want(
        custom_id=result.custom_id, status=result.status, text=result.text,
        finish_reason=result.finish_reason, vendor_finish_reason=result.vendor_finish_reason,
        usage=None if usage is None else (usage.input_tokens, usage.output_tokens,
                                          usage.cached_input_tokens,
                                          usage.cache_creation_input_tokens,
                                          usage.reasoning_tokens),
        error=None if error is None else (error.code, error.message, error.http_status,
                                          error.retryable),
        reasoning=result.reasoning,
        embedding=None if result.embedding is None else tuple(result.embedding.tolist()),
    )


def _check(results: list[bk.Result], wanted: list[Want]) -> None:
    assert len(results) == len(wanted)
    for result, want in zip(results, wanted, strict=True):
        seen = _seen(result)
        if want.embedding is not None:  # float32 in, compared to the file's decimals
            assert seen.embedding is not None
            assert np.allclose(seen.embedding, want.embedding, atol=1e-6), want.custom_id
            seen = Want(**{**seen.__dict__, "embedding": want.embedding})
        assert seen == want


def _chat(custom_id: str, text: str = "hi", **fields: object) -> bk.ChatRequest:
    return bk.ChatRequest(custom_id=custom_id, messages=[bk.Message(role="user", content=text)],
                          **fields)


@dataclass(frozen=True)
class Case:
    provider: str
    output: str
    errors: str | None
    requests: list[bk.ChatRequest] | list[bk.EmbedRequest]
    wanted: list[Want]
    unmatched: list[str]
    """The text that identifies each row the requests do not claim, in file order."""


CASES = {
    "openai": Case(
        "openai:gpt-4o-mini", "openai.output.jsonl", "openai.errors.jsonl",
        [_chat(i) for i in ("Req_001-A", "req-002", "REQ_003", "req_004", "Req-005", "req-006")],
        [
            Want("Req_001-A", "succeeded", "Paris is the capital of France.", "stop", "stop",
                 (24, 8, 0, 0, 0)),
            Want("req-002", "succeeded", "The proof begins by assuming", "length", "length",
                 (1200, 256, 1024, 0, 192)),
            Want("REQ_003", "errored", error=(
                "context_length_exceeded", "This model's maximum context length is 128000 "
                "tokens. However, your messages resulted in 130412 tokens. Please reduce the "
                "length of the messages.", 400, False)),
            Want("req_004", "expired", error=EXPIRED_OPENAI),
            Want("Req-005", "cancelled", error=(
                "batch_cancelled", "This request was not executed because the batch was "
                "cancelled.", None, False)),
            Want("req-006", "errored", error=MISSING),
        ],
        ["stray-row-9"],
    ),
    "openai-embeddings": Case(
        "openai:text-embedding-3-small", "openai.embeddings.output.jsonl", None,
        [bk.EmbedRequest(custom_id="Emb_1", text="a"), bk.EmbedRequest(custom_id="emb-2",
                                                                       text="b")],
        [
            Want("Emb_1", "succeeded", usage=(5, 0, 0, 0, 0),
                 embedding=(0.0023064255, -0.009327292, 0.015797347)),
            Want("emb-2", "errored", error=(
                "rate_limit_exceeded", "Rate limit reached for text-embedding-3-small in "
                "organization org-abc on tokens per min (TPM): Limit 1000000, Used 999990, "
                "Requested 20.", 429, True)),
        ],
        [],
    ),
    "azure": Case(
        "azure:gpt-4o", "azure.output.jsonl", "azure.errors.jsonl",
        [_chat(i) for i in ("task-0", "Task_1", "task-2", "task-3", "task-4")],
        [
            Want("task-0", "succeeded", "Microsoft was founded on April 4, 1975.", "stop",
                 "stop", (20, 11, 0, 0, 0)),
            Want("Task_1", "succeeded", None, "content_filter", "content_filter",
                 (18, 3, 0, 0, 0)),
            Want("task-2", "errored", error=(
                "content_filter", "The response was filtered due to the prompt triggering "
                "Azure OpenAI's content management policy.", 400, False)),
            Want("task-3", "expired", error=EXPIRED_OPENAI),
            Want("task-4", "errored", error=MISSING),
        ],
        [],
    ),
    "groq": Case(
        "groq:llama-3.1-8b-instant", "groq.output.jsonl", "groq.errors.jsonl",
        [_chat(i) for i in ("request-1", "Request_2", "request-3", "request-4", "request-5")],
        [
            Want("request-1", "succeeded", "2 + 2 = 4", "stop", "stop", (40, 8, 0, 0, 0)),
            Want("Request_2", "succeeded", "Blue.", "stop", "stop", (15, 30, 0, 0, 0),
                 reasoning="The sky scatters short wavelengths most."),
            Want("request-3", "errored", error=(
                "model_not_found", "The model `llama-9-nonexistent` does not exist or you do "
                "not have access to it.", 404, False)),
            Want("request-4", "expired", error=EXPIRED_OPENAI),
            Want("request-5", "errored", error=MISSING),
        ],
        [],
    ),
    "together": Case(
        "together:meta-llama/Llama-3.3-70B-Instruct-Turbo", "together.output.jsonl", None,
        [_chat(i) for i in ("request-1", "Request_2", "request-3", "request-4")],
        [
            Want("request-1", "succeeded", "Hello! How can I help you today?", "stop", "eos",
                 (12, 10, 0, 0, 0)),
            Want("Request_2", "succeeded", "First,", "length", "length", (30, 64, 0, 0, 50),
                 reasoning="Count the letters."),
            Want("request-3", "errored", error=(
                "invalid_request_error", "Input validation error: `inputs` tokens + "
                "`max_new_tokens` must be <= 8193.", 400, False)),
            Want("request-4", "errored", error=MISSING),
        ],
        [],
    ),
    "mistral": Case(
        "mistral:mistral-small-latest", "mistral.output.jsonl", "mistral.errors.jsonl",
        [_chat(i) for i in ("0", "Doc_1-b", "2", "3", "4")],
        [
            Want("0", "succeeded", "Bonjour le monde", "stop", "stop", (10, 6, 0, 0, 0)),
            Want("Doc_1-b", "succeeded", "Un deux", "length", "length", (9, 3, 0, 0, 0)),
            Want("2", "errored", error=("invalid_model", "Invalid model: mistral-nonexistent",
                                        400, False)),
            Want("3", "errored", error=("timeout", "Request timed out before it could be "
                                        "processed", None, True)),
            Want("4", "errored", error=MISSING),
        ],
        [],
    ),
    "anthropic": Case(
        "anthropic:claude-sonnet-4-20250514", "anthropic.results.jsonl", None,
        [_chat(i) for i in ("my-first-request", "Second_Request", "my-second-request",
                            "req_4", "Req-5", "req-6")],
        [
            Want("my-first-request", "succeeded", "Hello again! It's nice to see you.", "stop",
                 "end_turn", (11, 36, 0, 0, 0)),
            Want("Second_Request", "succeeded", "The first three primes are 2, 3", "length",
                 "max_tokens", (4520, 10, 3000, 1500, 0)),
            Want("my-second-request", "errored", error=(
                "invalid_request_error", "Validation error processing batch request: "
                "max_tokens: Field required", 400, False)),
            Want("req_4", "cancelled", error=(
                "batch_cancelled", "The request was not run because the batch was cancelled.",
                None, True)),
            Want("Req-5", "expired", error=(
                "batch_expired", "The request was not run before the batch's 24 hour window "
                "ended.", None, True)),
            Want("req-6", "errored", error=MISSING),
        ],
        [],
    ),
    "gemini": Case(
        "gemini:gemini-2.5-flash", "gemini.results.jsonl", None,
        [_chat(i) for i in ("request-1", "Request_2", "request-3", "request-4", "blocked-5",
                            "Safety_6")],
        [
            Want("request-1", "succeeded", "Gemini batch mode processes requests "
                 "asynchronously.", "stop", "STOP", (8, 12, 0, 0, 5)),
            Want("Request_2", "succeeded", "Once upon a", "length", "MAX_TOKENS",
                 (4096, 3, 4000, 0, 0)),
            Want("request-3", "errored", error=(
                "invalid_argument", "Request contains an invalid argument.", 400, False)),
            Want("request-4", "errored", error=MISSING),
            Want("blocked-5", "errored", usage=(9, 0, 0, 0, 0), error=(
                "prompt_blocked", "the prompt was blocked (SAFETY): blocked: SAFETY", 400,
                False)),
            Want("Safety_6", "succeeded", None, "content_filter", "SAFETY", (5, 0, 0, 0, 0),
                 error=("content_filter", "the reply was stopped (SAFETY)", None, False)),
        ],
        [],
    ),
    "gemini-embeddings": Case(
        "gemini:gemini-embedding-001", "gemini.embeddings.jsonl", None,
        [bk.EmbedRequest(custom_id="emb_1", text="a"), bk.EmbedRequest(custom_id="Emb-2",
                                                                       text="b")],
        [
            Want("emb_1", "succeeded", usage=(7, 0, 0, 0, 0), embedding=(0.012, -0.034, 0.056)),
            Want("Emb-2", "succeeded", usage=(3, 0, 0, 0, 0), embedding=(0.5, 0.25, -0.125)),
        ],
        [],
    ),
    "gemini-inline": Case(
        "gemini:gemini-2.5-flash", "gemini.inline.jsonl", None,
        [_chat("Inline_1"), _chat("inline-2")],
        [
            Want("Inline_1", "succeeded", "Inline answer.", "stop", "STOP", (6, 3, 0, 0, 0)),
            Want("inline-2", "errored", error=(
                "resource_exhausted", "Resource has been exhausted (e.g. check quota).", 429,
                True)),
        ],
        [],
    ),
    "vertex": Case(
        "vertex:gemini-2.0-flash-001", "vertex.predictions.jsonl", None,
        [_chat("Planet_Q", "Name the largest planet."),
         _chat("image-q", "Describe the attached image.", temperature=0.5),
         _chat("HAIKU-1", "Write a haiku.", max_tokens=5, temperature=0.2),
         _chat("never-1", "Never sent.")],
        [
            Want("Planet_Q", "succeeded", "Jupiter is the largest planet.", "stop", "STOP",
                 (6, 7, 0, 0, 0)),
            Want("image-q", "errored", error=(
                "invalid_argument", "Unable to submit request because it has an empty text "
                "parameter.", 400, False)),
            Want("HAIKU-1", "succeeded", "Autumn moonlight", "length", "MAX_TOKENS",
                 (4, 5, 0, 0, 0)),
            Want("never-1", "errored", error=MISSING),
        ],
        ["Who asked this?"],
    ),
    "vertex-embeddings": Case(
        "vertex:text-embedding-005", "vertex.embeddings.jsonl", None,
        [bk.EmbedRequest(custom_id="Vec_1", text="batch embeddings are cheap"),
         bk.EmbedRequest(custom_id="vec-2", text="a second text")],
        [
            Want("Vec_1", "succeeded", usage=(5, 0, 0, 0, 0), embedding=(0.1, 0.2, 0.3)),
            Want("vec-2", "errored", error=(
                "unknown_error", "Internal error occurred. Please retry.", None, False)),
        ],
        [],
    ),
    "cohere-embed-job": Case(
        "cohere:embed-v4.0", "cohere.embed-job.jsonl", None,
        [bk.EmbedRequest(custom_id="Doc_A", text="The capital of France is Paris."),
         bk.EmbedRequest(custom_id="doc-b", text="Embed jobs keep the other fields."),
         bk.EmbedRequest(custom_id="doc-c", text="Never embedded.")],
        [
            Want("Doc_A", "succeeded", embedding=(0.0167, -0.0311, 0.0428)),
            Want("doc-b", "succeeded", embedding=(0.25, 0.5, -0.75)),
            Want("doc-c", "errored", error=MISSING),
        ],
        ["Nobody asked for this one."],
    ),
    "cohere-batch": Case(
        "cohere:command-a-03-2025", "cohere.batch.jsonl", None,
        [_chat(i) for i in ("chat-1", "Chat_2", "chat-3", "chat-4")],
        [
            Want("chat-1", "succeeded", "Hello from Command A.", "stop", "COMPLETE",
                 (9, 5, 0, 0, 0)),
            Want("Chat_2", "succeeded", "One, two", "length", "MAX_TOKENS", (4, 2, 0, 0, 0)),
            Want("chat-3", "errored", error=(
                "request_failed", "invalid request: message must be at least 1 token long or "
                "tool results must be specified.", None, False)),
            Want("chat-4", "errored", error=MISSING),
        ],
        [],
    ),
    "bedrock-claude": Case(
        "bedrock:anthropic.claude-3-haiku-20240307-v1:0", "bedrock-claude.jsonl.out", None,
        [_chat(i) for i in ("CALL0000001", "rec_002-X", "CALL0000003", "CALL0000004")],
        [
            Want("CALL0000001", "succeeded", "Water evaporates, condenses into clouds and "
                 "falls back as rain.", "stop", "end_turn", (15, 14, 0, 0, 0)),
            Want("rec_002-X", "succeeded", "1, 2,", "length", "max_tokens", (11, 4, 0, 0, 0)),
            Want("CALL0000003", "errored", error=(
                "validation_error", "Input is too long for requested model.", 400, False)),
            Want("CALL0000004", "errored", error=MISSING),
        ],
        [],
    ),
}


def _unmatched_text(row: object) -> str:
    return json.dumps(row)


@pytest.mark.parametrize("name", sorted(CASES))
def test_sample_decodes_joined_to_its_requests(name: str) -> None:
    case = CASES[name]
    errors = None if case.errors is None else SAMPLES / case.errors
    results = bk.decode(SAMPLES / case.output, case.provider, case.requests, errors=errors)
    _check(list(results), case.wanted)
    assert len(results.unmatched) == len(case.unmatched)
    for row, marker in zip(results.unmatched, case.unmatched, strict=True):
        assert isinstance(row, dict) and marker in _unmatched_text(row)  # the row, whole


@pytest.mark.parametrize("name", sorted(CASES))
def test_sample_decodes_alone_with_ids_as_the_file_has_them(name: str) -> None:
    """Without requests: one result per row, in file order, under the file's own id (rows
    that carry none are named by their content, never by a rewritten id)."""
    case = CASES[name]
    files = [SAMPLES / case.output] + ([SAMPLES / case.errors] if case.errors else [])
    rows = [json.loads(line) for path in files for line in path.read_text().splitlines()
            if line.strip()]
    results = bk.decode(SAMPLES / case.output, case.provider.split(":")[0],
                        errors=None if case.errors is None else SAMPLES / case.errors)
    assert len(results) == len(rows) and results.unmatched == []
    by_id = {w.custom_id: w for w in case.wanted}
    for row, result in zip(rows, results, strict=True):
        file_id = next((row[k] for k in ("custom_id", "key", "recordId") if k in row),
                       (row.get("metadata") or {}).get("key"))
        if file_id is None:  # Vertex and Cohere embed-job rows carry no id
            assert result.custom_id.startswith(("request-sha256-", "text-sha256-"))
            continue
        assert result.custom_id == file_id
        if file_id in by_id:
            _check([result], [by_id[file_id]])
