"""Start every vendor emulator on one loopback server and point batchkit at it.

Why one entry point: a test (or the README's no-key walkthrough) should not need to know which
vendors have emulators or how they are mounted. ``emulate()`` mounts all of them, exports
``BATCHKIT_SANDBOX=<url>`` so batchkit's adapters aim their SDKs at the server, and hands back the
apps so the test can arm faults and read counters. Vendor modules are imported lazily from a table,
so adding a vendor is one line and an emulator's dependencies load only when it is used.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from batchkit.testing._clock import EmulatorClock
from batchkit.testing._server import (
    LOOPBACK_HOSTS,
    AppFactory,
    EmulatorApp,
    EmulatorServer,
)

SANDBOX_ENV = "BATCHKIT_SANDBOX"
# provider name -> "module:factory"; each factory takes the shared clock and returns an app (or
# the app and the storage service it reads and writes, e.g. Vertex with Cloud Storage).
EMULATOR_APPS: dict[str, str] = {
    "anthropic": "batchkit.testing.emulators.anthropic.routes:create_app",
    "azure": "batchkit.testing.emulators.azure.routes:create_app",
    "bedrock": "batchkit.testing.emulators.bedrock.routes:create_app",
    "cohere": "batchkit.testing.emulators.cohere.routes:create_app",
    "gemini": "batchkit.testing.emulators.gemini.routes:create_app",
    "groq": "batchkit.testing.emulators.groq.routes:create_app",
    "mistral": "batchkit.testing.emulators.mistral.routes:create_app",
    "openai": "batchkit.testing.emulators.openai.routes:create_app",
    "together": "batchkit.testing.emulators.together.routes:create_app",
    "vertex": "batchkit.testing.emulators.vertex.routes:create_app",
}


@dataclass
class EmulatorHandle:
    """What ``emulate()`` yields: the server's URL, the shared clock and the apps by name."""

    url: str
    clock: EmulatorClock
    apps: dict[str, Any]
    server: EmulatorServer

    def base_url(self, provider: str) -> str:
        """The URL prefix a vendor SDK uses for ``provider`` (e.g. ``<url>/openai``)."""
        if provider not in self.apps:
            raise KeyError(f"no emulator for {provider!r}; available: {sorted(self.apps)}")
        return f"{self.url}/{provider}"


def load_apps(clock: EmulatorClock, providers: list[str] | None = None) -> list[EmulatorApp]:
    """Instantiate the emulator apps for ``providers`` (default: all of them)."""
    apps = []
    for name in providers or list(EMULATOR_APPS):
        if name not in EMULATOR_APPS:
            raise KeyError(f"no emulator for {name!r}; available: {sorted(EMULATOR_APPS)}")
        module_name, _, factory_name = EMULATOR_APPS[name].partition(":")
        factory = cast(AppFactory, getattr(importlib.import_module(module_name), factory_name))
        made = factory(clock)
        apps.extend(made if isinstance(made, list) else [made])
    return apps


@contextmanager
def emulate(
    *,
    auto: bool = True,
    providers: list[str] | None = None,
    port: int = 0,
    set_env: bool = True,
) -> Iterator[EmulatorHandle]:
    """Run the emulators for the duration of a ``with`` block.

    ``auto=True`` moves a batch one status step per poll, so code that polls until done finishes
    without the test touching the clock; pass ``auto=False`` to drive ``handle.clock`` by hand.
    ``BATCHKIT_SANDBOX`` is restored to its previous value (or removed) on exit.
    """
    clock = EmulatorClock(auto=auto)
    server = EmulatorServer(load_apps(clock, providers), port=port)
    previous = os.environ.get(SANDBOX_ENV)
    server.start()
    try:
        if set_env:
            os.environ[SANDBOX_ENV] = server.url
        yield EmulatorHandle(server.url, clock, dict(server.apps), server)
    finally:
        server.stop()
        if set_env:
            if previous is None:
                os.environ.pop(SANDBOX_ENV, None)
            else:
                os.environ[SANDBOX_ENV] = previous


_process_server: EmulatorServer | None = None
_process_lock = threading.Lock()


def process_sandbox_url() -> str:
    """The address of emulators started once for this whole process (``BATCHKIT_SANDBOX=1``).

    For a script or an example run with no keys: no ``with emulate()`` block to write, no
    server to start beside it. The emulators live as long as the process (their thread is a
    daemon), so a job they ran cannot be resumed from another process; point both processes at
    a ``batchkit emulator`` for that.
    """
    global _process_server
    with _process_lock:
        if _process_server is None:
            _process_server = EmulatorServer(load_apps(EmulatorClock(auto=True))).start()
        return _process_server.url


def serve(host: str = "127.0.0.1", port: int = 8765, *, auto: bool = True) -> None:
    """Serve every emulator in the foreground until interrupted (``batchkit emulator``).

    The process outlives its clients, which crash-and-resume tests need. Loopback only: the
    emulators accept any key and must not be reachable from another machine.
    """
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"the emulator binds loopback only, not {host!r}")
    clock = EmulatorClock(auto=auto)
    server = EmulatorServer(load_apps(clock), host=host, port=port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
