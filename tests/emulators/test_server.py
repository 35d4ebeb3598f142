"""The vendor-neutral server framework: routing, loopback-only binding, multipart, environment."""

from __future__ import annotations

import os

import httpx
import pytest

from batchkit.testing._clock import EmulatorClock
from batchkit.testing._emulate import SANDBOX_ENV, emulate
from batchkit.testing._server import (
    EmulatorServer,
    MultipartError,
    parse_multipart,
)


def test_refuses_non_loopback_hosts() -> None:
    with pytest.raises(ValueError, match="loopback"):
        EmulatorServer([], host="0.0.0.0")


def test_unknown_mount_is_404_and_env_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SANDBOX_ENV, "previous")
    with emulate() as handle:
        assert os.environ[SANDBOX_ENV] == handle.url
        assert handle.url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{handle.url}/nobody/v1/x").status_code == 404
        assert handle.base_url("openai") == f"{handle.url}/openai"
    assert os.environ[SANDBOX_ENV] == "previous"


def test_multipart_parsing_is_binary_safe() -> None:
    request = httpx.Request("POST", "http://x/", data={"purpose": "batch"},
                            files={"file": ("a.jsonl", b"\x00\r\n--not-a-boundary\xff")})
    body = request.read()
    parts = parse_multipart(request.headers["Content-Type"], body)
    assert parts["purpose"].text() == "batch"
    assert parts["file"].filename == "a.jsonl"
    assert parts["file"].data == b"\x00\r\n--not-a-boundary\xff"
    with pytest.raises(MultipartError):
        parse_multipart("application/json", body)


def test_clock_modes() -> None:
    manual = EmulatorClock(start=100)
    manual.reach(500)
    assert manual.now() == 100
    assert manual.advance(5) == 105
    with pytest.raises(ValueError):
        manual.advance(-1)
    auto = EmulatorClock(auto=True, start=100)
    auto.reach(500)
    auto.reach(200)
    assert auto.now() == 500
