"""Bad input: a one-line error naming the request or line and the rule, and nothing sent."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import batchkit as bk
from batchkit.testing import fake_submissions


def user(text: str = "hi") -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def _assert_one_line(exc: BaseException, *needles: str) -> None:
    message = str(exc)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message


@pytest.mark.parametrize(
    ("build", "needles"),
    [
        (lambda: bk.ChatRequest(custom_id="a", messages=[]),
         ["custom_id 'a'", "messages", "at least one message"]),
        (lambda: bk.ChatRequest(custom_id="s", messages=[{"role": "system", "content": "x"}]),
         ["custom_id 's'", "user or assistant"]),
        (lambda: bk.EmbedRequest(custom_id="e", text="   "),
         ["custom_id 'e'", "text", "must not be empty"]),
        (lambda: bk.ChatRequest(custom_id="m", messages=user(), metadata={"f": object()}),
         ["custom_id 'm'", "metadata", "JSON-serializable"]),
        (lambda: bk.ChatRequest(custom_id="r", messages=user(), response_model=dict),
         ["custom_id 'r'", "response_model", "pydantic BaseModel subclass"]),
        (lambda: bk.ChatRequest(custom_id="", messages=user()), ["custom_id", "must not be empty"]),
        (lambda: bk.ChatRequest(custom_id="t", messages=user(), temperature=5),
         ["custom_id 't'", "temperature"]),
        (lambda: bk.ChatRequest(custom_id="i", messages=[{"role": "user", "content": [
            {"type": "image"}]}]), ["custom_id 'i'", "exactly one of 'url' or 'data'"]),
    ],
)
def test_invalid_requests_fail_on_construction(build: Any, needles: list[str]) -> None:
    with pytest.raises(bk.InvalidRequestError) as info:
        build()
    _assert_one_line(info.value, *needles)
    assert isinstance(info.value, bk.BatchkitError)


def test_duplicate_custom_id_stops_the_job_before_anything_is_sent() -> None:
    requests = [bk.ChatRequest(custom_id=f"r{i % 5}", messages=user()) for i in range(8)]
    with pytest.raises(bk.InvalidRequestError) as info:
        bk.submit(requests, "fake:m")
    _assert_one_line(info.value, "custom_id 'r0'", "duplicate custom_id", "request 1")
    assert fake_submissions() == {}
    assert bk.list_jobs() == []
    jobs_dir = Path.cwd() / "bkhome" / "jobs"
    assert not jobs_dir.exists() or list(jobs_dir.iterdir()) == []


def test_not_a_request_is_named_by_position() -> None:
    with pytest.raises(bk.InvalidRequestError) as info:
        bk.submit([bk.ChatRequest(custom_id="a", messages=user()), {"custom_id": "b"}], "fake:m")
    _assert_one_line(info.value, "request 2 is a dict")


def test_empty_job_is_refused() -> None:
    with pytest.raises(bk.InvalidRequestError, match="no requests"):
        bk.submit([], "fake:m")


def test_a_request_over_the_line_limit_is_refused() -> None:
    big = bk.ChatRequest(custom_id="big", messages=user("x" * 5000))
    with pytest.raises(bk.InvalidRequestError) as info:
        bk.submit([big], "fake:m", options={"max_bytes": 1000})
    _assert_one_line(info.value, "custom_id 'big'", "over the provider's limit")
    assert fake_submissions() == {}


@pytest.mark.parametrize(
    ("provider", "error", "needles"),
    [
        ("opnai:gpt-4o-mini", bk.UnknownProviderError, ["unknown provider 'opnai'",
                                                         "did you mean 'openai'"]),
        ("gpt-4o-mini", bk.ConfigError, ["must be 'name:model'"]),
        ("openai:", bk.ConfigError, ["must be 'name:model'"]),
    ],
)
def test_bad_provider_strings(provider: str, error: type[Exception], needles: list[str]) -> None:
    with pytest.raises(error) as info:
        bk.submit([bk.ChatRequest(custom_id="a", messages=user())], provider)
    _assert_one_line(info.value, *needles)


def test_missing_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # import openai -> ImportError
    for name in [m for m in sys.modules if m.startswith("batchkit.providers.openai")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(bk.MissingDependencyError) as info:
        bk.submit([bk.ChatRequest(custom_id="a", messages=user())], "openai:gpt-4o-mini")
    _assert_one_line(info.value, 'pip install "batchkit[openai]"')


@pytest.mark.parametrize(
    ("content", "suffix", "needles"),
    [
        (b'{"custom_id": "a", "text": "x"}\n{"custom_id": "b", "text": \n', ".jsonl",
         ["line 2", "not valid JSON"]),
        (b'{"custom_id": "a", "text": "x"}\n[1, 2]\n', ".jsonl", ["line 2", "JSON object"]),
        (b'{"custom_id": "a", "text": "caf\xe9"}\n', ".jsonl", ["line 1", "not valid UTF-8"]),
        (b'{"custom_id": "a", "text": ""}\n', ".jsonl", ["line 1", "custom_id 'a'", "empty"]),
        (b"id,title\n1,hello\n", ".csv", ["line 1", "no 'text' column", "id, title"]),
        (b'{"custom_id": "a", "method": "POST", "url": "/v1/images", "body": {}}\n', ".jsonl",
         ["line 1", "custom_id 'a'", "not supported"]),
        (b'{"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {"input": '
         b'["x", "y"]}}\n', ".jsonl", ["line 1", "one string per line"]),
    ],
)
def test_bad_files_name_the_line(content: bytes, suffix: str, needles: list[str],
                                 tmp_path: Path) -> None:
    path = tmp_path / f"requests{suffix}"
    path.write_bytes(content)
    with pytest.raises(bk.InvalidRequestError) as info:
        bk.submit(bk.read_requests(path), "fake:m")
    _assert_one_line(info.value, *needles)
    assert fake_submissions() == {}
    assert bk.list_jobs() == []
