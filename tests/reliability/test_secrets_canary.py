"""Secrets: a key never reaches the store, files, logs, output, reprs or errors.

Real jobs run against the emulators *outside* sandbox mode, with each emulator accepting only
its canary key (see ``_canary.py``). Jobs succeed, fail per request, are refused (HTTP 401), hit
server errors (HTTP 500), are rejected by the vendor, and meet a vendor that echoes the key back
in an error. Afterwards every file under ``$BATCHKIT_HOME`` (the store and its WAL included),
every log record down to DEBUG, the CLI's stdout and stderr, the reprs of jobs, adapters and
results, and the full traceback of every exception raised are searched for the canary and for
any 16-character piece of its random part. A control shows the search finds a key put there.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import batchkit as bk
from batchkit.cli import cli
from batchkit.testing import emulate
from batchkit.testing._server import Request, Response

from ._canary import (
    ALWAYS,
    ANTHROPIC,
    OPENAI,
    VENDORS,
    Evidence,
    Vendor,
    _record_job,
    _requests,
    _submit,
)

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


