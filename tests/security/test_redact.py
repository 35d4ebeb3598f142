"""The redactor on its own: every form of a registered key is removed wherever batchkit's text
goes (messages, chained vendor exceptions, tracebacks, log records, CLI streams), and the key
shapes are removed unregistered. The end-to-end proof over every vendor is
``test_canary_keys.py``; these tests pin down each mechanism it relies on."""

from __future__ import annotations

import io
import logging
import secrets
import string
import traceback
from collections.abc import Iterator

import orjson
import pytest

from batchkit import _redact, _redact_logs
from batchkit._exceptions import InvalidRequestError, ProviderError
from batchkit._redact import redact, redact_exception, register_secret
from batchkit._results import ErrorInfo, Result
from batchkit.cli._output import RedactingStream

ALPHABET = string.ascii_letters + string.digits


def _key(prefix: str = "sk-proj-") -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(40))


def _fragments(key: str, start: int = 8) -> set[str]:
    tail = key[start:]
    return {tail[i:i + 6] for i in range(len(tail) - 5)}


def _leaks(key: str, text: str) -> list[str]:
    return sorted(f for f in _fragments(key) if f in text)


@pytest.fixture
def key() -> str:
    value = _key()
    register_secret(value)
    return value


def test_every_form_of_a_registered_key_is_removed(key: str) -> None:
    forms = [key, f"{key[:12]}****{key[-4:]}", f"...{key[-12:]}", key[10:20],
             f"Bearer {key}", f'{{"api_key": "{key}"}}']
    for form in forms:
        text = f"vendor said: {form}! (request 42)"
        assert _leaks(key, redact(text)) == [], form
        assert redact(text).startswith("vendor said: ") and "(request 42)" in redact(text)
    assert redact(f"last four {key[-4:]}") == f"last four {key[-4:]}"  # 4 characters stay


def test_text_without_a_secret_is_unchanged(key: str) -> None:
    text = "job 3f2a9c01 completed: 4 succeeded, 1 errored; see results.jsonl"
    assert redact(text) == text


@pytest.mark.parametrize(("text", "kept"), [
    ("sk-ant-api03-" + "x" * 30, "sk-ant-***"),
    ("key sk-" + "Y" * 40, "sk-***"),
    ("id AKIA" + "Z" * 16, "AKIA***"),
    ("id ASIA" + "Q" * 16, "ASIA***"),
    ("AIza" + "b" * 35, "AIza***"),
    ("ya29." + "c" * 40, "ya29.***"),
    ("Authorization: Bearer " + "d" * 30, "Bearer ***"),
    ("Authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/bedrock/"
     "aws4_request, SignedHeaders=host, Signature=" + "e" * 64, "Signature=***"),
    ("{'x-api-key': '" + "f" * 30 + "'}", "'x-api-key': '***'"),
])
def test_key_shapes_are_removed_unregistered(text: str, kept: str) -> None:
    cleaned = redact(text)
    # What stays of the shape's prefix may be masked too when another test registered a key
    # with the same prefix (sk-ant-...): the shape's body is what must go.
    assert kept in cleaned or _redact.MASK * 2 in cleaned
    assert not any(c * 8 in cleaned for c in "xYZQbcdef")


def test_a_batchkit_error_cleans_its_message_and_the_vendor_error_it_chains(key: str) -> None:
    class VendorError(Exception):
        def __init__(self, message: str, body: dict[str, str]) -> None:
            super().__init__(message)
            self.message, self.body = message, body

    def call_vendor() -> None:
        try:
            try:
                raise ConnectionError(f"lost while sending {key}")
            except ConnectionError:
                raise VendorError(f"Incorrect API key {key[:12]}****{key[-4:]}",
                                  {"error": f"key {key}"}) from None
        except VendorError as exc:
            raise ProviderError(f"OpenAI refused {key}", status_code=401) from exc

    with pytest.raises(ProviderError) as info:
        call_vendor()
    exc = info.value
    assert exc.__cause__ is not None and exc.__cause__.__context__ is not None
    hidden = exc.__cause__.__context__  # suppressed by ``from None``, still reachable
    text = "".join(traceback.format_exception(exc)) + repr(exc) + repr(exc.__cause__)
    text += "".join(traceback.format_exception(hidden))
    assert _leaks(key, text) == []
    assert "Incorrect API key" in text and "lost while sending" in text
    assert _leaks(key, repr(vars(exc.__cause__))) == []


def test_an_exception_whose_text_comes_from_an_object_gets_a_redacting_type(key: str) -> None:
    class Holder:
        def __str__(self) -> str:
            return f"holder of {key}"

    class OddError(Exception):
        def __init__(self) -> None:
            super().__init__()
            self.holder = Holder()

        def __str__(self) -> str:
            return f"odd: {self.holder}"

    odd = OddError()
    redact_exception(odd)
    assert isinstance(odd, OddError) and type(odd).__name__ == "OddError"
    assert str(odd).startswith("odd: holder of ") and _leaks(key, str(odd)) == []
    assert _leaks(key, "".join(traceback.format_exception(odd))) == []


def test_invalid_request_rule_is_cleaned(key: str) -> None:
    error = InvalidRequestError(f"field api_key holds {key}", line=3)
    assert _leaks(key, str(error) + error.rule) == []


def test_a_vendor_error_echoing_the_key_is_cleaned_before_it_reaches_a_result_file(
        key: str) -> None:
    masked = f"Incorrect API key provided: {key[:18]}****{key[-8:]}."
    result = Result("r1", "errored", error=ErrorInfo("invalid_api_key", masked, http_status=401))
    assert result.error is not None
    assert _leaks(key, result.error.message) == []
    assert result.error.message.startswith("Incorrect API key provided: ")
    assert _leaks(key, orjson.dumps(result.to_dict()).decode()) == []


@pytest.fixture
def root_debug() -> Iterator[io.StringIO]:
    """A root handler at DEBUG, the way an application would log everything."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    _redact_logs.install()
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


def test_log_records_of_any_logger_are_cleaned(key: str, root_debug: io.StringIO) -> None:
    logging.getLogger("botocore.endpoint").debug(
        "Sending http request: <AWSPreparedRequest headers={'Authorization': "
        "b'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/s3/aws4_request"
        ", Signature=%s'}>", "ab" * 32)
    logging.getLogger("openai._base_client").debug("Request options: %s",
                                                   {"headers": {"Authorization": key}})
    logging.getLogger(f"created.later.{secrets.token_hex(4)}").debug("key=%s", key[5:30])
    try:
        raise ValueError(f"body echoed {key}")
    except ValueError:
        logging.getLogger("httpx").exception("failed")
    logged = root_debug.getvalue()
    assert "Request options" in logged and "body echoed" in logged and "Traceback" in logged
    assert "AKIAIOSFODNN7EXAMPLE" not in logged and "ab" * 32 not in logged
    assert _leaks(key, logged) == []


def test_the_filter_is_on_the_sdk_loggers_once(root_debug: io.StringIO) -> None:
    _redact_logs.install()
    for name in ("botocore", "openai", "httpx", "google.auth", "urllib3"):
        filters = logging.getLogger(name).filters
        assert sum(isinstance(f, _redact_logs.SecretFilter) for f in filters) == 1


def test_raw_logs_only_when_asked_and_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_redact_logs, "_installed", False)
    monkeypatch.setattr(_redact_logs, "_warned", False)
    monkeypatch.setattr(logging, "_logRecordFactory", logging.LogRecord)
    monkeypatch.setenv(_redact_logs.RAW_LOGS_ENV, "1")
    with pytest.warns(UserWarning, match="NOT redacted"):
        _redact_logs.install()
    assert logging.getLogRecordFactory() is logging.LogRecord
    monkeypatch.delenv(_redact_logs.RAW_LOGS_ENV)
    _redact_logs.install()
    assert logging.getLogRecordFactory() is not logging.LogRecord


def test_the_cli_stream_is_the_last_line_of_defence(key: str) -> None:
    out = io.StringIO()
    stream = RedactingStream(out)
    assert stream.write(f"| job | {key} |\n") == len(key) + 11
    assert _leaks(key, out.getvalue()) == [] and out.getvalue().startswith("| job | ")


def test_the_check_finds_a_fragment_it_looks_for(key: str) -> None:
    """The control: the leak check used above does report a 6-character piece."""
    assert _leaks(key, f"x{key[20:26]}x") == [key[20:26]]
    assert _redact.FRAGMENT == 6


def test_an_unexpected_error_leaving_a_command_is_redacted(key: str) -> None:
    """Not a batchkit error: Python prints its traceback after the command; no key in it."""
    from batchkit.cli._output import redacted_output

    with pytest.raises(RuntimeError) as info, redacted_output():
        raise RuntimeError(f"a bug met {key}")
    assert _leaks(key, "".join(traceback.format_exception(info.value))) == []
