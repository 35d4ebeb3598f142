"""Exact input-token counts from the vendors' own count-tokens endpoints, on request.

Only some vendors publish an endpoint (Anthropic ``messages/count_tokens``, Gemini
``models.countTokens``, Cohere ``tokenize`` for embeddings); each adapter knows its own through
:meth:`~batchkit.providers.base.Adapter.count_input_tokens`, so nothing here names a vendor.

Counting is one HTTP call per request and rate-limited, so a large job is not counted whole: a
uniform random sample (seeded, so the same file gives the same figure) of up to
``exact_sample`` requests is counted by the vendor and by the offline approximation, and the
approximation for the whole job is scaled by the ratio of the two. A job no larger than the
sample is counted whole, and only then is its input figure exact. Any failure (no SDK, no key,
a refusal) leaves the approximation in place with a note saying why; it never fails the
estimate.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .._exceptions import BatchkitError, MissingCredentialsError, MissingDependencyError
from .._requests import Request
from ._tokens import counter_for

__all__ = ["DEFAULT_EXACT_SAMPLE", "MAX_COUNT_WORKERS", "ExactInput", "Reservoir", "measure"]

DEFAULT_EXACT_SAMPLE = 200
"""Requests counted by the vendor per target at most; larger jobs scale by the sample."""
MAX_COUNT_WORKERS = 4
"""Count calls in flight at once: the endpoints have their own, modest rate limits."""
_SEED = 8


class Reservoir:
    """A uniform sample of at most ``size`` requests from a stream read once (algorithm R)."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("exact_sample must be at least 1")
        self.size = size
        self.seen = 0
        self.items: list[Request] = []
        self._random = random.Random(_SEED)

    def offer(self, request: Request) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(request)
            return
        slot = self._random.randrange(self.seen)
        if slot < self.size:
            self.items[slot] = request


@dataclass(frozen=True)
class ExactInput:
    """What the vendor counted for a sample, beside the approximation for the same sample."""

    counted: int
    vendor_tokens: int
    approx_tokens: int
    source: str
    """Whose count it is, for notes (``anthropic count-tokens endpoint``)."""

    @property
    def ratio(self) -> float:
        return self.vendor_tokens / self.approx_tokens


def measure(
    target: str, tokenizer: str, sample: Sequence[Request]
) -> tuple[ExactInput | None, str | None]:
    """Count ``sample`` on ``target`` (``provider:model``) through its adapter.

    Returns the counts, or None and the reason they could not be had. The first request is
    counted alone (it builds the client, and tells whether the adapter counts at all); the rest
    go :data:`MAX_COUNT_WORKERS` at a time.
    """
    from .._registry import make_adapter

    if not sample:
        return None, None
    provider = target.partition(":")[0]
    try:
        adapter = make_adapter(target)
    except BatchkitError as exc:
        return None, f"exact counts unavailable for {target}: {exc}; approximate figures kept"
    try:
        first = adapter.count_input_tokens(sample[:1])
        if first is None:
            return None, (f"{provider} has no count-tokens endpoint batchkit can use for these "
                          "requests; approximate figures kept")
        with ThreadPoolExecutor(max_workers=MAX_COUNT_WORKERS) as pool:
            rest = list(pool.map(lambda r: adapter.count_input_tokens([r]), sample[1:]))
        if any(counts is None for counts in rest):
            return None, (f"{provider} could not count every request exactly; approximate "
                          "figures kept")
        vendor = sum(first) + sum(sum(c) for c in rest if c is not None)
    except (MissingCredentialsError, MissingDependencyError) as exc:
        return None, f"exact counts unavailable for {target}: {exc}; approximate figures kept"
    except BatchkitError as exc:
        return None, f"exact count on {target} failed: {exc}; approximate figures kept"
    except Exception as exc:  # a vendor SDK's own error: its text may hold a key, so name only
        return None, (f"exact count on {target} failed ({type(exc).__name__}); approximate "
                      "figures kept")
    finally:
        adapter.close()
    counter = counter_for(tokenizer)
    approx = sum(counter.count(r).tokens for r in sample)
    return ExactInput(len(sample), vendor, approx, f"{provider} count-tokens endpoint"), None
