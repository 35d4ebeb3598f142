"""Move an existing OpenAI batch file to Anthropic and Gemini with `batchkit convert` and `submit`.

You have a JSONL file written for OpenAI's Batch API (``custom_id``, ``method``, ``url``,
``body`` per line). batchkit reads it as it is: ``convert`` writes the file each vendor's batch
API takes (offline, nothing is sent; one file per shard, split by the vendor's limits, with a
``.requests.jsonl`` index beside it), and ``submit`` runs the job there and writes one result per
``custom_id``. The model in the file's bodies is replaced by the one in ``--to`` / ``-p``.

This script runs the commands you would type, and prints each one before its output:

    batchkit convert examples/data/openai_batch.jsonl --to anthropic:claude-haiku-4-5 -o DIR
    batchkit submit examples/data/openai_batch.jsonl -p anthropic:claude-haiku-4-5 --wait \\
        -o DIR/results.jsonl --sandbox

and the same for ``gemini:gemini-2.5-flash``. Offline, against batchkit's emulators:

    python examples/convert_openai_batch.py --sandbox

For real, set ``ANTHROPIC_API_KEY`` and ``GEMINI_API_KEY`` and drop ``--sandbox``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

OPENAI_FILE = Path(__file__).parent / "data" / "openai_batch.jsonl"
TARGETS = ["anthropic:claude-haiku-4-5", "gemini:gemini-2.5-flash"]


def batchkit(*args: str) -> None:
    """Run the ``batchkit`` CLI (as ``python -m batchkit``, so no PATH is needed), echoing it."""
    print(f"\n$ batchkit {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", "batchkit", *args], check=True)


def line_count(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=OPENAI_FILE, help="an OpenAI batch file")
    parser.add_argument("--provider", action="append", help=f"target (default: {TARGETS})")
    parser.add_argument("--sandbox", action="store_true", help="submit to local emulators")
    parser.add_argument("--out", type=Path, default=Path("out/converted"))
    args = parser.parse_args()

    with args.file.open(encoding="utf-8") as fh:
        ids = [json.loads(line)["custom_id"] for line in fh if line.strip()]
    print(f"{args.file}: {len(ids)} OpenAI batch requests")

    for target in args.provider or TARGETS:
        folder = args.out / target.split(":")[0]
        # 1. Convert: the vendor's own batch format, written to disk, nothing sent.
        batchkit("convert", str(args.file), "--to", target, "-o", str(folder))
        for path in sorted(folder.glob("*.jsonl")):
            print(f"  {path}: {line_count(path)} lines")
        with next(folder.glob("*.payload.jsonl")).open(encoding="utf-8") as fh:
            print(f"  first line: {fh.readline()[:150]}...")

        # 2. Submit the same OpenAI file to the new vendor, wait, and write every result.
        results = folder / "results.jsonl"
        batchkit("submit", str(args.file), "-p", target, "--wait", "-o", str(results),
                 *(["--sandbox"] if args.sandbox else []))
        with results.open(encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh]
        statuses = Counter(row["status"] for row in rows)
        back = [row["custom_id"] for row in rows]
        print(f"  {target}: {len(rows)} results {dict(statuses)}; every request came back once, "
              f"in order: {back == ids}")
        for row in rows[:2]:
            print(f"    {row['custom_id']}: {(row['text'] or row['error'])!r}")


if __name__ == "__main__":
    main()
