"""(g) How long ``import batchkit`` takes, beside the floor of what it must import.

    python benchmarks/bench_import.py [--quick]      # the fastest of 15 runs (--quick: 5)

Each run is a fresh interpreter; each figure is the fastest of the runs (the least disturbed by
other load). Three rows, each with a baseline measured in the same run:

- ``import batchkit``, the cumulative ``-X importtime`` figure of the ``batchkit`` line (the
  issue's target, < 100 ms), beside ``import pydantic`` alone;
- the whole process, ``python -c "import batchkit"`` against ``python -c pass`` (wall time:
  interpreter start-up included, what a ``batchkit`` command pays before doing anything);
- the first request class, ``import batchkit; bk.ChatRequest`` timed inside the process, beside
  ``import pydantic, orjson`` and one model class, which the neutral request models cannot do
  without. The request models load on first use, so this is where pydantic's cost lands.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from _bench import Row, print_table

TARGET_MS = 100
FLOOR = ("import pydantic, orjson\n"
         "class Probe(pydantic.BaseModel):\n    x: int = pydantic.Field(default=0, ge=0)")
FIRST_CLASS = "import batchkit as bk\nbk.ChatRequest"
_TIMED = ("import time\n_t = time.perf_counter()\n{code}\n"
          "print(time.perf_counter() - _t)")


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, check=True)


def import_ms(code: str, module: str, runs: int) -> float:
    """The fastest cumulative ``-X importtime`` figure of ``module`` over ``runs`` runs."""
    best = float("inf")
    for _ in range(runs):
        out = _python("-X", "importtime", "-c", code).stderr
        cumulative = [int(line.split("|")[1]) for line in out.splitlines()
                      if line.split("|")[-1].strip() == module]
        best = min(best, sum(cumulative) / 1000)
    return best


def process_ms(code: str, runs: int) -> float:
    """The fastest wall time in ms of a fresh ``python -c code`` over ``runs`` runs."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        _python("-c", code)
        best = min(best, (time.perf_counter() - start) * 1000)
    return best


def in_process_ms(code: str, runs: int) -> float:
    """The fastest time in ms ``code`` takes inside a fresh interpreter (start-up left out)."""
    return min(float(_python("-c", _TIMED.format(code=code)).stdout) * 1000
               for _ in range(runs))


def run(runs: int = 15) -> list[Row]:
    ours = import_ms("import batchkit", "batchkit", runs)
    pydantic_alone = import_ms("import pydantic", "pydantic", runs)
    process, bare = process_ms("import batchkit", runs), process_ms("pass", runs)
    first, floor = in_process_ms(FIRST_CLASS, runs), in_process_ms(FLOOR, runs)
    return [
        Row("g import", "import batchkit (cumulative, -X importtime)", f"{ours:.0f} ms",
            f"import pydantic alone {pydantic_alone:.0f} ms",
            f"{ours / pydantic_alone:.2f}x", f"< {TARGET_MS} ms", ours < TARGET_MS),
        Row("g import", "python -c 'import batchkit' (whole process)", f"{process:.0f} ms",
            f"python -c pass {bare:.0f} ms", f"+{process - bare:.0f} ms"),
        Row("g import", "import batchkit; bk.ChatRequest (first request class)",
            f"{first:.0f} ms", f"pydantic + orjson + one model {floor:.0f} ms",
            f"{first - floor:+.0f} ms"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 runs instead of 15")
    print_table(run(5 if parser.parse_args().quick else 15))


if __name__ == "__main__":
    main()
