"""Mistral tests never see a real key or the SDK's opt-in telemetry, whatever the shell holds."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_mistral_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("MISTRAL_API_KEY", "MISTRAL_SDK_TELEMETRY", "MISTRAL_SA_TOKEN_PATH"):
        monkeypatch.delenv(var, raising=False)
