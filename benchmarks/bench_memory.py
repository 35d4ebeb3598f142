"""(c) Peak memory of planning and encoding a 1,000,000-request job, and where it goes.

    python benchmarks/bench_memory.py [--quick]      # 1,000,000 requests (--quick: 100,000)

Each figure is the peak RSS (``VmHWM``) of a fresh subprocess, so one measurement cannot
inherit another's heap. ``bk.encode`` is fed a generator (the requests are never all in memory)
of chat requests at ``temperature=0`` with a response_model, so every per-request structure the
planner keeps is populated. Baselines: the bare interpreter with batchkit imported, and the naive
way (a list of every request first). The breakdown rebuilds the planner's per-request
structures — custom_id -> position, and per group digest -> vendor id of the first copy — the way
``_plan.py`` fills them, and measures each with ``tracemalloc``. (Rewritten vendor ids are also
tracked, but OpenAI sends ids as they are, so that set stays empty here.)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from _bench import Row, chat_request, chat_requests, peak_rss_mb, print_table

import batchkit as bk

TARGET_MB = 300.0


def _child(mode: str, n: int) -> dict[str, float]:
    """Run one measurement in this (fresh) process; see ``measure``."""
    start = time.perf_counter()
    if mode == "imports":
        chat_request(0)  # pydantic builds its validators lazily: count them too
    elif mode in ("generator", "list"):
        requests = chat_requests(n, temperature=0) if mode == "generator" else [
            chat_request(i, temperature=0) for i in range(n)]
        with tempfile.TemporaryDirectory() as tmp:
            bk.encode(requests, "openai:gpt-4o-mini", tmp)
    elif mode == "structures":
        return _structures(n)
    return {"peak_mb": peak_rss_mb(), "seconds": time.perf_counter() - start}


def _structures(n: int) -> dict[str, float]:
    """MB held by each of the planner's per-request structures at ``n`` requests."""
    tracemalloc.start()
    out: dict[str, float] = {}
    # The dict is what keeps each custom_id string alive once its request is gone: count both.
    base = tracemalloc.get_traced_memory()[0]
    seen = {f"email-{position}": position for position in range(n)}
    out["custom_id dict (str -> position), with the ids"] = (
        tracemalloc.get_traced_memory()[0] - base) / 2**20
    base = tracemalloc.get_traced_memory()[0]
    first_copy = {"chat": {hashlib.blake2b(cid.encode(), digest_size=16).digest(): cid
                           for cid in seen}}
    out["dedupe dict (group -> 16-byte digest -> vid)"] = (
        tracemalloc.get_traced_memory()[0] - base) / 2**20
    assert len(seen) == len(first_copy["chat"]) == n
    return out


def measure(mode: str, n: int) -> dict[str, float]:
    """Run ``_child(mode, n)`` in a new interpreter and return what it reports."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", mode, str(n)],
        capture_output=True, text=True, check=True,
    )
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run(n: int, naive: bool = True) -> list[Row]:
    imports = measure("imports", 0)["peak_mb"]
    gen = measure("generator", n)
    rows = [Row("c memory", f"bk.encode(generator) {n:,} reqs", f"{gen['peak_mb']:.0f} MB peak",
                f"imports only {imports:.0f} MB", f"+{gen['peak_mb'] - imports:.0f} MB",
                f"< {TARGET_MB:.0f} MB", gen["peak_mb"] < TARGET_MB)]
    if naive:
        listed = measure("list", n)
        rows.append(Row("c memory", "bk.encode(generator), vs a list",
                        f"{gen['peak_mb']:.0f} MB peak", f"list first {listed['peak_mb']:.0f} MB",
                        f"{listed['peak_mb'] / gen['peak_mb']:.1f}x less"))
    for name, mb in measure("structures", n).items():
        rows.append(Row("c memory", f"  of which {name}", f"{mb:.0f} MB",
                        f"{mb * 2**20 / n:.0f} B/request", ""))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 requests, not 1,000,000")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child[0], int(args.child[1]))))
        return
    print_table(run(100_000 if args.quick else 1_000_000))


if __name__ == "__main__":
    main()
