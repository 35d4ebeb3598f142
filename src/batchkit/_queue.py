"""The per-model enqueued-token limit: how many input tokens a job may have queued at a vendor.

Vendors cap the prompt tokens of the batches an account has in flight per model or
deployment; a batch created beyond the cap is refused or fails. The figure depends on the
vendor and the account's tier, so the user sets it, as the adapter option ``enqueued_tokens``
(``submit(options=...)``, ``-o`` on the command line, a profile's options) or in
``batchkit.toml``::

    [limits."provider:model"]
    enqueued_tokens = 2_000_000

With a limit, each shard's input tokens are counted when it is planned (with the tokenizer the
cost estimate uses) and journaled with it; no shard is planned bigger than the limit; and a
shard is sent only while the tokens of the job's shards in flight plus its own stay within the
limit. The others are held (pending, with the reason) and go, in order, as earlier ones finish.
The limit is kept with the job's options, so a resumed job honours it too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._exceptions import ConfigError, InvalidRequestError, UnknownProviderError
from ._requests import Request
from .cost import counter_for, load_catalog
from .store import ShardRecord

__all__ = ["OPTION", "QueueLimit", "admit", "queue_limit", "token_limit"]

OPTION = "enqueued_tokens"
_UNKNOWN_MODEL_TOKENIZER = "chars:4"
"""For a model the price catalog does not know: the estimate's approximation for vendors
without an offline tokenizer."""


def token_limit(options: Mapping[str, Any]) -> int | None:
    """The job's enqueued-token limit from its options, or None when it has none."""
    value = options.get(OPTION)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"option {OPTION} must be a whole number of tokens >= 1, not {value!r}")
    return value


@dataclass(frozen=True)
class QueueLimit:
    """The limit and the counter the planner uses to keep every shard within it."""

    tokens: int
    provider: str
    count: Callable[[Request], int]

    def tokens_of(self, request: Request) -> int:
        """Input tokens of ``request``; a request bigger than the limit on its own is refused
        before anything is sent (no batch holding it could ever be queued)."""
        tokens = self.count(request)
        if tokens > self.tokens:
            raise InvalidRequestError(
                f"has about {tokens:,} input tokens, more than the {OPTION} limit of "
                f"{self.tokens:,} set for {self.provider}: no batch holding it could be queued",
                custom_id=request.custom_id,
            )
        return tokens


def queue_limit(provider: str, options: Mapping[str, Any]) -> QueueLimit | None:
    """The job's :class:`QueueLimit` (None without a limit), counting tokens the way
    ``bk.estimate`` does for ``provider``."""
    limit = token_limit(options)
    if limit is None:
        return None
    try:
        spec = load_catalog().get(provider).tokenizer
    except UnknownProviderError:
        spec = _UNKNOWN_MODEL_TOKENIZER
    counter = counter_for(spec)
    return QueueLimit(limit, provider, lambda request: counter.count(request).tokens)


def admit(
    shards: Sequence[ShardRecord], limit: int
) -> tuple[list[ShardRecord], dict[int, str]]:
    """Which unsent shards may be sent now, and why each of the others waits.

    Shards go in index order: once one does not fit, later ones wait too, so a stream of small
    shards can never starve a big one. A shard bigger than the limit on its own could never
    go, so it is an error (the planner does not make such shards; a journal from elsewhere
    might hold one).
    """
    in_flight = sum(s.input_tokens or 0 for s in shards
                    if s.remote_id is not None and not s.state.is_terminal)
    admitted: list[ShardRecord] = []
    held: dict[int, str] = {}
    for shard in sorted(shards, key=lambda s: s.index):
        if shard.remote_id is not None or shard.state.is_terminal:
            continue
        tokens = shard.input_tokens or 0
        if tokens > limit:
            raise ConfigError(
                f"job {shard.job_id}: shard {shard.index} holds {tokens:,} input tokens, more "
                f"than the {OPTION} limit of {limit:,}: it could never be queued"
            )
        if held:
            held[shard.index] = f"held: queued behind shard {min(held)} ({OPTION} {limit:,})"
            continue
        if in_flight + tokens > limit:
            held[shard.index] = (f"held: {in_flight:,} tokens in flight + {tokens:,} > "
                                 f"{OPTION} {limit:,}")
            continue
        admitted.append(shard)
        in_flight += tokens
    return admitted, held
