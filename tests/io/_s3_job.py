"""A child process for the flat-memory test: one job whose input and output are ``s3://`` URLs.

Run as ``python _s3_job.py IN_URL OUT_URL`` with ``BATCHKIT_SANDBOX`` set to the emulators'
address; prints ``{"requests", "written", "peak_rss_kib"}`` as JSON (Linux: ``/proc``). Kept
out of the test process so that its peak resident memory is this job's alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import batchkit as bk
from batchkit._clock import Backoff

if __name__ == "__main__":
    source, target = sys.argv[1], sys.argv[2]
    job = bk.submit(bk.read_requests(source), "fake:m", options={"max_requests": 5_000})
    job.wait(backoff=Backoff(initial=0.01, maximum=0.05))
    written = job.results(lazy=True).to_jsonl(target)
    # VmHWM, not getrusage's ru_maxrss: a forked child's ru_maxrss starts at the parent's
    # resident size (the copy it was before exec), and the parent holds the emulators' objects.
    status = Path("/proc/self/status").read_text()
    peak = next(int(line.split()[1]) for line in status.splitlines()
                if line.startswith("VmHWM:"))
    print(json.dumps({"requests": job.request_count, "written": written, "peak_rss_kib": peak}))
