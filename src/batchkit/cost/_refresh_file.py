"""Where ``batchkit prices --refresh`` keeps its rows, and reading them back.

Its own module because two sides need it and neither should need the other: the catalog
loader lays these rows over the shipped snapshot, and the refresh planner, which reads the
catalog to compare against, writes them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .._config import batchkit_home
from .._exceptions import ConfigError

__all__ = ["REFRESH_FILE", "refresh_path", "refreshed_rows"]

REFRESH_FILE = "prices-refresh.json"


def refresh_path() -> Path:
    return batchkit_home() / REFRESH_FILE


def refreshed_rows() -> dict[str, dict[str, Any]]:
    """The override file's rows, or nothing when there is no refresh."""
    path = refresh_path()
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        models = json.loads(raw)["models"]
        if not isinstance(models, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"{path} is damaged; run `batchkit prices --clear-refresh` and "
                          "refresh again") from None
    return models
