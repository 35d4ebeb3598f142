"""Bedrock tests: no AWS environment leaks in, and an emulator fixture with small phases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from batchkit.testing import emulate

_AWS_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_BEDROCK", "BATCHKIT_BEDROCK_ROLE_ARN",
            "BATCHKIT_BEDROCK_BUCKET", "BATCHKIT_BEDROCK_MIN_RECORDS")

CLAUDE = "bedrock:anthropic.claude-3-5-haiku-20241022-v1:0"
NOVA = "bedrock:amazon.nova-lite-v1:0"
TITAN = "bedrock:amazon.titan-embed-text-v2:0"


@pytest.fixture(autouse=True)
def _no_aws_environment(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's AWS settings never reach a test: no keys, no profile, no config files,
    no instance-metadata lookups."""
    for var in _AWS_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def handle() -> Iterator[Any]:
    with emulate(providers=["bedrock"]) as h:
        yield h
