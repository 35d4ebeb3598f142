"""What the "Scale and speed" benchmarks share: the request shapes, a timer and the table.

Every figure is printed beside a baseline measured in the same run on the same machine, so a
reader compares two numbers taken under the same load instead of trusting an absolute one
(shared machines make absolute timings drift by tens of percent).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pydantic import BaseModel

import batchkit as bk

SYSTEM = "Classify the email as spam or ham and say why."


class Verdict(BaseModel):
    """The response model of the chat benchmarks (a typical small classification)."""

    spam: bool
    confidence: float
    reason: str


def email(i: int) -> str:
    """The user message of request ``i``: distinct per request, so nothing de-duplicates."""
    return (f"Email {i}: Dear customer, your invoice #{i} is attached. "
            "Please pay within 30 days to avoid a late fee.")


def chat_request(i: int, temperature: float | None = None) -> bk.ChatRequest:
    return bk.ChatRequest(
        custom_id=f"email-{i}", response_model=Verdict, max_tokens=100, temperature=temperature,
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": email(i)}],
    )


def chat_requests(n: int, temperature: float | None = None) -> Iterator[bk.ChatRequest]:
    """A generator, so a million requests are never all in memory at once."""
    return (chat_request(i, temperature) for i in range(n))


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    """The fastest of ``repeat`` runs in seconds: the least disturbed by other load."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def best_of_each(repeat: int, runs: dict[str, Callable[[], object]],
                 after: Callable[[], object] | None = None) -> dict[str, float]:
    """The fastest of ``repeat`` runs of each of ``runs``, run in turn (one of each, then one
    of each again): a burst of load on the shared machine lands on a figure and its baseline
    alike, not on whichever happened to run then. ``after`` runs untimed after every run (to
    remove its files, so one step's page cache and disk writeback do not land on the next)."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
            if after is not None:
                after()
    return {name: min(seconds) for name, seconds in times.items()}


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB.

    ``VmHWM`` rather than ``ru_maxrss``: Linux carries ``ru_maxrss`` across fork and exec, so a
    child started by a process with a large heap would report the parent's peak as its own.
    """
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


@dataclass(frozen=True)
class Row:
    """One line of the table: a batchkit figure, its same-run baseline and the target."""

    bench: str
    what: str
    value: str
    baseline: str
    ratio: str
    target: str = ""
    met: bool | None = None


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}/s"


def print_table(rows: list[Row]) -> None:
    head = ("bench", "batchkit", "value", "baseline (same run)", "ratio", "target")
    cells = [head] + [
        (r.bench, r.what, r.value, r.baseline, r.ratio,
         r.target + ("" if r.met is None else " (met)" if r.met else " (MISSED)"))
        for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)) + " |"
             for cell in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print("\n".join(lines))
