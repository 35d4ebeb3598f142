"""The one place credentials are taken out of text: error messages, reprs, CLI lines, log records.

Why one place: a key leaks through whatever text batchkit did not think to clean, and vendors
echo keys in several forms (whole, ``sk-abc****wxyz``, ``...wxyz``, inside signed headers). So
every credential batchkit resolves is *registered* here (:func:`register_secret`) and every text
that leaves batchkit passes through :func:`redact`, which removes

- any run of 6 or more characters that also occurs in a registered secret (the whole key, a
  masked prefix, a suffix: every form a vendor or an SDK uses shows at least that much), and
- the known key shapes, registered or not: ``sk-...``, ``sk-ant-...``, ``AKIA...``/``ASIA...``,
  ``AIza...``, ``ya29....`` tokens, bearer/basic credentials and the ``Credential=`` and
  ``Signature=`` parts of AWS signed headers.

Exceptions are cleaned in place (:func:`redact_exception`: args, string attributes, notes, and
the whole ``__cause__``/``__context__`` chain), so ``traceback.print_exc()`` shows no key; log
records are cleaned by :mod:`batchkit._redact_logs`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
from collections.abc import Iterable
from typing import Any

__all__ = ["MASK", "redact", "redact_exception", "redact_value", "register_env",
           "register_secret", "register_secrets"]

MASK = "***"
FRAGMENT = 6
"""The shortest run of a secret that is removed: shorter pieces (a last four) identify a key
for its owner but cannot be used to rebuild it."""
SHORTEST_SECRET = 8
"""Shorter values are not secrets worth the false hits (a dummy key such as ``sandbox``)."""

@functools.cache
def _shapes() -> tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...]:
    """The key shapes, compiled on first use (``import batchkit`` stays fast): for each, the
    words one of which the lower-cased text holds when the shape can match (a cheap ``in``
    test spares a regex scan of every long text for every shape), the shape and its mask."""
    return (
        (("bearer", "basic"), re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/\-]{8,}=*"),
         rf"\1\2{MASK}"),
        (("credential=",), re.compile(r"(?i)\b(credential=)[^\s,'\"]+"), rf"\1{MASK}"),
        (("signature=",), re.compile(r"(?i)\b(signature=)[0-9a-f]{16,}"), rf"\1{MASK}"),
        (("api-key", "x-amz-security-token"),
         re.compile(r"(?i)\b((?:x-api-key|api-key|x-goog-api-key|x-amz-security-token)['\"]?"
                    r"\s*[:=]\s*b?['\"]?)[A-Za-z0-9._~+/\-]{8,}=*"), rf"\1{MASK}"),
        (("sk-ant-",), re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{8,}"), f"sk-ant-{MASK}"),
        (("sk-",), re.compile(r"\bsk-[A-Za-z0-9_\-]{12,}"), f"sk-{MASK}"),
        (("akia", "asia"), re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{12,}"), rf"\1{MASK}"),
        (("aiza",), re.compile(r"\bAIza[0-9A-Za-z_\-]{20,}"), f"AIza{MASK}"),
        (("ya29.",), re.compile(r"\bya29\.[0-9A-Za-z_\-.]{10,}"), f"ya29.{MASK}"),
    )


class _Known:
    """An immutable snapshot of the registered secrets, swapped whole on each registration so
    :func:`redact` reads it without a lock."""

    def __init__(self, secrets: frozenset[str]) -> None:
        self.secrets = secrets
        self.fragments = frozenset(
            s[i:i + FRAGMENT] for s in secrets for i in range(len(s) - FRAGMENT + 1))
        alphabet = "".join(sorted({c for s in secrets for c in s}))
        # Every fragment lies inside a run of characters that secrets are made of: scanning
        # only those runs keeps prose and JSON punctuation out of the per-window check.
        self.runs = (re.compile(f"[{re.escape(alphabet)}]{{{FRAGMENT},}}")
                     if secrets else None)


_known = _Known(frozenset())
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a credential batchkit resolved, so no text it produces shows any 6-character
    piece of it. Values shorter than 8 characters are ignored."""
    register_secrets([value])


def register_secrets(values: Iterable[str | None]) -> None:
    """:func:`register_secret` for several values at once (one snapshot rebuilt, not many)."""
    global _known
    new = {v.strip() for v in values if v and len(v.strip()) >= SHORTEST_SECRET}
    with _lock:
        if new - _known.secrets:
            _known = _Known(_known.secrets | new)


def register_env(names: Iterable[str]) -> None:
    """Register the values of the credential variables among ``names`` (an adapter's
    ``credential_env``): those naming a key, secret or token, not endpoints or buckets."""
    register_secrets(os.environ.get(n) for n in names
                     if any(word in n.upper() for word in ("KEY", "SECRET", "TOKEN")))


def redact(text: str) -> str:
    """``text`` without any registered secret's fragment or anything shaped like a key."""
    if not text:
        return text
    lowered = text.lower()
    for words, pattern, mask in _shapes():  # first: a fragment masked inside would hide a shape
        if any(word in lowered for word in words):
            text = pattern.sub(mask, text)
    known = _known
    if known.runs is not None:
        fragments = known.fragments
        text = known.runs.sub(lambda run: _mask_run(run.group(), fragments), text)
    return text


def _mask_run(run: str, fragments: frozenset[str]) -> str:
    """``run`` with each stretch covered by a secret's fragments replaced by the mask."""
    hits = [i for i in range(len(run) - FRAGMENT + 1) if run[i:i + FRAGMENT] in fragments]
    if not hits:
        return run
    out: list[str] = []
    kept = 0  # run[:kept] is dealt with
    for i in hits:
        if i > kept:
            out.extend((run[kept:i], MASK))
        elif not out:
            out.append(MASK)
        kept = i + FRAGMENT
    out.append(run[kept:])
    return "".join(out)


def redact_value(value: Any, depth: int = 0) -> Any:
    """``value`` with every string inside it redacted (dicts, lists, tuples, bytes); other
    objects are returned as they are."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
        clean = redact(text)
        return value if clean == text else clean.encode()
    if depth > 6:
        return value
    if isinstance(value, dict):
        return {redact_value(k, depth + 1): redact_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [redact_value(v, depth + 1) for v in value]
        return items if isinstance(value, list) else tuple(items)
    return value


def redact_exception(exc: BaseException | None) -> None:
    """Clean ``exc`` and every exception chained to it, in place.

    Args, string/dict/list attributes (an SDK's ``message`` or ``body``) and notes are
    redacted. An exception whose ``str`` still shows a secret after that (it builds its text
    from an object we do not rewrite) is given a subclass of its own type that redacts its
    ``str`` and ``repr``, so a traceback prints the same type name without the key.
    """
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        _clean_one(current)
        pending.extend((current.__cause__, current.__context__))
        pending.extend(getattr(current, "exceptions", None) or ())


def _clean_one(exc: BaseException) -> None:
    with contextlib.suppress(TypeError, AttributeError):
        exc.args = tuple(redact_value(a) for a in exc.args)
    for name, value in list(getattr(exc, "__dict__", {}).items()):
        if isinstance(value, str | bytes | dict | list | tuple):
            clean = redact_value(value)
            if clean != value:
                with contextlib.suppress(AttributeError, TypeError):
                    setattr(exc, name, clean)
    if _shows_secret(exc) and not getattr(type(exc), "_batchkit_redacting", False):
        # A built-in type refuses a new class (TypeError): its text comes from args, cleaned.
        with contextlib.suppress(TypeError):
            exc.__class__ = _redacting_type(type(exc))


def _shows_secret(exc: BaseException) -> bool:
    try:
        text = f"{exc}\n{exc!r}"
    except Exception:  # a broken __str__ shows nothing either
        return False
    return redact(text) != text


_redacting_types: dict[type[BaseException], type[BaseException]] = {}


def _redacting_type(cls: type[BaseException]) -> type[BaseException]:
    with _lock:
        if cls not in _redacting_types:
            _redacting_types[cls] = type(cls.__name__, (cls,), {
                "__module__": cls.__module__, "__qualname__": cls.__qualname__,
                "__doc__": cls.__doc__, "_batchkit_redacting": True,
                "__str__": lambda self: redact(cls.__str__(self)),
                "__repr__": lambda self: redact(cls.__repr__(self)),
            })
        return _redacting_types[cls]
