"""(g) How long ``import batchkit`` takes, beside the floor of what it must import.

    python benchmarks/bench_import.py [--quick]      # the fastest of 15 runs (--quick: 5)

Each run is a fresh interpreter with ``-X importtime``; the figure is the cumulative time of
the ``batchkit`` line, the fastest of the runs (the least disturbed by other load). Baseline,
in the same run: ``import pydantic, orjson`` and one model class, which the neutral request
models cannot do without; everything else (jobs, results, numpy, the store, vendor SDKs,
emulators) loads when first used.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from _bench import Row, print_table

TARGET_MS = 100
FLOOR = ("import pydantic, orjson\n"
         "class Probe(pydantic.BaseModel):\n    x: int = pydantic.Field(default=0, ge=0)")


def import_ms(code: str, module: str, runs: int) -> float:
    """The fastest cumulative ``-X importtime`` figure of ``module`` over ``runs`` runs."""
    best = float("inf")
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                             capture_output=True, text=True, check=True).stderr
        cumulative = [int(line.split("|")[1]) for line in out.splitlines()
                      if line.split("|")[-1].strip() == module]
        best = min(best, sum(cumulative) / 1000)
    return best


def run(runs: int = 15) -> list[Row]:
    ours = import_ms("import batchkit", "batchkit", runs)
    floor = import_ms(FLOOR, "pydantic", runs) + import_ms(FLOOR, "orjson", runs)
    return [Row("g import", "import batchkit (cumulative, -X importtime)", f"{ours:.0f} ms",
                f"pydantic + orjson alone {floor:.0f} ms", f"+{ours - floor:.0f} ms",
                f"< {TARGET_MS} ms", ours < TARGET_MS)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 runs instead of 15")
    print_table(run(5 if parser.parse_args().quick else 15))


if __name__ == "__main__":
    main()
