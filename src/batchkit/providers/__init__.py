"""Provider adapters. This package imports no vendor SDK; each adapter module does, lazily."""

from .base import Adapter, Limits, LineError, RemoteStatus, ShardInput

__all__ = ["Adapter", "Limits", "LineError", "RemoteStatus", "ShardInput"]
