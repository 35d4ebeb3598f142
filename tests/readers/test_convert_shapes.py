"""``convert`` splices the lines of a known shape (``_convert_shapes``): the bytes it writes and
the refusals it makes must be those of reading, checking and encoding every line in full
(the format's reader + ``convert_request``, the path every line took before), for a file of many
shapes (plain, structured, tools, system prompts, images) with ids and texts of every kind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from batchkit import InvalidRequestError
from batchkit._convert import _same_format, convert
from batchkit._convert_lines import LineConverter, convert_request
from batchkit._readers import detect_format
from batchkit._registry import input_format, make_adapter

from .test_convert_pairs import TARGETS

PNG = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAA"
       "AAYAAjCB0C8AAAAASUVORK5CYII=")
TEXTS = ["Hello there", " leading space", "tab\tinside", 'a "quote" and a \\ backslash',
         "line\nbreak", "\u00e9 first", "emoji \U0001f389", "\u2028 separator", "x", "   ",
         "\u00a0", "%s %b %% percent", "Qz7xKv look-alike"]
IDS = ["a", "id-1", "id_2", "id 3", "id/4", "\u00ffid", 'q"uote', "bkx12", "bk--x", "7",
       "Qz7xKv0i", "%b", "\u00e9" * 300, "L" * 600]
SCHEMA = {"name": "place", "strict": True, "schema": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
    "additionalProperties": False}}
TOOL = {"type": "function", "function": {"name": "weather", "description": "Weather in a city",
                                         "parameters": {"type": "object", "properties": {
                                             "city": {"type": "string"}}}}}


def _messages(kind: int, text: str, i: int) -> list[dict[str, Any]]:
    user: dict[str, Any] = {"role": "user", "content": text}
    if kind == 0:
        return [{"role": "system", "content": "Be brief."}, user]
    if kind == 1:
        return [user]
    if kind == 2:
        return [{"role": "system", "content": "One."}, {"role": "system", "content": text}, user]
    if kind == 3:
        return [{"role": "user", "content": [{"type": "text", "text": text},
                                             {"type": "image_url", "image_url": {"url": PNG}}]}]
    if kind == 4:
        return [{"role": "system", "content": text}, user,
                {"role": "assistant", "content": f"Answer {i}"},
                {"role": "user", "content": "And again?"}]
    return [user, {"role": "assistant", "tool_calls": [{
        "id": "call_1", "type": "function",
        "function": {"name": "weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": text}]


def _line(i: int) -> str:
    kind = i % 6
    body: dict[str, Any] = {"model": "gpt-4o-mini", "max_completion_tokens": 50 + i % 2,
                            "messages": _messages(kind, TEXTS[i * 7 % len(TEXTS)] + (
                                "" if i % 5 else f" {i}"), i)}
    if i % 4 == 1:
        body["response_format"] = {"type": "json_schema", "json_schema": SCHEMA}
    if kind == 5 or i % 9 == 2:
        body["tools"] = [TOOL]
    cid = IDS[i % len(IDS)] + ("" if i < len(IDS) else f"-{i}")  # each id once in a file
    obj = {"custom_id": cid, "method": "POST", "url": "/v1/chat/completions", "body": body}
    if i % 2:
        return json.dumps(obj)
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _whole_way(path: Path, provider: str) -> list[tuple[int, bytes | str]]:
    """Each line's bytes, or its refusal, reading (by the format's reader, as read_numbered
    does), checking and encoding every line in full, one by one so every refusal shows."""
    adapter = make_adapter(provider)
    fmt = detect_format(path)
    reader = input_format(fmt)[1]
    keeps_raw = _same_format(fmt, provider.partition(":")[0])
    found: list[tuple[int, bytes | str]] = []
    for line_no, raw in enumerate(path.read_bytes().splitlines(), start=1):
        try:
            req = reader.request_from_line(json.loads(raw), line_no, None)
            found.append((line_no, convert_request(req, line_no, adapter, keeps_raw, fmt)))
        except InvalidRequestError as exc:
            found.append((line_no, str(exc)))
    return found


@pytest.fixture
def whole(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many lines went the whole way (the others were spliced: a test shows the shapes
    were used, not bypassed)."""
    count = [0]
    whole_way = LineConverter.whole_way

    def counted(self: LineConverter, line_no: int, raw: bytes, write: Any) -> None:
        count[0] += 1
        whole_way(self, line_no, raw, write)

    monkeypatch.setattr(LineConverter, "whole_way", counted)
    return count


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The varied OpenAI file, and the lines of it Anthropic and Bedrock take, in their own
    formats (written the whole way), as files to convert from."""
    folder = tmp_path_factory.mktemp("sources")
    openai = folder / "openai.jsonl"
    openai.write_text("".join(_line(i) + "\n" for i in range(480)))
    found = {"openai": openai}
    for vendor in ("anthropic", "bedrock"):
        lines = [out for _, out in _whole_way(openai, TARGETS[vendor]) if isinstance(out, bytes)]
        found[vendor] = folder / f"{vendor}.jsonl"
        found[vendor].write_bytes(b"".join(line + b"\n" for line in lines))
    return found


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_spliced_lines_are_the_bytes_of_the_whole_way(
        tmp_path: Path, target: str, sources: dict[str, Path], whole: list[int]) -> None:
    for name, source in sources.items():
        expected = _whole_way(source, TARGETS[target])
        taken = [line_no for line_no, out in expected if isinstance(out, bytes)]
        assert len(taken) > 50, (name, target)
        kept = tmp_path / f"kept-{name}.jsonl"
        lines = source.read_bytes().splitlines(keepends=True)
        # Windows line ends on some lines, blank lines and a BOM: read as read_numbered does.
        kept.write_bytes(b"\xef\xbb\xbf" + b"".join(lines[n - 1] for n in taken).replace(
            b"\n", b"\r\n", 40).replace(b"\n", b"\n\n", 5))
        out = tmp_path / f"out-{name}.jsonl"
        before = whole[0]
        assert convert(kept, TARGETS[target], out) == len(taken)
        assert out.read_bytes() == b"".join(o + b"\n" for _, o in expected
                                            if isinstance(o, bytes)), (name, target)
        assert whole[0] - before < len(taken) * 3 // 4, (name, target)


@pytest.mark.parametrize("target", ["anthropic", "bedrock"])
def test_every_refusal_is_the_whole_ways(tmp_path: Path, target: str,
                                         sources: dict[str, Path], whole: list[int]) -> None:
    """A refused line among many spliced ones of its shape stops the file with the error the
    whole way gives, and nothing is written."""
    source = sources["openai"]
    expected = _whole_way(source, TARGETS[target])
    lines = source.read_bytes().splitlines(keepends=True)
    taken = [lines[n - 1] for n, o in expected if isinstance(o, bytes)]
    rules: dict[str, tuple[int, str]] = {}  # the first line refused by each rule
    for n, o in expected:
        if isinstance(o, str):
            rules.setdefault(o.split("': ", 1)[-1], (n, o))
    assert len(rules) > 2, (target, rules)
    for line_no, error in rules.values():
        bad = tmp_path / "bad.jsonl"
        bad.write_bytes(b"".join(taken[:150]) + lines[line_no - 1])
        out = tmp_path / "out.jsonl"
        with pytest.raises(InvalidRequestError) as caught:
            convert(bad, TARGETS[target], out)
        assert str(caught.value) == error.replace(f"line {line_no}", "line 151", 1)
        assert not out.exists() and list(tmp_path.glob(".out*")) == []
    assert whole[0] < len(rules) * 151


@pytest.mark.parametrize("bad, error", [
    (b'"model": "gpt-4o"', "line 41, custom_id 'id-40': model 'gpt-4o' differs from "
                           "'gpt-4o-mini' on line 1"),
    (b'"content": "\\ud800"', "line 41: not valid JSON"),
    (b'"content": "\xff"', "line 41: not valid UTF-8"),
    (b'"content": "  \\n "', "line 41, custom_id 'id-40': anthropic refuses text that is only "
                             "whitespace (a 'user' message)"),
    (b'"content": ""', "line 41, custom_id 'id-40': messages.1.content: message content must "
                       "not be empty"),
])
def test_a_line_of_a_known_shape_with_a_bad_value_is_refused(
        tmp_path: Path, bad: bytes, error: str, whole: list[int]) -> None:
    def line(i: int, user: bytes) -> bytes:
        return (b'{"custom_id": "id-%d", "method": "POST", "url": "/v1/chat/completions", '
                b'"body": {"model": "gpt-4o-mini", "messages": [{"role": "system", "content": '
                b'"Be brief."}, {"role": "user", %s}]}}\n' % (i, user))
    source = tmp_path / "in.jsonl"
    user = b'"content": "Hello %d"'
    lines = [line(i, user % i) for i in range(40)]
    if bad.startswith(b'"model"'):
        lines.append(line(40, b'"content": "Hello"').replace(b'"gpt-4o-mini"', b'"gpt-4o"'))
    else:
        lines.append(line(40, bad))
    source.write_bytes(b"".join(lines))
    with pytest.raises(InvalidRequestError) as caught:
        convert(source, TARGETS["anthropic"], tmp_path / "out.jsonl")
    assert str(caught.value).startswith(error)
    assert whole[0] == 2  # the first line, and the bad one
