"""Secrets and files: a key never reaches the store, files, logs, output, reprs or errors.

Every vendor key variable batchkit knows holds a canary (``sk-canary-...``, random per test) and
real jobs run against the emulators *outside* sandbox mode, with each emulator accepting only
its canary: so the canary is what the SDKs really sent. Jobs succeed, fail per request, are
refused (HTTP 401), hit server errors (HTTP 500), are rejected by the vendor, and meet a vendor
that echoes the key back in an error. Afterwards every file under ``$BATCHKIT_HOME`` (the store
and its WAL included), every log record down to DEBUG, the CLI's stdout and stderr, the reprs of
jobs, adapters and results, and the full traceback of every exception raised are searched for
the canary and for any 16-character piece of its random part.

Beside that: job files are private to the user, the emulators bind loopback only, ids from
vendor responses never become paths, and nothing in ``src/batchkit`` unpickles or evaluates.
"""

from __future__ import annotations

import ast
import functools
import json
import logging
import secrets
import stat
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import batchkit as bk
from batchkit._registry import available_providers, get_adapter_class, make_adapter
from batchkit.cli import cli
from batchkit.providers.base import Adapter
from batchkit.testing import emulate
from batchkit.testing._emulate import serve
from batchkit.testing._server import EmulatorServer, Request, Response
from batchkit.testing.emulators.anthropic import routes as anthropic_emulator
from batchkit.testing.emulators.openai import routes as openai_emulator

SRC = Path(bk.__file__).parent


class InstantClock:
    """Job.wait's clock: sleeping only moves time, so polling at the vendor's pace is instant."""

    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class Vendor:
    """How one emulated vendor is reached and told apart, outside sandbox mode."""

    provider: str
    app_name: str
    key_env: str
    base_suffix: str
    create_path: str
    poll_path: str

    def error(self, status: int, message: str) -> Response:
        """The vendor's own error body."""
        if self.app_name == "openai":
            return openai_emulator.ApiError(status, message).response()
        return anthropic_emulator.ApiError(status, message).response()


OPENAI = Vendor("openai:gpt-4o-mini", "openai", "OPENAI_API_KEY", "/v1",
                "/v1/batches", "/v1/batches/")
ANTHROPIC = Vendor("anthropic:claude-haiku-4-5", "anthropic", "ANTHROPIC_API_KEY", "",
                   "/v1/messages/batches", "/v1/messages/batches/")
VENDORS = [pytest.param(OPENAI, id="openai"), pytest.param(ANTHROPIC, id="anthropic")]
ALWAYS = 1000
"""Times an injected fault repeats: more than every retry of the SDKs and batchkit together."""


@functools.cache
def _key_variables() -> frozenset[str]:
    """Every secret credential variable of every adapter installed (endpoints, buckets and
    project names are listed beside the keys, but they are not secrets)."""
    names = {OPENAI.key_env, ANTHROPIC.key_env}
    for name, installed, _extra in available_providers():
        if installed:
            try:
                names.update(get_adapter_class(name).credential_env)
            except ImportError:  # an adapter being written as this runs: its keys still count
                continue
    return frozenset(n for n in names if any(w in n for w in ("KEY", "SECRET", "TOKEN")))


@dataclass
class Evidence:
    """Everything a key could leak into, gathered as the test runs, searched at the end."""

    canaries: dict[str, str]
    home: Path
    caplog: pytest.LogCaptureFixture
    texts: dict[str, str] = field(default_factory=dict)
    raised: int = 0

    def add(self, where: str, text: str) -> None:
        self.texts[f"{where} #{len(self.texts)}"] = text

    def expect(self, error: type[BaseException], call: Callable[[], object]) -> BaseException:
        """Run ``call``, which must raise ``error``; keep its whole traceback as evidence."""
        with pytest.raises(error) as info:
            call()
        exc = info.value
        self.raised += 1
        self.add(f"{type(exc).__name__} traceback",
                 "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        self.add(f"{type(exc).__name__} repr", repr(exc))
        return exc

    def pieces(self) -> set[str]:
        """The canaries and every 16-character piece of their random parts."""
        found = set(self.canaries.values())
        for canary in self.canaries.values():
            tail = canary.rsplit("-", 1)[1]
            found.update(tail[i:i + 16] for i in range(len(tail) - 15))
        return found

    def assert_clean(self) -> None:
        pieces = self.pieces()
        self.add("log records", self.caplog.text)
        files = [p for p in self.home.rglob("*") if p.is_file()]
        assert any(p.name.startswith("jobs.db") for p in files)
        leaks = [where for where, text in self.texts.items() if any(p in text for p in pieces)]
        leaks += [str(path) for path in files
                  if any(p.encode() in path.read_bytes() for p in pieces)]
        assert not leaks, f"a key was found in: {leaks}"


@pytest.fixture
def evidence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             caplog: pytest.LogCaptureFixture) -> Evidence:
    canaries = {var: f"sk-canary-{i}-{secrets.token_hex(24)}"
                for i, var in enumerate(sorted(_key_variables()))}
    for var, canary in canaries.items():
        monkeypatch.setenv(var, canary)
    caplog.set_level(logging.DEBUG)
    return Evidence(canaries, tmp_path / "bkhome", caplog)


@pytest.fixture
def server(evidence: Evidence) -> Iterator[Any]:
    """Both emulators, not in sandbox mode; each accepts only its canary key."""
    with emulate(providers=["openai", "anthropic"], set_env=False) as handle:
        handle.apps["openai"].api_keys = {evidence.canaries[OPENAI.key_env]}
        handle.apps["anthropic"].api_keys = {evidence.canaries[ANTHROPIC.key_env]}
        yield handle


def _options(server: Any, vendor: Vendor) -> dict[str, str]:
    return {"base_url": server.base_url(vendor.app_name) + vendor.base_suffix}


def _requests(n: int = 4) -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"q{i}", max_tokens=50,
                           messages=[{"role": "user", "content": f"question {i}"}])
            for i in range(n)]


def _submit(server: Any, vendor: Vendor, n: int = 4) -> bk.Job:
    return bk.submit(_requests(n), vendor.provider, options=_options(server, vendor),
                     clock=InstantClock())


def _record_job(evidence: Evidence, job: bk.Job, results: bk.ResultSet | None = None) -> None:
    evidence.add("job repr", repr(job))
    evidence.add("adapter repr", repr(job._adapter))
    evidence.add("shards repr", repr(job.shards))
    evidence.add("list_jobs repr", repr(bk.list_jobs()))
    if results is not None:
        evidence.add("results repr", repr(results) + "".join(repr(r) for r in results))
        evidence.add("results dicts", json.dumps([r.to_dict() for r in results], default=str))


# -- the canary, end to end ---------------------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_job_that_runs_leaves_no_key_anywhere(vendor: Vendor, server: Any,
                                                evidence: Evidence, tmp_path: Path) -> None:
    app = server.apps[vendor.app_name]
    app.fault("q1", "http_error" if vendor is OPENAI else "errored")
    job = _submit(server, vendor).wait()
    results = job.results()
    assert results.counts() == {"succeeded": 3, "errored": 1}
    assert app.creates == 1  # the emulator took the canary: it accepts no other key
    out = tmp_path / "results.jsonl"
    results.to_jsonl(out, include_raw=True)
    evidence.add("results file", out.read_text())
    _record_job(evidence, job, results)
    evidence.assert_clean()


@pytest.mark.parametrize("vendor", VENDORS)
def test_failures_leave_no_key_anywhere(vendor: Vendor, server: Any, evidence: Evidence) -> None:
    app = server.apps[vendor.app_name]

    # the vendor refuses the key (HTTP 401)
    app.api_keys = {"sk-someone-else-entirely-0000"}
    refused = evidence.expect(bk.MissingCredentialsError, lambda: _submit(server, vendor))
    assert vendor.key_env in str(refused)
    app.api_keys = {evidence.canaries[vendor.key_env]}

    # the create call keeps failing (HTTP 500), past every retry
    app.endpoint_faults.add(500, method="POST", path_prefix=vendor.create_path, times=ALWAYS)
    failed = evidence.expect(bk.ProviderError, lambda: _submit(server, vendor))
    assert "HTTP 500" in str(failed)
    app.endpoint_faults.clear()

    # polling keeps failing, past the SDK's retries and batchkit's
    job = _submit(server, vendor)
    app.endpoint_faults.add(500, method="GET", path_prefix=vendor.poll_path, times=ALWAYS,
                            retry_after=0.001)
    evidence.expect(bk.ProviderError, job.wait)
    app.endpoint_faults.clear()
    _record_job(evidence, job)

    # the vendor echoes the key back in an error body: batchkit must mask it
    def echo_the_key(request: Request) -> Response:
        if request.method == "POST" and request.path.rstrip("/") == vendor.create_path:
            sent = request.header("x-api-key") or request.header("Authorization") or ""
            return vendor.error(400, f"key {sent.removeprefix('Bearer ')} is not allowed here")
        return handle(request)

    handle = app.handle
    app.handle = echo_the_key
    try:
        echoed = evidence.expect(bk.ProviderError, lambda: _submit(server, vendor))
    finally:
        app.handle = handle
    assert "key *** is not allowed here" in str(echoed) or "key sk-***" in str(echoed)

    # the vendor rejects the batch (OpenAI: a failed batch; Anthropic refuses at create)
    if vendor is OPENAI:
        app.fail_next_validation("invalid_request", "The batch input file is invalid.")
        rejected = _submit(server, vendor)
        evidence.expect(bk.BatchFailedError, rejected.wait)
        _record_job(evidence, rejected, rejected.results())
    else:
        app.endpoint_faults.add(413, method="POST", path_prefix=vendor.create_path,
                                times=ALWAYS)
        evidence.expect(bk.ProviderError, lambda: _submit(server, vendor))
    assert evidence.raised == 5
    evidence.assert_clean()


def test_the_command_line_prints_no_key(server: Any, evidence: Evidence, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI as a user runs it: keys and base URLs from the environment, no sandbox."""
    for vendor in (OPENAI, ANTHROPIC):
        monkeypatch.setenv(f"{vendor.app_name.upper()}_BASE_URL",
                           server.base_url(vendor.app_name) + vendor.base_suffix)
    path = tmp_path / "questions.jsonl"
    path.write_text("".join(json.dumps({"custom_id": f"q{i}", "messages": [
        {"role": "user", "content": f"question {i}"}]}) + "\n" for i in range(3)))
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        """stdout of a successful command, stderr of a failing one."""
        result = runner.invoke(cli, list(args))
        evidence.add(f"cli {args[0]} stdout", result.stdout)
        evidence.add(f"cli {args[0]} stderr", result.stderr)
        assert result.exit_code == code, (result.output, result.exception)
        return result.stderr if code else result.stdout

    for vendor in (OPENAI, ANTHROPIC):
        job_id = json.loads(run("submit", str(path), "-p", vendor.provider, "--json"))["id"]
        for _ in range(10):
            if json.loads(run("status", job_id, "--json"))["state"] == "completed":
                break
        else:
            pytest.fail(f"{job_id} did not complete")
        run("status", job_id)
        run("results", job_id, "-o", str(tmp_path / f"{vendor.app_name}.jsonl"))
        server.apps[vendor.app_name].api_keys = {"sk-someone-else-entirely-0000"}
        refused = run("submit", str(path), "-p", vendor.provider, code=1)
        assert refused.startswith("error: ") and vendor.key_env in refused
    run("list")
    run("providers")
    run("providers", "--json")
    evidence.assert_clean()


def test_sandbox_mode_never_sends_the_real_key(evidence: Evidence) -> None:
    """In sandbox mode the emulator gets a dummy key, never the one in the environment."""
    seen: list[str] = []
    with emulate(providers=["openai", "anthropic"]) as handle:
        for app in handle.apps.values():
            original = app.handle

            def spy(request: Request, original: Any = original) -> Response:
                seen.append(f"{request.header('Authorization')} {request.header('x-api-key')}")
                return original(request)

            app.handle = spy
        bk.run(_requests(2), OPENAI.provider)
        bk.run(_requests(2), ANTHROPIC.provider)
    assert len(seen) >= 8 and all("sandbox" in headers for headers in seen)
    evidence.add("headers the emulators saw", "\n".join(seen))
    evidence.assert_clean()


def test_the_search_finds_a_key_wherever_it_is(evidence: Evidence) -> None:
    """The control: each place searched does report a key put there, even a piece of one."""
    canary = evidence.canaries[OPENAI.key_env]
    bk.list_jobs()  # creates the store
    (evidence.home / "jobs" / "x").mkdir(parents=True)
    (evidence.home / "jobs" / "x" / "notes.txt").write_text(f"key={canary[-20:]}")
    # a piece of no known shape: log records are redacted (batchkit._redact_logs), and the
    # control is that the search reads them
    logging.getLogger("batchkit.test").debug("sending %s", canary[-20:])
    evidence.add("an exception", f"HTTP 401 for {canary}")
    with pytest.raises(AssertionError) as info:
        evidence.assert_clean()
    report = str(info.value)
    assert "notes.txt" in report and "log records" in report and "an exception" in report


# -- files ------------------------------------------------------------------------------------

def _modes(home: Path) -> dict[str, str]:
    return {str(p.relative_to(home)): oct(stat.S_IMODE(p.stat().st_mode))
            for p in [home, *home.rglob("*")]}


def test_the_store_and_job_files_are_private(server: Any, evidence: Evidence) -> None:
    for vendor in (OPENAI, ANTHROPIC):
        _submit(server, vendor).wait().results()
    home = evidence.home
    modes = _modes(home)
    assert {"jobs.db", "jobs.db-wal", "jobs.db-shm"} <= modes.keys()  # the store is open: WAL
    assert len([p for p in home.rglob("*.jsonl")]) >= 6  # payloads, indexes and result files
    wrong = {name: mode for name, mode in modes.items()
             if mode != ("0o700" if (home / name).is_dir() else "0o600")}
    assert wrong == {}


@pytest.mark.parametrize("host", ["0.0.0.0", "", "::", "192.168.1.10", "example.com"])
def test_the_emulators_bind_loopback_only(host: str) -> None:
    with pytest.raises(ValueError, match="loopback only"):
        serve(host=host, port=0)
    with pytest.raises(ValueError, match="loopback only"):
        EmulatorServer([], host=host)


def test_emulate_listens_on_127_0_0_1() -> None:
    with emulate(providers=["openai"], set_env=False) as handle:
        assert handle.url.startswith("http://127.0.0.1:")


HOSTILE_IDS = ["../../evil", "/tmp/batchkit-evil-absolute", "..\\..\\evil", "a/../../../evil",
               "x" * 400]


@pytest.mark.parametrize("vendor", VENDORS)
def test_ids_from_the_vendor_are_never_paths(vendor: Vendor, server: Any,
                                             tmp_path: Path) -> None:
    """A vendor (or anything between) answering with a hostile batch id cannot make batchkit
    write outside the folder it downloads into."""
    app = server.apps[vendor.app_name]
    job = _submit(server, vendor, 2).wait()
    real_id = job.shards[0].remote_id
    assert real_id is not None
    depth = vendor.poll_path.count("/")  # where the batch id sits in the path
    handle = app.handle

    def answers_for_any_id(request: Request) -> Response:
        parts = request.path.split("/")
        if request.path.startswith(vendor.poll_path) and len(parts) > depth:
            parts[depth] = real_id
            request.path = "/".join(parts)
        return handle(request)

    app.handle = answers_for_any_id
    adapter: Adapter = job._adapter
    for n, hostile in enumerate(HOSTILE_IDS):
        dest = tmp_path / "downloads" / str(n) / "here"
        dest.mkdir(parents=True)
        before = {p for p in tmp_path.rglob("*")}
        paths = adapter.fetch_results(hostile, adapter.poll(hostile), dest)
        assert paths and all(p.parent == dest and p.is_file() for p in paths), paths
        created = {p for p in tmp_path.rglob("*")} - before
        assert created == set(paths)
        assert all(len(p.name) < 255 for p in paths)
    assert not Path("/tmp/batchkit-evil-absolute_output.jsonl").exists()
    assert not Path("/tmp/batchkit-evil-absolute_results.jsonl").exists()


@pytest.mark.parametrize("vendor", VENDORS)
def test_an_id_the_sdk_cannot_put_in_a_url_is_batchkits_error(
    vendor: Vendor, evidence: Evidence
) -> None:
    """The SDKs raise a bare ValueError for these ids, before any request; batchkit's boundary
    maps it (no server needed: nothing is sent)."""
    adapter = make_adapter(vendor.provider, {"base_url": "http://127.0.0.1:9"})
    for unusable in ("..", ".", ""):
        with pytest.raises(bk.ProviderError, match="could not read the batch"):
            adapter.poll(unusable)
        with pytest.raises(bk.ProviderError, match="could not cancel the batch"):
            adapter.cancel(unusable)


# -- nothing downloaded is executed --------------------------------------------------------------

_UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "marshal", "shelve",
                   "joblib"}
_UNSAFE_BUILTINS = {"eval", "exec", "compile"}


def _unsafe(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [
                node.module or ""]
            for name in names:
                if name.split(".")[0] in _UNSAFE_MODULES:
                    yield f"line {node.lineno}: imports {name}"
            if isinstance(node, ast.ImportFrom) and node.module == "yaml" and any(
                a.name != "safe_load" for a in node.names
            ):
                yield f"line {node.lineno}: imports from yaml more than safe_load"
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else (
            func.attr if isinstance(func, ast.Attribute) else "")
        keywords = {k.arg: k.value for k in node.keywords}
        if isinstance(func, ast.Name) and name in _UNSAFE_BUILTINS:  # not re.compile()
            yield f"line {node.lineno}: calls {name}()"
        if name in {"unsafe_load", "full_load", "unsafe_load_all", "read_pickle"}:
            yield f"line {node.lineno}: calls {name}()"
        if name in {"load", "load_all"} and isinstance(func, ast.Attribute) and (
            isinstance(func.value, ast.Name) and func.value.id == "yaml"
        ):
            loader = keywords.get("Loader") or (node.args[1] if len(node.args) > 1 else None)
            if not (isinstance(loader, ast.Attribute) and "Safe" in loader.attr):
                yield f"line {node.lineno}: yaml.{name}() without a SafeLoader"
        allow = keywords.get("allow_pickle")
        if isinstance(allow, ast.Constant) and allow.value is True:
            yield f"line {node.lineno}: allow_pickle=True"


def test_the_checker_finds_what_it_looks_for() -> None:
    bad = ("import pickle\nfrom marshal import loads\neval('1')\nexec('x=1')\n"
           "re.compile('x')\nyaml.load(text)\nyaml.load(text, Loader=yaml.SafeLoader)\n"
           "np.load(f, allow_pickle=True)\nfrom yaml import load\nfrom yaml import safe_load\n")
    lines = sorted(int(p.split(":")[0].removeprefix("line ")) for p in _unsafe(ast.parse(bad)))
    assert lines == [1, 2, 3, 4, 6, 8, 9]


def test_nothing_in_batchkit_unpickles_or_evaluates() -> None:
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 30
    found = [f"{path.relative_to(SRC)} {problem}" for path in files
             for problem in _unsafe(ast.parse(path.read_text(encoding="utf-8")))]
    assert found == []
