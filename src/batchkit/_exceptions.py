"""One error tree for everything batchkit raises.

Vendor SDK exceptions are caught at the adapter boundary and re-raised as one of these
(``raise ... from exc``), so callers never need to import a vendor SDK to handle errors::

    BatchkitError
    ├── ConfigError                  bad provider string, profile, or batchkit.toml
    │   ├── UnknownProviderError     "did you mean ..."
    │   ├── MissingDependencyError   the exact ``pip install "batchkit[x]"``
    │   └── MissingCredentialsError  names the environment variable to set
    ├── InvalidRequestError          a request broke a rule; names custom_id / line and the rule
    ├── BudgetExceededError          the upper-bound estimate is over ``max_cost_usd``
    ├── ProviderError                the vendor answered with an error
    │   ├── BatchFailedError         the vendor rejected a whole batch (validation), lists lines
    │   └── RateLimitedError         a real-time call was refused by a rate limit (429)
    ├── InvalidTransitionError       a job or shard state change the table forbids
    ├── JobNotFoundError             no such job in the store
    └── StoreError                   the local job store is unusable
"""

from __future__ import annotations

import sys

from ._redact import redact, redact_exception

__all__ = [
    "BatchFailedError",
    "BatchkitError",
    "BudgetExceededError",
    "ConfigError",
    "InvalidRequestError",
    "InvalidTransitionError",
    "JobNotFoundError",
    "MissingCredentialsError",
    "MissingDependencyError",
    "ProviderError",
    "RateLimitedError",
    "StoreError",
    "UnknownProviderError",
]


class BatchkitError(Exception):
    """Base class of every error batchkit raises on purpose.

    No credential survives into one: the message is redacted as the error is made, and so is
    the exception being handled at that moment (the vendor's, which ``raise ... from exc``
    keeps as ``__cause__`` and ``__context__``) with its whole chain, so neither ``str``,
    ``repr`` nor a printed traceback shows a key (see :mod:`batchkit._redact`).
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))
        redact_exception(sys.exc_info()[1])


class ConfigError(BatchkitError):
    """The provider string, profile or configuration file cannot be used."""


class UnknownProviderError(ConfigError):
    """A provider name that no built-in or installed adapter answers to."""


class MissingDependencyError(ConfigError):
    """The adapter exists but its vendor SDK is not installed."""


class MissingCredentialsError(ConfigError):
    """The vendor SDK is installed but no credentials were found."""


class InvalidRequestError(BatchkitError):
    """A request (or a line of a request file) breaks a rule.

    ``custom_id`` and ``line`` say which request; ``rule`` says what is wrong. The message is one
    line so that it reads well in a terminal and in logs.
    """

    def __init__(
        self, rule: str, *, custom_id: str | None = None, line: int | None = None
    ) -> None:
        self.rule = rule = redact(rule)
        self.custom_id = custom_id
        self.line = line
        where = []
        if line is not None:
            where.append(f"line {line}")
        if custom_id is not None:
            # A 512-character id would bury the rule; the start is enough to find the request.
            shown = custom_id if len(custom_id) <= 80 else f"{custom_id[:60]}..."
            where.append(f"custom_id {shown!r}")
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(f"{prefix}{rule}")


class BudgetExceededError(BatchkitError):
    """The job's upper-bound cost is over the caller's cap; nothing was sent."""


class ProviderError(BatchkitError):
    """The vendor answered a call with an error (after retries, where retrying is safe).

    ``transient`` says trying again later may work: a rate limit, a server error, a timeout or
    a lost connection. By default it follows the HTTP status (408, 429 and 5xx).
    """

    def __init__(
        self, message: str, *, status_code: int | None = None, transient: bool | None = None
    ) -> None:
        self.status_code = status_code
        self.transient = (
            transient if transient is not None
            else status_code is not None and (status_code in (408, 429) or status_code >= 500)
        )
        super().__init__(message)


class BatchFailedError(ProviderError):
    """The vendor rejected a whole batch, typically at validation, before running any request."""


class RateLimitedError(ProviderError):
    """A real-time call refused by the vendor's rate limit (HTTP 429); nothing was run.

    ``retry_after`` is the wait the vendor asked for, in seconds (None when it named none).
    The real-time engine waits it out and sends the row again; it never counts as a try.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, status_code=429, transient=True)


class InvalidTransitionError(BatchkitError):
    """A state change that the transition table does not allow."""


class JobNotFoundError(BatchkitError):
    """The job id is not in the store."""


class StoreError(BatchkitError):
    """The local job store cannot be opened or is in a state batchkit does not understand."""
