"""Run every "Scale and speed" benchmark and print one table.

    python benchmarks/run_all.py [--quick]

Full size takes about 10 minutes on 2 cores; ``--quick`` runs each 10x smaller in under a minute.
"""

from __future__ import annotations

import argparse

import bench_convert
import bench_decode
import bench_emulator
import bench_encode
import bench_import
import bench_index
import bench_memory
import bench_neutral
import bench_store
from _bench import print_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every benchmark 10x smaller")
    scale = 10 if parser.parse_args().quick else 1
    # The emulator job runs first: its peak RSS is this process's, and must not include the
    # heaps of the benchmarks before it (the memory benchmark measures in its own subprocesses).
    rows = bench_emulator.run(100_000 // scale)
    rows += bench_memory.run(1_000_000 // scale)
    rows += bench_encode.run(200_000 // scale)
    rows += bench_neutral.run(100_000 // scale)
    rows += bench_decode.run(20_000 // scale)
    rows += bench_index.run(20_000 // scale)
    rows += bench_convert.run(100_000 // scale)
    rows += bench_store.run(2_000 // scale)
    rows += bench_import.run(15 if scale == 1 else 5)
    print_table([*rows[3:], *rows[:3]])


if __name__ == "__main__":
    main()
