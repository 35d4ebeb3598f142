"""How each vendor is reached *outside* sandbox mode against its emulator, for the canary test.

Outside sandbox mode an adapter takes its credentials from the environment (or the SDK's own
chain), so what reaches the emulator is the canary; each setup says which options point the
SDK at the emulator and which header value shows the canary was really sent.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from batchkit.testing._server import Request, Response, json_response

if TYPE_CHECKING:
    from .test_canary_keys import Canaries

Prepare = Callable[[Any, pytest.MonkeyPatch, "Canaries", Path], dict[str, str]]


@dataclass(frozen=True)
class Setup:
    provider: str
    prepare: Prepare
    sent: Callable[[Canaries], str]
    """A value that the requests' headers must hold: the canary was what the SDK sent."""
    skip: Callable[[Request], bool] = lambda request: False
    """Requests an armed echo lets through (an OAuth token exchange)."""
    also_holds: tuple[str, ...] = ()
    """Credentials the vendor holds beyond its adapter's ``credential_env``."""


def _base_url(app: str, suffix: str = "", option: str = "base_url") -> Prepare:
    def prepare(handle: Any, patch: pytest.MonkeyPatch, canaries: Canaries,
                tmp: Path) -> dict[str, str]:
        return {option: handle.base_url(app) + suffix}

    return prepare


def _key(variable: str) -> Callable[[Canaries], str]:
    return lambda canaries: canaries.values[variable]


def _bedrock(handle: Any, patch: pytest.MonkeyPatch, canaries: Canaries,
             tmp: Path) -> dict[str, str]:
    """AWS keys and session token from the environment, as boto3 finds them; the per-job
    minimum of 100 records lowered to 1 on both sides (the quota has tests of its own)."""
    patch.setenv("BATCHKIT_BEDROCK_MIN_RECORDS", "1")
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        patch.delenv(name, raising=False)
    patch.setenv("AWS_CONFIG_FILE", str(tmp / "no-aws-config"))
    patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp / "no-aws-credentials"))
    handle.apps["bedrock"].min_records = 1
    return {"endpoint_url": handle.base_url("bedrock"), "s3_endpoint_url": handle.base_url("s3"),
            "role_arn": "arn:aws:iam::123456789012:role/batchkit-canary",
            "bucket": "batchkit-sandbox", "region": "us-east-1"}


_TOKEN_PATH = "/oauth2/token"


def _vertex(handle: Any, patch: pytest.MonkeyPatch, canaries: Canaries,
            tmp: Path) -> dict[str, str]:
    """Application default credentials of a service account (a fresh RSA key) whose token
    exchange is served beside the emulator: its private key id, its key and the access token
    it is handed are all canaries."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    body = "".join(line for line in pem.splitlines() if "-----" not in line)
    canaries.add("google private key", body, body)
    for name, prefix in (("google access token", "ya29.a0"), ("google private key id", "")):
        tail = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))
        canaries.add(name, prefix + tail, tail)
    adc = tmp / "service-account.json"
    adc.write_text(json.dumps({
        "type": "service_account", "project_id": "batchkit-canary",
        "private_key_id": canaries.values["google private key id"], "private_key": pem,
        "client_email": "canary@batchkit-canary.iam.gserviceaccount.com",
        "client_id": "1234567890", "token_uri": handle.base_url("vertex") + _TOKEN_PATH}))
    patch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    patch.setenv("GOOGLE_CLOUD_PROJECT", "batchkit-canary")
    patch.setenv("BATCHKIT_GCS_BUCKET", "batchkit-sandbox")
    patch.setenv("STORAGE_EMULATOR_HOST", handle.base_url("gcs"))
    app = handle.apps["vertex"]
    original = app.handle

    def handle_with_tokens(request: Request) -> Response:
        if request.path.endswith(_TOKEN_PATH):
            return json_response({"access_token": canaries.values["google access token"],
                                  "expires_in": 3600, "token_type": "Bearer"})
        return original(request)  # type: ignore[no-any-return]

    app.handle = handle_with_tokens
    return {"api_endpoint": handle.base_url("vertex"), "timeout": "20"}


SETUPS: dict[str, Setup] = {
    "openai": Setup("openai:gpt-4o-mini", _base_url("openai", "/v1"), _key("OPENAI_API_KEY")),
    "anthropic": Setup("anthropic:claude-haiku-4-5", _base_url("anthropic"),
                       _key("ANTHROPIC_API_KEY")),
    "azure": Setup("azure:gpt-4o-mini", _base_url("azure", option="endpoint"),
                   _key("AZURE_OPENAI_API_KEY")),
    "bedrock": Setup("bedrock:anthropic.claude-3-5-haiku-20241022-v1:0", _bedrock,
                     _key("AWS_ACCESS_KEY_ID"), also_holds=("AWS_SESSION_TOKEN",)),
    "cohere": Setup("cohere:command-r-08-2024", _base_url("cohere"), _key("CO_API_KEY")),
    "gemini": Setup("gemini:gemini-2.5-flash", _base_url("gemini"), _key("GOOGLE_API_KEY")),
    "groq": Setup("groq:llama-3.1-8b-instant", _base_url("groq"), _key("GROQ_API_KEY")),
    "mistral": Setup("mistral:mistral-small-latest", _base_url("mistral"),
                     _key("MISTRAL_API_KEY")),
    "together": Setup("together:openai/gpt-oss-20b", _base_url("together"),
                      _key("TOGETHER_API_KEY")),
    "vertex": Setup("vertex:gemini-2.5-flash", _vertex,
                    lambda canaries: canaries.values["google access token"],
                    skip=lambda request: request.path.endswith(_TOKEN_PATH),
                    also_holds=("google access token", "google private key id",
                                "google private key")),
}
