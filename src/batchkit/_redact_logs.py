"""Log records without credentials: the vendor SDKs batchkit drives log requests, headers and
error bodies at DEBUG (botocore logs every signed ``Authorization:`` header), and the
application's handlers would write them anywhere.

:func:`install` runs when an adapter builds its vendor client (it is idempotent). It does two
things, because a filter on a logger does not see the records of its children (a filter on
``botocore`` never sees ``botocore.endpoint``'s) nor loggers created later:

- :class:`SecretFilter` goes on each SDK logger (:func:`sdk_loggers`) and on every child of them
  that exists, and
- the logging record factory is wrapped so every record, from any logger created at any time,
  is cleaned as it is made.

Cleaning a record formats its message once (``msg % args``) and, when that text held a secret,
keeps the redacted text with no args; the exception attached to it is cleaned in place.

``BATCHKIT_LOG_SECRETS=1`` leaves log records raw, for debugging a vendor's authentication
against a real account: it prints a warning, and exceptions and CLI output stay redacted.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from typing import Any

from ._redact import redact, redact_exception

__all__ = ["RAW_LOGS_ENV", "SecretFilter", "install", "sdk_loggers"]

RAW_LOGS_ENV = "BATCHKIT_LOG_SECRETS"
_STACK_LOGGERS = (
    "google", "google_genai", "google.auth", "google.api_core", "botocore", "s3transfer",
    "httpx", "httpcore", "urllib3", "requests", "hpack", "h2", "batchkit",
)
"""The HTTP and auth stacks under the vendor SDKs, and batchkit's own logger."""


def sdk_loggers() -> set[str]:
    """The loggers to clean: every registered vendor SDK's (from the registry, so a new vendor
    is covered by registering it) and the stacks beneath them."""
    from ._registry import sdk_modules

    return set(_STACK_LOGGERS) | set(sdk_modules())

_MARK = "_batchkit_redacted"
_installed = False
_lock = threading.Lock()


def clean_record(record: logging.LogRecord) -> None:
    """Remove credentials from ``record``'s message, args, exception and stack, in place."""
    if getattr(record, _MARK, False):
        return
    setattr(record, _MARK, True)
    try:
        message = record.getMessage()
    except Exception:  # a record that cannot format stays as logging made it
        message = None
    if message is not None:
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[1] is not None:
        redact_exception(record.exc_info[1])
        record.exc_text = None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class SecretFilter(logging.Filter):
    """A logging filter that lets every record through with its credentials removed; it can
    also be attached to an application's own handlers."""

    def filter(self, record: logging.LogRecord) -> bool:
        clean_record(record)
        return True


_FILTER = SecretFilter()


def install() -> None:
    """Clean the records of every logger from now on (see the module docstring); once."""
    global _installed
    if os.environ.get(RAW_LOGS_ENV, "") not in ("", "0"):
        _warn_raw()
        return
    with _lock:
        for name in _sdk_logger_names():
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            clean_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


def _sdk_logger_names() -> set[str]:
    roots = sdk_loggers()
    existing = [n for n in logging.root.manager.loggerDict if isinstance(n, str)]
    return roots | {n for n in existing if any(n.startswith(f"{p}.") for p in roots)}


_warned = False


def _warn_raw() -> None:
    global _warned
    if _warned:
        return
    _warned = True
    text = (f"{RAW_LOGS_ENV} is set: vendor SDK log records are NOT redacted and may contain "
            "API keys and signed headers; unset it once you are done debugging")
    warnings.warn(text, stacklevel=3)
    logging.getLogger("batchkit").warning(text)
