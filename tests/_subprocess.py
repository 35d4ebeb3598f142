"""The environment for a test that runs batchkit in a child process."""

from __future__ import annotations

import os
from pathlib import Path


def keyless_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment with no vendor key or token and no sandbox address, and
    ``BATCHKIT_HOME`` at ``home``: a child that works here needs no key, and reaches no
    emulator it did not start (or ask for in ``extra``)."""
    env = {k: v for k, v in os.environ.items()
           if not k.endswith(("_API_KEY", "_API_TOKEN")) and k != "BATCHKIT_SANDBOX"}
    env.update(BATCHKIT_HOME=str(home), **extra)
    return env
