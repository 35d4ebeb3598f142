"""Where batchkit keeps its files, and which provider a job uses when none is named.

Resolution order for the provider: the ``provider=`` argument, then ``profile=`` (a
``[profiles.NAME]`` table), then ``BATCHKIT_PROVIDER``, then ``[default]`` in ``batchkit.toml``.
The file is looked up in the working directory, then in ``BATCHKIT_HOME``. A table looks like::

    [default]
    provider = "openai:gpt-4o-mini"

    [profiles.cheap]
    provider = "gemini:gemini-2.5-flash"
    options = { completion_window = "24h" }

    [limits."openai:gpt-4o-mini"]      # the account's limits for one provider:model
    enqueued_tokens = 2_000_000
    rpm = 500                           # real-time requests and tokens per minute
    tpm = 200_000

A ``[limits."provider:model"]`` table applies to every job on that provider and model; its
values reach the job as options, which a profile's or the call's options override.

Credentials never live here: adapters read the vendors' usual environment variables.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._exceptions import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["ResolvedProvider", "batchkit_home", "load_config", "resolve_provider"]

CONFIG_NAME = "batchkit.toml"
_LIMIT_KEYS = frozenset({"enqueued_tokens", "rpm", "tpm", "concurrency"})
"""What a ``[limits]`` table may set (see ``_queue``; ``rpm`` / ``tpm`` / ``concurrency`` for
real-time calls, see ``_ratelimit``)."""


def batchkit_home() -> Path:
    """``BATCHKIT_HOME`` or ``~/.batchkit``, created private to the user."""
    home = Path(os.environ.get("BATCHKIT_HOME") or Path.home() / ".batchkit")
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    return home


def _config_path() -> Path | None:
    for candidate in (Path.cwd() / CONFIG_NAME, batchkit_home() / CONFIG_NAME):
        if candidate.is_file():
            return candidate
    return None


def load_config() -> dict[str, Any]:
    """The parsed ``batchkit.toml``, or an empty dict when there is none."""
    path = _config_path()
    if path is None:
        return {}
    try:
        with open(path, "rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
            return data
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


@dataclass(frozen=True)
class ResolvedProvider:
    """A provider string and the adapter options that go with it."""

    provider: str
    options: dict[str, Any] = field(default_factory=dict)


def resolve_provider(
    provider: str | None = None,
    profile: str | None = None,
    options: dict[str, Any] | None = None,
) -> ResolvedProvider:
    """Pick the provider (and its options) for a job, per the order in the module docstring."""
    config = load_config()
    table: dict[str, Any] = {}
    if profile is not None:
        profiles = config.get("profiles", {})
        if profile not in profiles:
            known = ", ".join(sorted(profiles)) or "none defined"
            raise ConfigError(f"no profile {profile!r} in {CONFIG_NAME} (profiles: {known})")
        table = profiles[profile]
    elif provider is None and not os.environ.get("BATCHKIT_PROVIDER"):
        table = config.get("default", {})
    chosen = provider or table.get("provider") or os.environ.get("BATCHKIT_PROVIDER")
    if not chosen:
        raise ConfigError(
            "no provider given: pass provider='name:model', set BATCHKIT_PROVIDER, "
            f"or add [default] provider = ... to {CONFIG_NAME}"
        )
    merged = {**_limits(config, str(chosen)), **table.get("options", {}), **(options or {})}
    return ResolvedProvider(str(chosen), merged)


def _limits(config: dict[str, Any], provider: str) -> dict[str, Any]:
    """The ``[limits."provider:model"]`` table for ``provider``; a misspelt key is an error
    rather than a limit silently not applied."""
    table = config.get("limits", {}).get(provider, {})
    unknown = sorted(set(table) - _LIMIT_KEYS)
    if unknown:
        raise ConfigError(f'[limits."{provider}"] in {CONFIG_NAME}: unknown key(s) '
                          f"{', '.join(unknown)}; allowed: {', '.join(sorted(_LIMIT_KEYS))}")
    return dict(table)
