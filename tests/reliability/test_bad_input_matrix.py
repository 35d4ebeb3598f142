"""Bad input, every way in: one line naming the request and the rule, and nothing sent or kept.

Each case goes in through the Python API (``bk.submit`` / ``bk.encode`` / ``bk.estimate``), a
request file (neutral JSONL, OpenAI batch JSONL, CSV) or the CLI, with the OpenAI and Anthropic
emulators serving as the vendors. Every case must raise one of batchkit's own errors (never a
pydantic, JSON, Unicode or vendor one), whose message is a single line naming the request
(custom_id and/or line) and the rule; and afterwards the emulators must have seen no upload and
no batch, the store must hold no job and ``$BATCHKIT_HOME/jobs`` no job folder. A control test at
the end shows the same checks do notice a job that is sent.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

import batchkit as bk
import batchkit.providers.openai
from batchkit.cli import cli
from batchkit.testing import emulate

OPENAI = "openai:gpt-4o-mini"
OPENAI_EMBED = "openai:text-embedding-3-small"  # a CSV of texts is embeddings
ANTHROPIC = "anthropic:claude-haiku-4-5"


class Label(BaseModel):
    label: str


class FreeForm(BaseModel):
    """A dict field: OpenAI's strict structured outputs cannot express it."""

    scores: dict[str, int]


def user(text: str = "hi") -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def chat(cid: str = "a", **fields: Any) -> bk.ChatRequest:
    fields.setdefault("messages", user())
    return bk.ChatRequest(custom_id=cid, **fields)


@dataclass
class Ctx:
    """What a case may use: a scratch folder (not under BATCHKIT_HOME) and monkeypatch."""

    tmp: Path
    monkeypatch: pytest.MonkeyPatch

    @property
    def out(self) -> Path:
        return self.tmp / "encoded"

    def file(self, content: bytes, suffix: str = ".jsonl") -> Path:
        path = self.tmp / f"requests{suffix}"
        path.write_bytes(content)
        return path


@dataclass(frozen=True)
class Case:
    id: str
    call: Callable[[Ctx], object]
    error: type[Exception]
    needles: tuple[str, ...]


def case(id: str, call: Callable[[Ctx], object], needles: tuple[str, ...],
         error: type[Exception] = bk.InvalidRequestError) -> Any:
    return pytest.param(Case(id, call, error, needles), id=id)


def _missing_sdk(ctx: Ctx) -> object:
    ctx.monkeypatch.setitem(sys.modules, "openai", None)  # import openai -> ImportError
    for name in [m for m in sys.modules if m.startswith("batchkit.providers.openai")]:
        ctx.monkeypatch.delitem(sys.modules, name)
    # the re-import below rebinds the package attribute too: have it put back afterwards
    ctx.monkeypatch.setattr(batchkit.providers, "openai", batchkit.providers.openai)
    return bk.submit([chat()], OPENAI)


def _missing_key(ctx: Ctx) -> object:
    ctx.monkeypatch.delenv("BATCHKIT_SANDBOX")  # not sandboxed: a real key would be needed
    return bk.submit([chat()], OPENAI)


def _over_limit(provider: str, module: str) -> Callable[[Ctx], object]:
    """One request bigger than a whole batch may be (the limit lowered from hundreds of MB)."""
    def call(ctx: Ctx) -> object:
        adapter_module = importlib.import_module(f"batchkit.providers.{module}.adapter")
        ctx.monkeypatch.setattr(adapter_module, "_MAX_BYTES", 2_000)
        return bk.submit([chat("small"), chat("big", messages=user("x" * 5_000))], provider)
    return call


API_CASES = [
    # -- the job as a whole
    case("submit-duplicate-custom-id",
         lambda c: bk.submit([chat(f"r{i % 5}") for i in range(8)], OPENAI),
         ("custom_id 'r0'", "duplicate custom_id", "request 1")),
    case("submit-not-a-request",
         lambda c: bk.submit([chat("a"), {"custom_id": "b"}], OPENAI),
         ("request 2 is a dict", "not a ChatRequest or EmbedRequest")),
    case("submit-no-requests", lambda c: bk.submit([], OPENAI), ("no requests to submit",)),
    case("submit-unknown-provider", lambda c: bk.submit([chat()], "opnai:gpt-4o-mini"),
         ("unknown provider 'opnai'", "did you mean 'openai'"), bk.UnknownProviderError),
    case("submit-provider-without-model", lambda c: bk.submit([chat()], "openai:"),
         ("must be 'name:model'",), bk.ConfigError),
    case("submit-bare-model-name", lambda c: bk.submit([chat()], "gpt-4o-mini"),
         ("must be 'name:model'", "gpt-4o-mini"), bk.ConfigError),
    case("submit-no-provider-at-all", lambda c: bk.submit([chat()]),
         ("no provider given",), bk.ConfigError),
    case("submit-bad-adapter-option",
         lambda c: bk.submit([chat()], OPENAI, options={"endpoint": "bogus"}),
         ("endpoint must be 'chat' or 'responses'",), bk.ConfigError),
    case("submit-negative-shard-size",
         lambda c: bk.submit([chat("a"), chat("b")], OPENAI, shard_size=-1),
         ("shard_size", ">= 1", "-1"), bk.ConfigError),
    case("submit-zero-shard-size",
         lambda c: bk.submit([chat("a"), chat("b")], ANTHROPIC, shard_size=0),
         ("shard_size", ">= 1"), bk.ConfigError),
    case("submit-max-cost-below-estimate",
         lambda c: bk.submit([chat(f"m{i}", max_tokens=1000) for i in range(20)], OPENAI,
                             max_cost_usd=0.0001),
         ("openai:gpt-4o-mini", "could reach", "over the $0.00 budget"), bk.BudgetExceededError),
    # -- one request's fields (refused when the request is built)
    case("empty-messages", lambda c: bk.submit([chat("e", messages=[])], OPENAI),
         ("custom_id 'e'", "messages", "at least one message")),
    case("only-a-system-message",
         lambda c: bk.submit([chat("s", messages=[{"role": "system", "content": "x"}])], OPENAI),
         ("custom_id 's'", "user or assistant")),
    case("empty-chat-text", lambda c: bk.submit([chat("t", messages=user(""))], ANTHROPIC),
         ("custom_id 't'", "messages.0.content", "must not be empty")),
    case("blank-embed-text",
         lambda c: bk.submit([bk.EmbedRequest(custom_id="e", text="   ")], OPENAI),
         ("custom_id 'e'", "text", "must not be empty")),
    case("empty-custom-id", lambda c: bk.submit([chat("")], OPENAI),
         ("custom_id", "must not be empty")),
    case("custom-id-over-512-chars", lambda c: bk.submit([chat("x" * 513)], OPENAI),
         ("custom_id 'xxxx", "...'", "longer than 512 characters")),
    case("custom-id-not-a-string", lambda c: bk.submit([chat(7)], OPENAI),  # type: ignore[arg-type]
         ("custom_id", "valid string")),
    case("metadata-not-json",
         lambda c: bk.submit([chat("m", metadata={"f": object()})], OPENAI),
         ("custom_id 'm'", "metadata", "JSON-serializable")),
    case("metadata-non-string-key",
         lambda c: bk.submit([chat("k", metadata={1: "one"})], OPENAI),
         ("custom_id 'k'", "metadata")),
    case("response-model-not-pydantic",
         lambda c: bk.submit([chat("r", response_model=dict)], OPENAI),
         ("custom_id 'r'", "response_model", "pydantic BaseModel subclass")),
    case("response-model-an-instance",
         lambda c: bk.submit([chat("r", response_model=Label(label="x"))], OPENAI),
         ("custom_id 'r'", "response_model", "pydantic BaseModel subclass")),
    case("response-model-on-embed",
         lambda c: bk.submit([bk.EmbedRequest(custom_id="e", text="x", response_model=Label)],
                             OPENAI),
         ("custom_id 'e'", "response_model", "not permitted")),
    case("temperature-out-of-range", lambda c: bk.submit([chat("t", temperature=5)], OPENAI),
         ("custom_id 't'", "temperature", "less than or equal to 2")),
    case("max-tokens-negative", lambda c: bk.submit([chat("n", max_tokens=-5)], OPENAI),
         ("custom_id 'n'", "max_tokens", "greater than 0")),
    case("max-tokens-a-word", lambda c: bk.submit([chat("w", max_tokens="many")], OPENAI),
         ("custom_id 'w'", "max_tokens", "valid integer")),
    case("max-tokens-a-bool", lambda c: bk.submit([chat("b", max_tokens=True)], OPENAI),
         ("custom_id 'b'", "max_tokens", "must be a number")),
    case("embed-dimensions-zero",
         lambda c: bk.submit([bk.EmbedRequest(custom_id="d", text="x", dimensions=0)], OPENAI),
         ("custom_id 'd'", "dimensions", "greater than 0")),
    case("unknown-role",
         lambda c: bk.submit([chat("u", messages=[{"role": "bot", "content": "x"}])], OPENAI),
         ("custom_id 'u'", "messages.0.role", "'system', 'user', 'assistant' or 'tool'")),
    case("tool-message-answering-no-call",
         lambda c: bk.submit([chat("t", messages=[{"role": "tool", "tool_call_id": "c9",
                                                   "content": "x"}])], OPENAI),
         ("custom_id 't'", "tool_call_id 'c9' answers no earlier assistant tool call")),
    case("message-built-alone-with-unknown-role",
         lambda c: bk.Message(role="bot", content="x"),  # type: ignore[arg-type]
         ("role", "'system', 'user', 'assistant' or 'tool'")),
    case("image-part-without-source",
         lambda c: bk.submit([chat("i", messages=[{"role": "user", "content": [
             {"type": "image"}]}])], OPENAI),
         ("custom_id 'i'", "exactly one of 'url' or 'data'")),
    case("image-part-bad-url",
         lambda c: bk.submit([chat("i", messages=[{"role": "user", "content": [
             {"type": "text", "text": "what is this?"},
             {"type": "image", "url": "cat.png"}]}])], ANTHROPIC),
         ("custom_id 'i'", "messages.0.content.1", "http(s) address")),
    case("image-part-not-an-image-type",
         lambda c: bk.submit([chat("i", messages=[{"role": "user", "content": [
             {"type": "image", "data": "aGk=", "media_type": "text/plain"}]}])], OPENAI),
         ("custom_id 'i'", "media_type", "'text/plain'")),
    # -- rules of one vendor (the adapter's check)
    case("image-in-an-assistant-message",
         lambda c: bk.submit([chat("i", messages=[*user(), {"role": "assistant", "content": [
             {"type": "image", "url": "https://example.com/a.png"}]}])], OPENAI),
         ("custom_id 'i'", "images are only allowed in user messages")),
    case("embeddings-on-a-chat-only-provider",
         lambda c: bk.submit([bk.EmbedRequest(custom_id="e", text="x")], ANTHROPIC),
         ("custom_id 'e'", "anthropic has no embeddings API")),
    case("anthropic-sampling-parameters",
         lambda c: bk.submit([chat("t", temperature=0)], ANTHROPIC),
         ("custom_id 't'", "takes no temperature", "drop_sampling=true")),
    case("anthropic-seed", lambda c: bk.submit([chat("s", seed=3)], ANTHROPIC),
         ("custom_id 's'", "no 'seed'")),
    case("anthropic-whitespace-only-text",
         lambda c: bk.submit([chat("w", messages=user("  \n "))], ANTHROPIC),
         ("custom_id 'w'", "only whitespace")),
    case("params-set-model", lambda c: bk.submit([chat("p", params={"model": "o3"})], OPENAI),
         ("custom_id 'p'", "params must not set 'model'")),
    case("params-stream", lambda c: bk.submit([chat("p", params={"stream": True})], ANTHROPIC),
         ("custom_id 'p'", "reject 'stream'")),
    case("params-n-choices", lambda c: bk.submit([chat("p", params={"n": 3})], OPENAI),
         ("custom_id 'p'", "params 'n'")),
    case("openai-five-stop-sequences",
         lambda c: bk.submit([chat("s", stop=["a", "b", "c", "d", "e"])], OPENAI),
         ("custom_id 's'", "at most 4 stop sequences")),
    case("openai-schema-strict-cannot-express",
         lambda c: bk.submit([chat("f", response_model=FreeForm)], OPENAI),
         ("custom_id 'f'", "cannot be sent as a strict schema", "dict fields")),
    case("openai-request-over-the-batch-limit", _over_limit(OPENAI, "openai"),
         ("custom_id 'big'", "over the provider's limit")),
    case("anthropic-request-over-the-batch-limit", _over_limit(ANTHROPIC, "anthropic"),
         ("custom_id 'big'", "over the provider's limit")),
    # -- bk.encode (offline files) and bk.estimate
    case("encode-duplicate-custom-id",
         lambda c: bk.encode([chat("a"), chat("b"), chat("a")], ANTHROPIC, c.out),
         ("custom_id 'a'", "duplicate custom_id")),
    case("encode-embeddings-on-anthropic",
         lambda c: bk.encode([chat("a"), bk.EmbedRequest(custom_id="e", text="x")], ANTHROPIC,
                             c.out),
         ("custom_id 'e'", "no embeddings API")),
    case("encode-no-requests", lambda c: bk.encode([], OPENAI, c.out),
         ("no requests to encode",)),
    case("encode-provider-without-model", lambda c: bk.encode([chat()], "anthropic", c.out),
         ("must be 'name:model'",), bk.ConfigError),
    case("estimate-embed-on-a-chat-model",
         lambda c: bk.estimate([bk.EmbedRequest(custom_id="e", text="x")], OPENAI),
         ("custom_id 'e'", "cannot run on openai:gpt-4o-mini")),
    case("estimate-unknown-model", lambda c: bk.estimate([chat()], "openai:gpt-nope"),
         ("no price for 'openai:gpt-nope'",), bk.UnknownProviderError),
    case("estimate-provider-without-model", lambda c: bk.estimate([chat()], "anthropic"),
         ("'anthropic' is not 'provider:model'",), bk.UnknownProviderError),
]


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
    case("openai-embedding-input-token-ids",  # a list of texts is read: one request per text
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


# -- fixtures and checks -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def _server() -> Iterator[Any]:
    with emulate(providers=["openai", "anthropic"], set_env=False) as handle:
        yield handle


@pytest.fixture
def emulators(_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The shared emulators, with batchkit pointed at them for this test (sandbox mode)."""
    monkeypatch.setenv("BATCHKIT_SANDBOX", _server.url)
    return _server


def _traffic(handle: Any) -> dict[str, int]:
    openai, anthropic = handle.apps["openai"], handle.apps["anthropic"]
    return {"openai uploads": openai.uploads, "openai files": len(openai.files),
            "openai creates": openai.creates, "openai batches": len(openai.batches),
            "anthropic creates": anthropic.creates, "anthropic batches": len(anthropic.batches)}


def _assert_one_line(message: str, needles: tuple[str, ...]) -> None:
    assert message and "\n" not in message.strip(), message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


def _assert_nothing_kept(home: Path, encoded: Path) -> None:
    assert bk.list_jobs() == []
    jobs = home / "jobs"
    assert not jobs.exists() or list(jobs.iterdir()) == []
    assert not encoded.exists() or list(encoded.iterdir()) == []


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ctx:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return Ctx(scratch, monkeypatch)


@pytest.mark.parametrize("bad", [*API_CASES, *FILE_CASES])
def test_bad_input_is_refused_before_anything_is_sent(
    bad: Case, emulators: Any, ctx: Ctx, tmp_path: Path
) -> None:
    before = _traffic(emulators)
    with pytest.raises(bk.BatchkitError) as info:
        bad.call(ctx)
    assert type(info.value) is bad.error, repr(info.value)
    _assert_one_line(str(info.value), bad.needles)
    assert _traffic(emulators) == before
    _assert_nothing_kept(tmp_path / "bkhome", ctx.out)


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


# -- no SDK, no key: refused before anything is sent or kept -----------------------------------

NO_CLIENT_CASES = [
    case("submit-missing-sdk", _missing_sdk, ('pip install "batchkit[openai]"',),
         bk.MissingDependencyError),
    case("submit-missing-key", _missing_key, ("no OpenAI API key", "OPENAI_API_KEY"),
         bk.MissingCredentialsError),
]


@pytest.mark.parametrize("bad", NO_CLIENT_CASES)
def test_no_sdk_or_no_key_is_refused_before_anything_is_sent(
    bad: Case, emulators: Any, ctx: Ctx
) -> None:
    before = _traffic(emulators)
    with pytest.raises(bk.BatchkitError) as info:
        bad.call(ctx)
    assert type(info.value) is bad.error, repr(info.value)
    _assert_one_line(str(info.value), bad.needles)
    assert _traffic(emulators) == before


@pytest.mark.parametrize("bad", NO_CLIENT_CASES)
def test_no_sdk_or_no_key_leaves_no_job_behind(bad: Case, emulators: Any, ctx: Ctx,
                                               tmp_path: Path) -> None:
    with pytest.raises(bad.error):
        bad.call(ctx)
    _assert_nothing_kept(tmp_path / "bkhome", ctx.out)


# -- what is accepted, and the control ------------------------------------------------------


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


def test_ids_anthropic_cannot_take_are_mapped_not_refused(emulators: Any) -> None:
    """Anthropic allows ``^[a-zA-Z0-9_-]{1,64}$``; other ids are sent mapped, and come back."""
    ids = ["email/1 äö", "x" * 200, "bk--looks-escaped", "plain_id"]
    results = bk.run([chat(cid) for cid in ids], ANTHROPIC)
    assert [r.custom_id for r in results] == ids
    assert results.counts() == {"succeeded": 4}


def test_the_checks_do_see_a_job_that_is_sent(emulators: Any, tmp_path: Path) -> None:
    """The control: a valid job moves every counter the cases above require to stay still."""
    before = _traffic(emulators)
    bk.submit([chat("a")], OPENAI)
    bk.submit([bk.EmbedRequest(custom_id="e", text="x")], OPENAI_EMBED)
    bk.submit([chat("b")], ANTHROPIC)
    after = _traffic(emulators)
    assert all(after[k] > before[k] for k in before), (before, after)
    assert len(bk.list_jobs()) == 3
    assert len(list((tmp_path / "bkhome" / "jobs").iterdir())) == 3
