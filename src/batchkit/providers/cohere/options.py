"""The Cohere adapter's options, read and checked once when the adapter is made.

Apart from the adapter so its I/O stays readable: these are the Embed Jobs settings a caller
may give (``options={...}`` / ``-s key=value``), each refused in one line when malformed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..._exceptions import ConfigError
from .codec import EMBEDDING_DTYPES

__all__ = ["OPTION_NAMES", "EmbedJobSettings"]

INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")
OPTION_NAMES = frozenset({
    "embedding_types", "input_type", "keep_fields", "optional_fields", "send_metadata",
    "truncate", "validation_timeout",
})


@dataclass(frozen=True)
class EmbedJobSettings:
    """What every embed job of the adapter is created with."""

    input_type: str
    embedding_types: list[str]
    truncate: str | None
    keep: list[str]
    optional: list[str]
    send_metadata: bool

    @classmethod
    def from_options(cls, opts: Mapping[str, Any]) -> EmbedJobSettings:
        input_type = opts.get("input_type", "search_document")
        if input_type not in INPUT_TYPES:
            raise ConfigError(f"cohere option input_type must be one of {INPUT_TYPES}, "
                              f"not {input_type!r}")
        embedding_types = list(opts.get("embedding_types") or ["float"])
        unknown = [t for t in embedding_types if t not in EMBEDDING_DTYPES]
        if unknown:
            raise ConfigError(f"cohere option embedding_types: {unknown[0]!r} is not one of "
                              f"{', '.join(EMBEDDING_DTYPES)}")
        truncate = opts.get("truncate")
        if truncate not in (None, "START", "END"):
            raise ConfigError(f"cohere option truncate must be 'START' or 'END', "
                              f"not {truncate!r}")
        keep, optional = _names(opts, "keep_fields"), _names(opts, "optional_fields")
        send_metadata = bool(opts.get("send_metadata", True))
        if keep and not send_metadata:
            raise ConfigError("cohere options keep_fields and send_metadata=False conflict")
        return cls(input_type, embedding_types, truncate, keep, optional, send_metadata)


def _names(options: Mapping[str, Any], key: str) -> list[str]:
    value = options.get(key) or []
    names = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(n, str) for n in names):
        raise ConfigError(f"cohere option {key} must be a list of field names")
    return names
