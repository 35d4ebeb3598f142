"""API keys for SDK-based adapters: where they come from, and keeping them out of messages.

Every vendor SDK takes a key the same way and echoes it (or part of it) in some error bodies,
so each adapter resolves its key and cleans vendor text with these functions rather than its
own copy. Each credential resolved here is registered with :mod:`batchkit._redact`, and the log
redaction is installed, as the adapter builds its client: from then on no error, repr, CLI line
or log record batchkit produces shows any 6-character piece of it.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from .. import _redact, _redact_logs
from .._exceptions import MissingCredentialsError
from .base import sandbox_url

__all__ = ["api_key", "redact", "register_aws_session", "register_google_credentials"]

SANDBOX_KEY = "sandbox"


def api_key(provider: str, env_var: str, vendor: str) -> str:
    """The key to send: a dummy in sandbox mode (a real key never reaches an emulator), else
    ``env_var``; a missing key is a :class:`MissingCredentialsError` naming the variable."""
    _redact_logs.install()
    if sandbox_url(provider):
        return SANDBOX_KEY
    key = os.environ.get(env_var)
    if not key:
        raise MissingCredentialsError(
            f"no {vendor} API key: set the {env_var} environment variable"
        )
    _redact.register_secret(key)
    return key


def register_aws_session(session: Any) -> None:
    """Register the AWS credentials a boto3 session resolved (environment, profile or role):
    access key id, secret access key and session token; and install the log redaction."""
    _redact_logs.install()
    credentials = session.get_credentials()
    if credentials is not None:
        frozen = credentials.get_frozen_credentials()
        _redact.register_secrets([frozen.access_key, frozen.secret_key, frozen.token])


def register_google_credentials(credentials: Any) -> None:
    """Register what Google application default credentials hold: the service account's
    private key id and key, or a user's client secret and refresh token; and install the log
    redaction. Access tokens are fetched later, by the SDK: each is registered as it arrives."""
    _redact_logs.install()
    refresh = getattr(credentials, "refresh", None)
    if callable(refresh) and not getattr(refresh, "_batchkit_registers", False):

        def refresh_and_register(request: Any) -> None:
            refresh(request)
            _redact.register_secret(getattr(credentials, "token", None))

        refresh_and_register._batchkit_registers = True  # type: ignore[attr-defined]
        credentials.refresh = refresh_and_register
    values = [getattr(credentials, name, None)
              for name in ("token", "refresh_token", "client_secret", "private_key_id")]
    path = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                info = json.load(fh)
        except (OSError, ValueError):
            info = {}
        if isinstance(info, dict):
            values += [info.get(name) for name in (
                "private_key_id", "client_secret", "refresh_token")]
            pem = info.get("private_key")
            if isinstance(pem, str):  # the base64 lines; the BEGIN/END lines are no secret
                values += [line for line in pem.splitlines() if "-----" not in line]
    _redact.register_secrets(v for v in values if isinstance(v, str))


def redact(text: str, key: str | None, key_shape: re.Pattern[str], mask: str) -> str:
    """``text`` with the key, and anything shaped like a key of this vendor, masked; then
    through batchkit's redactor (every registered credential and the known key shapes).

    Keys shorter than 8 characters are not searched for: masking every "abc" in a message
    would hide more than it protects.
    """
    if key and len(key) >= 8:
        text = text.replace(key, "***")
    return _redact.redact(key_shape.sub(mask, text))
