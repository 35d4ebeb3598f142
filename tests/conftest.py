"""Every test gets its own BATCHKIT_HOME and a clean environment; nothing reaches a network."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


class FakeClock:
    """A clock whose sleep returns at once and advances time, so polling loops run instantly."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "bkhome"
    monkeypatch.setenv("BATCHKIT_HOME", str(home))
    for var in ("BATCHKIT_PROVIDER", "BATCHKIT_SANDBOX", "BATCHKIT_FAKE_KILL_AT", "BATCHKIT_STORE",
                "OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY",
                "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture(autouse=True)
def _secrets_registered_per_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """The credentials a test makes batchkit resolve are forgotten after it: the redactor's
    registry is process-wide, and a key a test invented (``sk-...xxxxxxxx``, a name with
    ``emulator`` in it) would otherwise mask that text in every later test's output."""
    from batchkit import _redact

    monkeypatch.setattr(_redact, "_known", _redact._known)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
