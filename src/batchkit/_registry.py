"""Provider name -> adapter class: a table, lazy imports, entry points, helpful errors.

Importing batchkit never imports a vendor SDK. An adapter module is imported the first time its
provider is used; if its SDK is missing the error says which extra to install. Third-party
adapters register under the ``batchkit.providers`` entry-point group (``name = "pkg.mod:Class"``)
or at run time with :func:`register_provider`.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

from ._exceptions import ConfigError, MissingDependencyError, UnknownProviderError
from ._redact import register_env
from .providers.base import Adapter

__all__ = [
    "ProviderSpec",
    "available_providers",
    "get_adapter_class",
    "input_format",
    "input_formats",
    "make_adapter",
    "parse_provider",
    "register_provider",
    "sdk_modules",
]


@dataclass(frozen=True)
class ProviderSpec:
    """Where a provider's adapter lives and which extra installs its SDK."""

    target: str
    """``module:Class`` of the adapter."""
    extra: str | None
    """The ``batchkit[extra]`` that installs the vendor SDK (None: nothing to install)."""
    sdk: str | None
    """Top-level module of the vendor SDK, to tell 'not installed' from other import errors."""


# Alphabetical; a test keeps it so. Only providers whose adapter exists are listed.
_BUILTIN: dict[str, ProviderSpec] = {
    "anthropic": ProviderSpec(
        "batchkit.providers.anthropic.adapter:AnthropicAdapter", "anthropic", "anthropic"
    ),
    "azure": ProviderSpec("batchkit.providers.azure.adapter:AzureAdapter", "openai", "openai"),
    "bedrock": ProviderSpec("batchkit.providers.bedrock.adapter:BedrockAdapter", "aws", "boto3"),
    "cohere": ProviderSpec("batchkit.providers.cohere.adapter:CohereAdapter", "cohere", "cohere"),
    "fake": ProviderSpec("batchkit.testing._fake:FakeAdapter", None, None),
    "gemini": ProviderSpec(
        "batchkit.providers.gemini.adapter:GeminiAdapter", "google", "google.genai"
    ),
    "groq": ProviderSpec("batchkit.providers.groq.adapter:GroqAdapter", "groq", "groq"),
    "mistral": ProviderSpec(
        "batchkit.providers.mistral.adapter:MistralAdapter", "mistral", "mistralai"
    ),
    "openai": ProviderSpec("batchkit.providers.openai.adapter:OpenAIAdapter", "openai", "openai"),
    "together": ProviderSpec(
        "batchkit.providers.together.adapter:TogetherAdapter", "together", "together"
    ),
    "vertex": ProviderSpec(
        "batchkit.providers.vertex.adapter:VertexAdapter", "google", "google.cloud.aiplatform_v1"
    ),
}

_registered: dict[str, type[Adapter] | str] = {}

# Native batch INPUT formats: name -> reader module (contract: providers/_reader_kit.py).
# Detection asks each in this order; their looks_like tell formats apart by top-level keys.
_READERS: dict[str, str] = {
    "openai": "batchkit.providers.openai.reader",
    "anthropic": "batchkit.providers.anthropic.reader",
    "bedrock": "batchkit.providers.bedrock.reader",
    "gemini": "batchkit.providers.gemini.reader",
    "vertex": "batchkit.providers.vertex.reader",
    "mistral": "batchkit.providers.mistral.reader",
    "cohere": "batchkit.providers.cohere.reader",
}
# Vendors whose batch files are another's format (the same reader reads them).
_READER_ALIASES = {"azure": "openai", "groq": "openai", "together": "mistral"}


def input_format(name: str) -> tuple[str, ModuleType]:
    """``(format, reader module)`` for a vendor name (its own format, or the one it shares)."""
    canonical = _READER_ALIASES.get(name, name)
    target = _READERS.get(canonical)
    module = _load_reader(target) if target else None
    if module is None:
        known = ", ".join(sorted({*_READERS, *_READER_ALIASES}))
        raise ConfigError(f"no reader for {name!r} batch files (readers: {known})")
    return canonical, module


def input_formats() -> Iterator[tuple[str, ModuleType]]:
    """Every native input format whose reader is present, in detection order."""
    for name, target in _READERS.items():
        module = _load_reader(target)
        if module is not None:
            yield name, module


def _load_reader(target: str) -> ModuleType | None:
    """The reader module, or None while a vendor has none yet (a module not written)."""
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name == target:
            return None
        raise


def register_provider(name: str, adapter: type[Adapter] | str, *, clobber: bool = False) -> None:
    """Make ``name`` resolve to ``adapter`` (a class or a ``module:Class`` string)."""
    if not clobber and (name in _registered or name in _BUILTIN):
        raise ConfigError(f"provider {name!r} is already registered (pass clobber=True)")
    _registered[name] = adapter


@cache
def _entry_point_targets() -> dict[str, str]:
    """The plug-ins' adapters, read once per process: reading them opens every installed
    distribution's metadata (tens of ms), and codecs ask for the provider names per request
    (to tell a vendor's ``params`` scope from a field)."""
    return {ep.name: ep.value for ep in entry_points(group="batchkit.providers")}


def _known_names() -> list[str]:
    return sorted({*_BUILTIN, *_registered, *_entry_point_targets()})


def parse_provider(value: str) -> tuple[str, str]:
    """Split ``"name:model"``. The model is required; batchkit never guesses the vendor."""
    name, sep, model = value.partition(":")
    if not sep or not name or not model:
        hint = ""
        close = difflib.get_close_matches(value, _known_names(), n=1)
        if close:
            hint = f" (e.g. '{close[0]}:MODEL')"
        elif not sep:
            hint = " (e.g. 'openai:gpt-4o-mini')"
        raise ConfigError(f"provider must be 'name:model', got {value!r}{hint}")
    get_adapter_class(name)  # fail early on unknown names
    return name, model


def _load(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _names_missing_sdk(missing: str, sdk: str) -> bool:
    """True when the module an ImportError names is the SDK, a parent of it or a part of it.

    Dotted SDKs (``google.genai``) matter: a missing ``google`` or ``google.genai`` both mean
    the extra is not installed.
    """
    return missing == sdk or sdk.startswith(missing + ".") or missing.startswith(sdk + ".")


@cache
def _sdk_installed(sdk: str) -> bool:
    """Whether ``sdk`` can be imported, looked up once per process (``available_providers``
    runs per request in the codecs that scope ``params``)."""
    try:
        return importlib.util.find_spec(sdk) is not None
    except ModuleNotFoundError:  # a dotted name whose parent package is absent
        return False


def get_adapter_class(name: str) -> type[Adapter]:
    """The adapter class for provider ``name``, imported on first use."""
    if name in _registered:
        found = _registered[name]
        return _load(found) if isinstance(found, str) else found
    spec = _BUILTIN.get(name)
    if spec is None:
        target = _entry_point_targets().get(name)
        if target is None:
            close = difflib.get_close_matches(name, _known_names(), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = ", ".join(_known_names())
            raise UnknownProviderError(f"unknown provider {name!r}{hint} (known: {known})")
        return _load(target)  # type: ignore[no-any-return]
    try:
        return _load(spec.target)  # type: ignore[no-any-return]
    except ImportError as exc:
        if spec.sdk and exc.name and _names_missing_sdk(exc.name, spec.sdk):
            raise MissingDependencyError(
                f"provider {name!r} needs the {spec.sdk} SDK: "
                f'pip install "batchkit[{spec.extra}]"'
            ) from None
        raise


def make_adapter(provider: str, options: dict[str, Any] | None = None) -> Adapter:
    """Build the adapter for a ``name:model`` string."""
    name, model = parse_provider(provider)
    cls = get_adapter_class(name)
    register_env(cls.credential_env)  # whatever the SDK reads, never shown (batchkit._redact)
    return cls(model, options)


def sdk_modules() -> list[str]:
    """The modules of the built-in vendors' SDKs (for cleaning their log records)."""
    return sorted({spec.sdk for spec in _BUILTIN.values() if spec.sdk is not None})


def available_providers() -> list[tuple[str, bool, str | None]]:
    """``(name, installed, extra)`` for every known provider."""
    rows = []
    for name in _known_names():
        spec = _BUILTIN.get(name)
        installed = True
        if spec and spec.sdk:
            installed = _sdk_installed(spec.sdk)
        rows.append((name, installed, spec.extra if spec else None))
    return rows
