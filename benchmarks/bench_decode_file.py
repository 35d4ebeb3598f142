"""Peak memory and time of ``bk.decode`` on a large vendor output file, beside a baseline.

Writes an OpenAI output file of ``--mb`` megabytes (4 KB rows, ids in reverse order of the
requests, so a join cannot ride on file order), then, each in a fresh subprocess whose peak
resident memory (``VmHWM``) is its own:

* ``bk.decode`` alone (every row a result) writing results JSONL;
* ``bk.decode`` joined to the requests file (input order), writing results JSONL;
* baseline: the loop people write, ``json.loads`` of every line kept in a list and joined by
  ``custom_id`` through a dict, then written out.

    python benchmarks/bench_decode_file.py --mb 1024
    python benchmarks/bench_decode_file.py --quick     # 40 MB
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROW_BYTES = 4096

_CHILD = r"""
import json, sys
from pathlib import Path
mode, output, requests, target = sys.argv[1:5]
if mode == "baseline":
    rows = [json.loads(line) for line in open(output)]
    by_id = {row["custom_id"]: row for row in rows}
    with open(target, "w") as fh:
        for line in open(requests):
            row = by_id.get(json.loads(line)["custom_id"])
            body = row["response"]["body"] if row else None
            fh.write(json.dumps({"text": body["choices"][0]["message"]["content"]
                                 if body else None}) + "\n")
else:
    import batchkit as bk
    results = bk.decode(output, "openai:gpt-4o-mini", requests if mode == "joined" else None)
    results.to_jsonl(target)
status = Path("/proc/self/status").read_text()
print(next(int(l.split()[1]) for l in status.splitlines() if l.startswith("VmHWM:")))
"""


def _write_files(folder: Path, rows: int) -> tuple[Path, Path]:
    pad = "lorem ipsum " * 330
    output, requests = folder / "output.jsonl", folder / "requests.jsonl"
    with output.open("w") as out:
        for i in reversed(range(rows)):
            out.write(json.dumps({
                "id": f"batch_req_{i}", "custom_id": f"r{i}", "error": None,
                "response": {"status_code": 200, "request_id": "req", "body": {
                    "id": "chatcmpl", "object": "chat.completion", "model": "gpt-4o-mini",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": pad}}],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 1000,
                              "total_tokens": 1003}}}}) + "\n")
    with requests.open("w") as fh:
        for i in range(rows):
            fh.write(json.dumps({"custom_id": f"r{i}", "method": "POST",
                                 "url": "/v1/chat/completions",
                                 "body": {"model": "gpt-4o-mini", "messages": [
                                     {"role": "user", "content": "q"}]}}) + "\n")
    return output, requests


def _run(mode: str, output: Path, requests: Path, folder: Path) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CHILD, mode, str(output), str(requests),
                           str(folder / f"{mode}.jsonl")],
                          capture_output=True, text=True, check=True)
    return time.perf_counter() - started, int(done.stdout.strip())


def run(megabytes: int) -> list[tuple[str, float, int]]:
    rows = megabytes * 1024 * 1024 // ROW_BYTES
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        output, requests = _write_files(folder, rows)
        size_mb = output.stat().st_size / 2**20
        print(f"output file: {rows:,} rows, {size_mb:,.0f} MB")
        figures = []
        for mode in ("alone", "joined", "baseline"):
            seconds, peak_kib = _run(mode, output, requests, folder)
            figures.append((mode, seconds, peak_kib))
            print(f"  {mode:9s} {seconds:7.1f} s   peak RSS {peak_kib / 1024:8.0f} MB   "
                  f"{rows / seconds:10,.0f} rows/s")
        same = _same_texts(folder / "joined.jsonl", folder / "baseline.jsonl")
        print("  joined results and baseline: " + ("same texts" if same else "DIFFER"))
        figures.append(("same" if same else "DIFFER", 0.0, 0))
    return figures


def _same_texts(ours: Path, theirs: Path) -> bool:
    """Whether both files hold the same reply text on every line (read side by side)."""
    with ours.open() as a, theirs.open() as b:
        return all(x is not None and y is not None
                   and json.loads(x)["text"] == json.loads(y)["text"]
                   for x, y in itertools.zip_longest(a, b))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1024, help="output file size in MB")
    parser.add_argument("--quick", action="store_true", help="a 40 MB file")
    args = parser.parse_args()
    run(40 if args.quick else args.mb)
