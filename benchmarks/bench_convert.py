"""(h) ``batchkit convert`` of an OpenAI chat batch file to Anthropic and to Bedrock.

    python benchmarks/bench_convert.py [--quick] [-n N] [--repeat R]
    # 1,000,000 lines (--quick: 100,000); each side timed R times (default 3), the fastest kept

The source is an OpenAI ``/v1/chat/completions`` batch file of plain chat lines (a system
prompt, a distinct user message, ``max_completion_tokens``). batchkit converts it with the
library function behind the CLI (``batchkit._convert.convert``), imports included: the first
line of each layout is read into a validated neutral request, checked against the target's
rules and written by the target's encoder; the lines of the same layout, whose id and texts
alone differ, are spliced into the bytes learnt from it a block at a time, with their values
checked and their ids mapped to the target's (Bedrock's ``recordId`` rule rewrites every
``email-N`` id into a SHA-256-based one) (``_convert_shapes``), and every id is held unique.
On four cores or more a file of 32 MB or more is converted in chunks by one forked worker per
core, written in order through a staging file (``_convert_parallel``; the table says how many
workers ran). Baseline, in the same run: the plain loop anyone would write — ``json.loads``
each line, rewrite the dict into the target's shape by hand, ``json.dumps`` it — which checks
nothing (the ids are written as they are, duplicates too), on one core.

Each side runs ``--repeat`` times, loop and batchkit in turn, each run in a fresh child process,
and each side's fastest run is compared (the least disturbed by other load: on the shared
two-core machine one loop run took 7.8 s and the next 10.8 s). The children keep Python's
bytecode cache (in a folder of the run, filled by a first untimed conversion), as an installed
batchkit has it: this machine's environment turns the cache off (``PYTHONDONTWRITEBYTECODE``),
which would time the compiling of batchkit's modules (0.1-0.15 s) in every run. Each child's
peak RSS (``VmHWM``)
is reported (the largest of its runs), with the
largest worker's (``ru_maxrss`` of the reaped workers, pages shared with the parent counted in
both); flat memory shows as the same peaks for a file ten times smaller. The two outputs are
compared line by line (parsed; Bedrock's ``recordId`` aside, which batchkit escapes), so both
did the same job.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _bench import SYSTEM, Row, email, peak_rss_mb, print_table, rate

TARGETS = {
    "anthropic": "anthropic:claude-haiku-4-5",
    "bedrock": "bedrock:anthropic.claude-3-5-haiku-20241022-v1:0",
}
TARGET_RATIO = 3.0


def write_source(path: Path, n: int) -> None:
    with open(path, "w") as fh:
        for i in range(n):
            fh.write(json.dumps({
                "custom_id": f"email-{i}", "method": "POST", "url": "/v1/chat/completions",
                "body": {"model": "gpt-4o-mini", "max_completion_tokens": 100, "messages": [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": email(i)}]}}) + "\n")


def _loop_line(obj: dict, target: str) -> dict:
    """The hand-written rewrite: system out of the messages, the vendor's envelope around."""
    body = obj["body"]
    system = [m["content"] for m in body["messages"] if m["role"] == "system"]
    messages = [m for m in body["messages"] if m["role"] != "system"]
    params = {"max_tokens": body.get("max_completion_tokens", 4096), "messages": messages}
    if system:
        params["system"] = "\n\n".join(system)
    if target == "anthropic":
        return {"custom_id": obj["custom_id"],
                "params": {"model": TARGETS[target].partition(":")[2], **params}}
    return {"recordId": obj["custom_id"],
            "modelInput": {"anthropic_version": "bedrock-2023-05-31", **params}}


def _child(mode: str, target: str, source: str, out: str) -> None:
    start = time.perf_counter()
    workers = 0
    if mode == "loop":
        with open(source) as src, open(out, "w") as dst:
            for line in src:
                dst.write(json.dumps(_loop_line(json.loads(line), target)) + "\n")
    else:
        from batchkit._convert import convert
        from batchkit._convert_parallel import workers_for

        workers = workers_for(Path(source))
        convert(source, TARGETS[target], out)
    seconds = time.perf_counter() - start
    # The largest worker's peak (its pages shared with this process counted in both).
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 if workers else 0
    print(json.dumps({"seconds": seconds, "peak_mb": peak_rss_mb(), "workers": workers,
                      "worker_mb": worker_mb}))


def _measure(mode: str, target: str, source: Path, out: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(source.parent / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", mode, target, str(source),
         str(out)], capture_output=True, text=True, check=True, env=env)
    return json.loads(proc.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def _fastest(runs: list[dict[str, float]]) -> dict[str, float]:
    """The fastest run's figures, with the largest peaks of all the runs."""
    best = dict(min(runs, key=lambda run: run["seconds"]))
    best["peak_mb"] = max(run["peak_mb"] for run in runs)
    best["worker_mb"] = max(run["worker_mb"] for run in runs)
    return best


def _same_lines(ours: Path, theirs: Path) -> bool:
    with open(ours, "rb") as a, open(theirs, "rb") as b:
        for x, y in zip(a, b, strict=True):
            left, right = json.loads(x), json.loads(y)
            left.pop("recordId", None)
            right.pop("recordId", None)
            if left != right:
                return False
    return True


def run(n: int, repeat: int = 3) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        source, small = Path(tmp) / "openai.jsonl", Path(tmp) / "small.jsonl"
        write_source(source, n)
        write_source(small, max(n // 10, 1))
        for target in TARGETS:  # untimed: fills the children's bytecode cache
            _measure("batchkit", target, small, Path(tmp) / "warm.jsonl")
        for target in TARGETS:
            out, loop_out = Path(tmp) / f"{target}.jsonl", Path(tmp) / f"{target}.loop.jsonl"
            loops, kits = [], []
            for _ in range(repeat):  # in turn, so both sides see the same spells of load
                loops.append(_measure("loop", target, source, loop_out))
                kits.append(_measure("batchkit", target, source, out))
            loop, kit = _fastest(loops), _fastest(kits)
            same = "" if _same_lines(out, loop_out) else " (LINES DIFFER)"
            kit_small = _measure("batchkit", target, small, out)
            ratio = loop["seconds"] / kit["seconds"]
            rows.append(Row(
                "h", f"convert {n:,} OpenAI chat lines to {target}{same}",
                f"{kit['seconds']:.1f} s ({rate(n, kit['seconds'])}), {kit['workers']} workers"
                f", best of {repeat}",
                f"json loop {loop['seconds']:.1f} s ({rate(n, loop['seconds'])}), best of {repeat}",
                f"{ratio:.2f}x", f">= {TARGET_RATIO:.0f}x the loop", ratio >= TARGET_RATIO))
            peak = max(kit["peak_mb"], kit["worker_mb"])
            peak_small = max(kit_small["peak_mb"], kit_small["worker_mb"])
            rows.append(Row(
                "h", f"peak RSS, convert to {target} ({n:,} / {max(n // 10, 1):,} lines)",
                f"{kit['peak_mb']:.0f} + {kit['workers']} x {kit['worker_mb']:.0f} / "
                f"{kit_small['peak_mb']:.0f} + {kit_small['workers']} x "
                f"{kit_small['worker_mb']:.0f} MB",
                f"json loop {loop['peak_mb']:.0f} MB",
                f"{peak / peak_small:.2f}x", "flat (10x lines, ~1x RSS)",
                peak <= 1.2 * peak_small))
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(*sys.argv[2:6])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 lines")
    parser.add_argument("-n", type=int, help="lines (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side (default 3)")
    args = parser.parse_args()
    print_table(run(args.n or (100_000 if args.quick else 1_000_000), args.repeat))


if __name__ == "__main__":
    main()
