"""Fixtures of the reliability tests that span more than one module.

The bad-input tests (``test_bad_input_api.py``, ``test_bad_input_files.py``) share the OpenAI
and Anthropic emulators in sandbox mode and a scratch folder; their checks live in
``_bad_input.py``. The secrets tests (``test_secrets_canary.py``, ``test_secrets_files.py``)
share a canary key in every key variable (``evidence``) and emulators outside sandbox mode that
accept only those canaries (``server``); their helpers live in ``_canary.py``. pytest rewrites
the asserts of both helper modules, so a failing check explains itself as it did when it sat in
its test module.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.register_assert_rewrite("tests.reliability._bad_input", "tests.reliability._canary")

from batchkit.testing import emulate  # noqa: E402

from ._bad_input import Ctx  # noqa: E402
from ._canary import ANTHROPIC, OPENAI, Evidence, _key_variables  # noqa: E402

# -- bad input ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def _server() -> Iterator[Any]:
    with emulate(providers=["openai", "anthropic"], set_env=False) as handle:
        yield handle


@pytest.fixture
def emulators(_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The shared emulators, with batchkit pointed at them for this test (sandbox mode)."""
    monkeypatch.setenv("BATCHKIT_SANDBOX", _server.url)
    return _server


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ctx:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return Ctx(scratch, monkeypatch)


# -- secrets ------------------------------------------------------------------------------


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
