"""The transport errors of the HTTP libraries vendor SDKs are built on.

Why this exists: an SDK wraps connection failures that happen while it *sends* a request in its
own exception, but a failure while the caller *streams* a response body (a download cut off
half way) surfaces as the HTTP library's own error. Adapters catch these as well, so a cut
download becomes a transient ``ProviderError`` that the orchestrator retries, not a traceback.
"""

from __future__ import annotations

import importlib

__all__ = ["TRANSPORT_ERRORS"]


def _transport_errors() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = []
    for name in ("httpx", "httpx2"):  # openai 3.x moved to httpx2; other SDKs still use httpx
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        found.append(module.TransportError)
    return tuple(found)


TRANSPORT_ERRORS = _transport_errors()
"""``except TRANSPORT_ERRORS`` catches a connection lost mid-body in any installed httpx."""
