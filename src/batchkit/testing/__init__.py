"""Test helpers that ship with batchkit, because users test their pipelines too.

* :func:`emulate` starts local emulators of the vendors' batch APIs on 127.0.0.1 and points
  batchkit at them (``BATCHKIT_SANDBOX``): real SDKs, no keys, no network.
* The ``fake`` provider (:class:`FakeAdapter`) runs jobs on the local disk with scripted
  statuses and faults, for testing orchestration without any vendor.

``emulate`` is imported on first use: the fake provider lives in this package too, and using it
should not load the emulators' HTTP server and schema machinery.
"""

from typing import Any

from ._fake import FakeAdapter, fake_submissions

__all__ = ["FakeAdapter", "emulate", "fake_submissions"]


def __getattr__(name: str) -> Any:
    if name == "emulate":
        from ._emulate import emulate

        return emulate
    raise AttributeError(f"module 'batchkit.testing' has no attribute {name!r}")
