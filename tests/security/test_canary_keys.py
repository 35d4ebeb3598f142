"""Canary keys against every vendor: no 6-character piece of a key batchkit holds shows anywhere.

Every credential variable of every adapter holds a canary shaped like the vendor's real keys
with a random tail unique to the test (``sk-proj-<tail>``, ``AKIA<tail>``, ``AIza<tail>``...).
Each vendor runs for real (not sandbox mode: the SDK sends the canary, which the test checks in
the requests the emulator received) against its emulator, which echoes every canary back in
every response's headers and, when armed, in an error body: whole, in the masked form vendors
use (first characters, ``****``, last four), as a suffix and as a piece from the middle.

Then the test searches every file under ``$BATCHKIT_HOME``, the ``str``, ``repr`` and full
chained traceback of every exception raised, every CLI output, and every log record of every
logger at DEBUG, for any 6-character piece of any canary's random tail. It builds on
``tests/reliability/test_secrets_canary.py``, which covers OpenAI and Anthropic in more
situations.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import string
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import batchkit as bk
from batchkit._registry import available_providers, get_adapter_class
from batchkit.cli import cli
from batchkit.testing import emulate
from batchkit.testing._server import Request, Response

from .vendors import SETUPS, Setup

_ALNUM = string.ascii_letters + string.digits
_UPPER = string.ascii_uppercase + string.digits


def _tail(n: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _secret_variables() -> set[str]:
    names = {"AWS_SESSION_TOKEN"}
    for name, installed, _extra in available_providers():
        if installed and name != "fake":
            names.update(get_adapter_class(name).credential_env)
    return {n for n in names if any(w in n for w in ("KEY", "SECRET", "TOKEN"))}


def _canary(variable: str) -> tuple[str, str]:
    """``(value, random tail)`` shaped like the variable's real keys."""
    if variable == "AWS_ACCESS_KEY_ID":
        tail = _tail(16, _UPPER)
        return f"AKIA{tail}", tail
    prefix = {"OPENAI_API_KEY": "sk-proj-", "ANTHROPIC_API_KEY": "sk-ant-api03-",
              "GEMINI_API_KEY": "AIza", "GOOGLE_API_KEY": "AIza", "GROQ_API_KEY": "gsk_",
              "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "IQoJb3JpZ2lu"}.get(variable, "")
    tail = _tail(40)
    return prefix + tail, tail


@dataclass
class Canaries:
    """The canary of each credential (plus the Google OAuth values of the Vertex setup)."""

    values: dict[str, str] = field(default_factory=dict)
    tails: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, value: str, tail: str) -> None:
        self.values[name], self.tails[name] = value, tail

    def fragments(self) -> set[str]:
        return {t[i:i + 6] for t in self.tails.values() for i in range(len(t) - 5)}

    def echo_text(self, names: set[str]) -> str:
        """The ``names`` canaries whole, masked (``first****last4``), as a suffix and as a
        middle piece."""
        forms = []
        for name, value in self.values.items():
            if name not in names:
                continue
            third = len(value) // 3
            forms += [value, f"{value[:10]}****{value[-4:]}", f"...{value[-12:]}",
                      value[third:third + 9]]
        return "; ".join(forms)


@dataclass
class Evidence:
    """Every text a key could reach, gathered as the test runs and searched at the end."""

    canaries: Canaries
    home: Path
    caplog: pytest.LogCaptureFixture
    texts: dict[str, str] = field(default_factory=dict)

    def add(self, where: str, text: str) -> None:
        self.texts[f"{where} #{len(self.texts)}"] = text

    def expect(self, call: Callable[[], object]) -> BaseException:
        """Run ``call``, which must raise a batchkit error; keep str, repr, full traceback."""
        with pytest.raises(bk.BatchkitError) as info:
            call()
        exc = info.value
        self.add(f"{type(exc).__name__} str", str(exc))
        self.add(f"{type(exc).__name__} repr", repr(exc))
        self.add(f"{type(exc).__name__} traceback", "".join(traceback.format_exception(exc)))
        chained, seen = [exc.__cause__, exc.__context__], set()
        while chained:  # suppressed contexts too: a debugger or a logger may print them
            link = chained.pop()
            if link is not None and id(link) not in seen:
                seen.add(id(link))
                self.add(f"chained {type(link).__name__}",
                         "".join(traceback.format_exception(link)) + repr(link))
                chained += [link.__cause__, link.__context__]
        return exc

    def leaks(self) -> list[str]:
        """Each place holding a 6-character piece of a canary's tail, with the piece."""
        fragments = self.canaries.fragments()
        texts = dict(self.texts, **{"log records": self.caplog.text})
        for path in (p for p in self.home.rglob("*") if p.is_file()):
            texts[str(path)] = path.read_bytes().decode("latin-1")
        return sorted(f"{where}: {piece!r}" for where, text in texts.items()
                      for piece in {text[i:i + 6] for i in range(len(text) - 5)} & fragments)


class Echo:
    """Wraps an emulator app: records the credentials each request carried, echoes every canary
    in every response's headers, and while ``armed`` answers with the vendor's own error body
    (its ``fault_response``) carrying the canaries. Nothing here is per vendor."""

    def __init__(self, app: Any, text: str, skip: Callable[[Request], bool]) -> None:
        self.app, self.text, self.skip = app, text, skip
        self.armed: int | None = None
        self.echoed = 0
        self.sent: list[str] = []
        self._handle = app.handle
        app.handle = self.handle

    def handle(self, request: Request) -> Response:
        self.sent.append(" ".join(f"{k}: {v}" for k, v in request.headers.items()))
        response: Response
        if self.armed is not None and not self.skip(request):
            response = self.app.fault_response(self.armed, None)
            response.body = _with_echo(response.body, self.text)
            self.echoed += 1
        else:
            response = self._handle(request)
        response.headers.update({"x-echo-key": self.text[:900], "x-request-note": self.text[-900:]})
        return response


def _with_echo(body: bytes, text: str) -> bytes:
    try:
        data = json.loads(body)
    except ValueError:
        xml = re.sub(rb"</Message>", f" {text}</Message>".encode(), body)
        return xml if xml != body else body + text.encode()

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: (f"{v} {text}" if isinstance(v, str) and k.lower() in (
                "message", "detail", "msg", "error_description") else walk(v))
                for k, v in node.items()}
        return [walk(v) for v in node] if isinstance(node, list) else node

    echoed = walk(data)
    if echoed == data and isinstance(data, dict):
        echoed = dict(data, message=text)
    return json.dumps(echoed).encode()


def _questions(path: Path, n: int = 3) -> Path:
    path.write_text("".join(json.dumps({"custom_id": f"q{i}", "messages": [
        {"role": "user", "content": f"question {i}"}]}) + "\n" for i in range(n)))
    return path


@pytest.fixture
def canaries(monkeypatch: pytest.MonkeyPatch) -> Canaries:
    found = Canaries()
    for variable in sorted(_secret_variables()):
        value, tail = _canary(variable)
        monkeypatch.setenv(variable, value)
        found.add(variable, value, tail)
    monkeypatch.delenv("BATCHKIT_SANDBOX", raising=False)
    return found


def test_every_vendor_in_the_registry_has_a_setup() -> None:
    vendors = {name for name, installed, _ in available_providers() if name != "fake"}
    assert vendors == set(SETUPS)


@pytest.mark.parametrize("vendor", sorted(SETUPS))
def test_no_piece_of_any_key_shows_anywhere(vendor: str, canaries: Canaries, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    setup: Setup = SETUPS[vendor]
    caplog.set_level(logging.DEBUG)  # a root handler at DEBUG: every record of every logger
    evidence = Evidence(canaries, tmp_path / "bkhome", caplog)
    with emulate(providers=[vendor], set_env=False) as handle:
        options = setup.prepare(handle, monkeypatch, canaries, tmp_path)
        # what this vendor holds: its adapter's variables and what its SDK chain resolved
        held = set(get_adapter_class(vendor).credential_env) | set(setup.also_holds)
        text = canaries.echo_text(held)
        assert text.count("****") >= 1
        echoes = [Echo(app, text, setup.skip) for app in handle.apps.values()]

        def arm(status: int | None) -> None:
            for echo in echoes:
                echo.armed = status

        # a job that runs: canaries in every response header, logged by the SDKs at DEBUG
        job = _submit(setup, options)
        job.wait()
        results = job.results()
        assert len(list(results)) == 3
        results.to_jsonl(tmp_path / "results.jsonl", include_raw=True)
        evidence.add("results file", (tmp_path / "results.jsonl").read_text())
        for name, value in (("job", job), ("adapter", job._adapter), ("shards", job.shards),
                            ("jobs", bk.list_jobs()), ("results", list(results))):
            evidence.add(f"{name} repr", repr(value))
        assert any(setup.sent(canaries) in sent for e in echoes for sent in e.sent), \
            "the SDK did not send the canary: the test would prove nothing"

        # the vendor echoes the keys in an error body: a request refused, then credentials
        for status in (400, 401, 403):
            arm(status)
            evidence.expect(lambda: _submit(setup, options))
        arm(None)
        job = _submit(setup, options)
        arm(400)
        evidence.expect(job.wait)
        assert "***" in "".join(evidence.texts.values())  # the echo reached batchkit, masked
        arm(None)

        # the command line, as a user runs it, with the vendor echoing the keys
        runner = CliRunner()
        settings = [a for k, v in options.items() for a in ("-s", f"{k}={v}")]
        questions = str(_questions(tmp_path / "q.jsonl"))
        for echoed_status in (None, 400, 401):
            arm(echoed_status)
            result = runner.invoke(cli, ["submit", questions, "-p", setup.provider, *settings])
            evidence.add(f"cli {echoed_status} stdout", result.stdout)
            evidence.add(f"cli {echoed_status} stderr", result.stderr)
            assert result.exit_code == (0 if echoed_status is None else 1), result.output
        arm(None)
        for command in (["list"], ["status", job.id], ["providers"]):
            result = runner.invoke(cli, command)
            evidence.add(f"cli {command[0]}", result.stdout + result.stderr)
        assert sum(e.echoed for e in echoes) >= 6
    assert len(caplog.records) > 20  # the SDKs did log at DEBUG
    assert any(p.name.startswith("jobs.db") for p in evidence.home.rglob("*"))
    assert evidence.leaks() == []


class InstantClock:
    """Job.wait's clock: sleeping only moves time, so polling at the vendor's pace is instant."""

    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _submit(setup: Setup, options: dict[str, str]) -> bk.Job:
    return bk.submit(_requests(), setup.provider, options=options, clock=InstantClock())


def _requests() -> list[bk.ChatRequest]:
    return [bk.ChatRequest.model_validate({"custom_id": f"q{i}", "max_tokens": 20, "messages": [
        {"role": "user", "content": f"question {i}"}]}) for i in range(3)]


def test_the_search_finds_a_piece_wherever_it_is(canaries: Canaries, tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """The control: a 6-character piece put in a file, a log record or a text is reported."""
    caplog.set_level(logging.DEBUG)
    evidence = Evidence(canaries, tmp_path, caplog)
    tail = canaries.tails["AWS_SECRET_ACCESS_KEY"]
    (tmp_path / "notes.txt").write_text(f"x{tail[3:9]}x")
    logging.getLogger("unrelated").debug("%s", "".join(reversed(tail[10:16]))[::-1])
    evidence.add("an exception", f"({tail[20:26]})")
    report = "\n".join(evidence.leaks())
    assert "notes.txt" in report and "log records" in report and "an exception" in report

