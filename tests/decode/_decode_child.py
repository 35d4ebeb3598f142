"""A child process for the flat-memory test: decode one output file, write the results.

Run as ``python _decode_child.py OUTPUT PROVIDER RESULTS [REQUESTS]``; prints ``{"written",
"unmatched", "peak_rss_kib"}`` as JSON. Kept out of the test process so that its peak resident
memory (``VmHWM`` in ``/proc/self/status``, Linux) is this decode's alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import batchkit as bk

if __name__ == "__main__":
    output, provider, target = sys.argv[1:4]
    requests = sys.argv[4] if len(sys.argv) > 4 else None
    results = bk.decode(output, provider, requests)
    written = results.to_jsonl(target)
    status = Path("/proc/self/status").read_text()
    peak = next(int(line.split()[1]) for line in status.splitlines()
                if line.startswith("VmHWM:"))
    print(json.dumps({"written": written, "unmatched": len(results.unmatched),
                      "peak_rss_kib": peak}))
