"""(d) A 100,000-request job end to end through the OpenAI emulator.

    python benchmarks/bench_emulator.py [--quick]    # 100,000 requests (--quick: 10,000)

``bk.submit`` -> ``job.wait()`` -> ``job.results()`` over loopback HTTP with the official
``openai`` SDK, reporting wall time, requests/second and peak RSS, and as the baseline the same
job's own time split (plan + upload, polling, download + decode + join) and the cookbook-style
loop (``json.loads`` per line of the downloaded files, a dict by custom_id, then input order).

Emulator settings: the clock is in ``auto`` mode (each poll moves a batch one status step), and
``phases`` are zero seconds, so the time is batchkit's and the SDK's, not a simulated wait.
OpenAI's real per-batch limits (50,000 requests) are kept, so the job is two batches.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from _bench import Row, chat_requests, peak_rss_mb, print_table, rate

import batchkit as bk
from batchkit.testing import emulate


def cookbook_collect(files: list[Path], ids: list[str]) -> int:
    """The usual hand-written loop over downloaded output: parse, index by id, reorder."""
    by_id = {}
    for path in files:
        with open(path) as fh:
            for line in fh:
                obj = json.loads(line)
                by_id[obj["custom_id"]] = obj["response"]["body"]["choices"][0]["message"]
    return sum(1 for cid in ids if cid in by_id)


def run(n: int) -> list[Row]:
    with tempfile.TemporaryDirectory() as home, emulate(providers=["openai"]) as handle:
        os.environ["BATCHKIT_HOME"] = home
        os.environ.setdefault("OPENAI_API_KEY", "sk-emulator")
        app = handle.apps["openai"]
        app.phases.validating = app.phases.in_progress = app.phases.finalizing = 0.0
        start = time.perf_counter()
        job = bk.submit(chat_requests(n), "openai:gpt-4o-mini")
        submitted = time.perf_counter()
        job.wait()
        waited = time.perf_counter()
        results = job.results()
        done = time.perf_counter()
        ok = results.counts().get("succeeded", 0)
        files = sorted(Path(job.folder).rglob("*output*.jsonl"))
        ids = [f"email-{i}" for i in range(n)]
        t0 = time.perf_counter()
        found = cookbook_collect(files, ids)
        cookbook = time.perf_counter() - t0
        peak = peak_rss_mb()
    total = done - start
    fetch = done - waited
    return [
        Row("d emulator", f"submit->wait->results {n:,} ({ok:,} ok)", f"{total:.1f} s",
            f"plan+upload {submitted - start:.1f} s, poll {waited - submitted:.1f} s, "
            f"fetch+decode {fetch:.1f} s", rate(n, total)),
        Row("d emulator", "results(): fetch+decode+join+parse", rate(n, fetch),
            f"cookbook loop {rate(found, cookbook)} ({len(files)} files, no parse)",
            f"{cookbook / fetch:.1f}x"),
        Row("d emulator", "peak RSS (client + emulator, 1 process)", f"{peak:.0f} MB", "", ""),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 requests, not 100,000")
    args = parser.parse_args()
    print_table(run(10_000 if args.quick else 100_000))


if __name__ == "__main__":
    main()
