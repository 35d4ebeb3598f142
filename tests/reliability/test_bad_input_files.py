"""Bad input in request files and on the command line: one line naming the line, the request and
the rule, and nothing sent or kept.

Neutral JSONL, OpenAI batch JSONL and CSV files read by ``bk.read_requests`` and submitted, and
the CLI's ``submit``, ``convert`` and ``estimate`` given bad files or options; then what a file
may hold that is not bad input (a byte order mark, a CSV with a response model). The checks are
in ``_bad_input.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import batchkit as bk
from batchkit.cli import cli

from ._bad_input import (
    ANTHROPIC,
    OPENAI,
    OPENAI_EMBED,
    Case,
    Ctx,
    Label,
    _assert_nothing_kept,
    _assert_one_line,
    _traffic,
    assert_refused_before_anything_is_sent,
    case,
    user,
)


def _from_file(content: bytes, suffix: str = ".jsonl", provider: str = OPENAI,
               **read: Any) -> Callable[[Ctx], object]:
    return lambda c: bk.submit(bk.read_requests(c.file(content, suffix), **read), provider)


def _line(**fields: Any) -> bytes:
    import orjson

    return orjson.dumps(fields) + b"\n"


def _oa(cid: str, url: str = "/v1/chat/completions", **body: Any) -> bytes:
    body.setdefault("model", "gpt-4o-mini")
    if url == "/v1/chat/completions":
        body.setdefault("messages", user())
    return _line(custom_id=cid, method="POST", url=url, body=body)


OK_LINE = _line(custom_id="ok", messages=user())

FILE_CASES = [
    case("jsonl-invalid-json", _from_file(OK_LINE + b'{"custom_id": "b", "text": \n'),
         ("line 2", "not valid JSON")),
    case("jsonl-line-not-an-object", _from_file(OK_LINE + b"[1, 2]\n"),
         ("line 2", "JSON object")),
    case("jsonl-not-utf8", _from_file(b'{"custom_id": "a", "text": "caf\xe9"}\n'),
         ("line 1", "not valid UTF-8")),
    case("jsonl-empty-embed-text", _from_file(_line(custom_id="a", text="")),
         ("line 1", "custom_id 'a'", "must not be empty")),
    case("jsonl-empty-file", _from_file(b""), ("'requests.jsonl'", "holds no requests")),
    case("jsonl-only-blank-lines", _from_file(b"\n  \n\n"), ("holds no requests",)),
    case("jsonl-blank-line-then-a-bad-line",
         _from_file(OK_LINE + b"\n" + _line(custom_id="b", messages=[])),
         ("line 3", "custom_id 'b'", "at least one message")),
    case("jsonl-duplicate-custom-id", _from_file(OK_LINE + OK_LINE),
         ("custom_id 'ok'", "duplicate custom_id", "request 1")),
    case("jsonl-unknown-field",
         _from_file(_line(custom_id="p", prompt="hello", messages=user())),
         ("line 1", "custom_id 'p'", "prompt", "not permitted")),
    case("jsonl-unknown-kind", _from_file(_line(custom_id="k", kind="image", text="x")),
         ("line 1", "unknown kind 'image'")),
    case("jsonl-custom-id-a-number", _from_file(_line(custom_id=12, text="x")),
         ("line 1", "custom_id", "valid string")),
    case("jsonl-unknown-role",
         _from_file(_line(custom_id="r", messages=[{"role": "bot", "content": "x"}])),
         ("line 1", "custom_id 'r'", "messages.0.role")),
    case("jsonl-image-url-not-a-url", _from_file(_line(custom_id="i", messages=[
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "C:/cat.png"}}]}
    ])), ("line 1", "custom_id 'i'", "http(s) address")),
    case("jsonl-max-tokens-negative",
         _from_file(_line(custom_id="n", messages=user(), max_tokens=-1)),
         ("line 1", "custom_id 'n'", "max_tokens")),
    case("jsonl-missing-file",
         lambda c: bk.submit(bk.read_requests(c.tmp / "nope.jsonl"), OPENAI),
         ("cannot read", "nope.jsonl")),
    case("openai-unsupported-url", _from_file(_oa("a", "/v1/images/generations")),
         ("line 1", "custom_id 'a'", "not supported")),
    case("openai-url-does-not-match-body",
         _from_file(_line(custom_id="a", method="POST", url="/v1/chat/completions",
                          body={"model": "gpt-4o-mini", "input": "an embedding body"})),
         ("line 1", "custom_id 'a'", "messages")),
    case("openai-embeddings-url-with-a-chat-body",
         _from_file(_line(custom_id="e", method="POST", url="/v1/embeddings",
                          body={"model": "text-embedding-3-small", "messages": user()})),
         ("line 1", "custom_id 'e'", "text")),
    case("openai-embedding-input-token-ids",  # a list of texts is one request's texts
         _from_file(_oa("e", "/v1/embeddings", input=[[1, 2], [3]])),
         ("line 1", "custom_id 'e'", "token ids are not read")),
    case("openai-mixed-models",
         _from_file(_oa("a") + _oa("b", model="gpt-4o") + _oa("c")),
         ("line 2", "custom_id 'b'", "model 'gpt-4o' differs from 'gpt-4o-mini' on line 1")),
    case("openai-method-get",
         _from_file(_line(custom_id="g", method="GET", url="/v1/chat/completions",
                          body={"model": "gpt-4o-mini", "messages": user()})),
         ("line 1", "custom_id 'g'", "'method' must be POST")),
    case("openai-body-not-an-object",
         _from_file(_line(custom_id="b", method="POST", url="/v1/chat/completions", body="hi")),
         ("line 1", "custom_id 'b'", "'body' must be a JSON object")),
    case("openai-max-tokens-a-word",
         _from_file(_oa("w", max_completion_tokens="lots")),
         ("line 1", "custom_id 'w'", "max_tokens", "valid integer")),
    case("openai-anthropic-cannot-take-seed",
         _from_file(_oa("s", seed=4), provider=ANTHROPIC),
         ("custom_id 's'", "no 'seed'")),
    case("csv-without-text-column", _from_file(b"id,title\n1,hello\n", ".csv", OPENAI_EMBED),
         ("line 1", "no 'text' column", "id, title")),
    case("csv-not-utf8", _from_file(b"text,title\nok,fine\ncaf\xe9,bad\n", ".csv", OPENAI_EMBED),
         ("line 3", "not valid UTF-8")),
    case("csv-field-over-the-csv-size-limit",
         _from_file(b"text\nfine\n" + b"x" * 140_000 + b"\n", ".csv", OPENAI_EMBED),
         ("line 3", "not valid CSV", "field larger than field limit")),
    case("csv-empty-file", _from_file(b"", ".csv", OPENAI_EMBED), ("no 'text' column", "none")),
    case("csv-header-only", _from_file(b"custom_id,text\n",
                                       ".csv", OPENAI_EMBED), ("holds no requests",)),
    case("csv-empty-text-cell", _from_file(b"custom_id,text\na,hello\nb,\n", ".csv", OPENAI_EMBED),
         ("line 3", "custom_id 'b'", "must not be empty")),
    case("csv-empty-text-cell-for-chat",
         _from_file(b"custom_id,text\na,hello\nb,\n", ".csv", kind="chat"),
         ("line 3", "custom_id 'b'", "must not be empty")),
    case("csv-duplicate-ids", _from_file(b"id,text\nx,one\ny,two\nx,three\n", ".csv", OPENAI_EMBED),
         ("custom_id 'x'", "duplicate custom_id")),
    case("csv-embeddings-with-a-response-model",
         _from_file(b"text\nhello\n", ".csv", kind="embed", response_model=Label),
         ("response_model applies to chat requests", "'embed'"), bk.ConfigError),
]


@dataclass(frozen=True)
class CliCase:
    id: str
    content: bytes
    suffix: str
    args: tuple[str, ...]
    needles: tuple[str, ...]


def cli_case(id: str, content: bytes, args: tuple[str, ...], needles: tuple[str, ...],
             suffix: str = ".jsonl") -> Any:
    return pytest.param(CliCase(id, content, suffix, args, needles), id=id)


_SUBMIT = ("submit", "{file}", "-p", OPENAI)
CLI_CASES = [
    cli_case("cli-submit-invalid-json", OK_LINE + b"{nope\n", _SUBMIT,
             ("line 2", "not valid JSON")),
    cli_case("cli-submit-duplicate-ids", OK_LINE * 2, _SUBMIT,
             ("custom_id 'ok'", "duplicate custom_id")),
    cli_case("cli-submit-unknown-provider", OK_LINE, ("submit", "{file}", "-p", "opnai:x"),
             ("unknown provider 'opnai'",)),
    cli_case("cli-submit-no-provider", OK_LINE, ("submit", "{file}"), ("no provider given",)),
    cli_case("cli-submit-negative-shard-size", OK_LINE, (*_SUBMIT, "--shard-size", "-3"),
             ("shard_size", "-3")),
    cli_case("cli-submit-max-cost-below-estimate", OK_LINE, (*_SUBMIT, "--max-cost", "0"),
             ("over the $0.00 budget",)),
    cli_case("cli-submit-embeddings-to-anthropic", _line(custom_id="e", text="x"),
             ("submit", "{file}", "-p", ANTHROPIC), ("custom_id 'e'", "no embeddings API")),
    cli_case("cli-submit-response-model-not-found", OK_LINE,
             (*_SUBMIT, "--response-model", "no_such_module:Model"),
             ("cannot import response model 'no_such_module:Model'",)),
    cli_case("cli-submit-option-without-value", OK_LINE, (*_SUBMIT, "-s", "endpoint"),
             ("option 'endpoint' must look like key=value",)),
    cli_case("cli-submit-csv-embed-with-response-model", b"text\nhello\n",
             (*_SUBMIT, "--kind", "embed", "--response-model", f"{__name__}:Label"),
             ("response_model applies to chat requests",), suffix=".csv"),
    cli_case("cli-convert-bad-line", OK_LINE + _line(custom_id="x", messages=[]),
             ("convert", "{file}", "--to", ANTHROPIC, "-o", "{out}"),
             ("line 2", "custom_id 'x'", "at least one message")),
    cli_case("cli-convert-empty-file", b"", ("convert", "{file}", "--to", OPENAI, "-o", "{out}"),
             ("holds no requests",)),
    cli_case("cli-convert-provider-without-model", OK_LINE,
             ("convert", "{file}", "--to", "openai", "-o", "{out}"), ("must be 'name:model'",)),
    cli_case("cli-estimate-not-utf8", b'{"custom_id": "a", "text": "\xff"}\n',
             ("estimate", "{file}", "-p", OPENAI), ("line 1", "not valid UTF-8")),
    cli_case("cli-estimate-unknown-provider", OK_LINE, ("estimate", "{file}", "-p", "opnai:x"),
             ("unknown provider 'opnai'",)),
    cli_case("cli-estimate-csv-without-text", b"title\nx\n",
             ("estimate", "{file}", "-p", OPENAI), ("line 1", "no 'text' column"), suffix=".csv"),
]


@pytest.mark.parametrize("bad", FILE_CASES)
def test_bad_input_is_refused_before_anything_is_sent(
    bad: Case, emulators: Any, ctx: Ctx, tmp_path: Path
) -> None:
    assert_refused_before_anything_is_sent(bad, emulators, ctx, tmp_path)


@pytest.mark.parametrize("bad", CLI_CASES)
def test_bad_input_on_the_command_line(bad: CliCase, emulators: Any, ctx: Ctx,
                                       tmp_path: Path) -> None:
    path = ctx.file(bad.content, bad.suffix)
    args = [a.format(file=path, out=ctx.out) for a in bad.args]
    before = _traffic(emulators)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit)  # handled, not a traceback
    assert result.stdout == ""
    assert result.stderr.lower().startswith("error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    _assert_one_line(result.stderr, bad.needles)
    assert _traffic(emulators) == before
    _assert_nothing_kept(tmp_path / "bkhome", ctx.out)


# -- what a file may hold that is not bad input ---------------------------------------------


def test_a_byte_order_mark_is_not_bad_input(ctx: Ctx) -> None:
    """Excel and Notepad start UTF-8 files with a BOM; it must not hide the first column."""
    bom = "\ufeff".encode()
    csv_rows = list(bk.read_requests(ctx.file(bom + b"text,title\nhello,Hi\n", ".csv")))
    assert [(r.custom_id, r.text, r.metadata) for r in csv_rows] == [  # type: ignore[union-attr]
        ("row-1", "hello", {"title": "Hi"})]
    jsonl = list(bk.read_requests(ctx.file(bom + OK_LINE)))
    assert [r.custom_id for r in jsonl] == ["ok"]


def test_a_csv_with_a_response_model_is_chat_without_being_told(ctx: Ctx) -> None:
    rows = list(bk.read_requests(ctx.file(b"text\nhello\n", ".csv"), response_model=Label))
    assert isinstance(rows[0], bk.ChatRequest) and rows[0].response_model is Label
