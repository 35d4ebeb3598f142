"""Job-store operations per second under 6 concurrent processes: SQLite vs PostgreSQL, same run.

    python benchmarks/bench_store.py [--quick]

Each process works one job of its own the way a worker does, over and over: take the job's
lease, read the job, read its shards, record a poll's answer on a shard, release the lease
(5 store calls, 3 of them writes). SQLite serialises every write in the database file;
PostgreSQL locks only the job's row, so processes on different jobs do not wait on each other.
The PostgreSQL server is a throwaway one on loopback (``batchkit.testing._postgres``) with
``synchronous_commit=off``, matching SQLite's WAL mode with ``synchronous=NORMAL`` (neither
waits for the disk at each commit); without Debian's ``postgresql`` package only SQLite is
measured.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from multiprocessing.synchronize import Barrier
from pathlib import Path

from _bench import Row, print_table

import batchkit as bk
from batchkit.store import JobRecord, ShardRecord, open_store
from batchkit.testing._postgres import MISSING, postgres_binaries, throwaway_postgres

PROCESSES = 6
CALLS_PER_ROUND = 5
SHARDS = 3


def _prepare(target: str, folders: Path) -> None:
    """One job per process, each with a real job folder (the SQLite store journals into it)."""
    store = open_store(target)
    for p in range(PROCESSES):
        job_id = f"bench-{p}"
        (folders / job_id).mkdir(parents=True, exist_ok=True)
        store.create_job(
            JobRecord(id=job_id, provider="fake:m", state=bk.JobState.PENDING, request_count=30,
                      folder=str(folders / job_id)),
            [ShardRecord(job_id=job_id, index=i, key=f"{job_id}-{i}", group="chat",
                         request_count=10, payload_path="p", requests_path="r")
             for i in range(SHARDS)],
        )
    store.close()


def _work(target: str, me: int, rounds: int, start: Barrier, took: mp.Queue[float]) -> None:
    store = open_store(target)
    job_id, owner = f"bench-{me}", f"bench:{me}"
    start.wait()
    began = time.perf_counter()
    for n in range(rounds):
        store.take_lease(job_id, owner, 30)
        store.get_job(job_id)
        store.get_shards(job_id)
        store.update_shard(job_id, n % SHARDS, vendor_status=f"in_progress {n}",
                           counts={"total": 10, "succeeded": n % 10})
        store.release_lease(job_id, owner)
    took.put(time.perf_counter() - began)
    store.close()


def ops_per_second(target: str, folders: Path, rounds: int, processes: int) -> float:
    """Store calls per second, all processes together, from start line to the last finish."""
    _prepare(target, folders)
    ctx = mp.get_context("spawn")
    start, took = ctx.Barrier(processes), ctx.Queue()
    procs = [ctx.Process(target=_work, args=(target, me, rounds, start, took))
             for me in range(processes)]
    for p in procs:
        p.start()
    slowest = max(float(took.get(timeout=600)) for _ in procs)
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"a benchmark process failed (exit {p.exitcode})")
    return processes * rounds * CALLS_PER_ROUND / slowest


def run(rounds: int) -> list[Row]:
    """Rows for 6 processes (the figure asked for) and for 1 (how each backend scales)."""
    counts = (PROCESSES, 1)
    with tempfile.TemporaryDirectory() as folder:
        sqlite = {n: ops_per_second(str(Path(folder) / f"jobs-{n}.db"), Path(folder) / f"{n}",
                                    rounds, n) for n in counts}
        if postgres_binaries() is None:
            return [Row("e store", f"PostgreSQL: {MISSING}", "not measured",
                        f"SQLite {sqlite[PROCESSES]:,.0f} calls/s", "")]
        postgres: dict[int, float] = {}
        with throwaway_postgres({"synchronous_commit": "off"}) as url:
            for n in counts:
                postgres[n] = ops_per_second(_fresh_database(url, n), Path(folder) / f"pg{n}",
                                             rounds, n)
    return [Row("e store", f"PostgreSQL store, {n} process{'es' if n > 1 else ''} x "
                f"{rounds:,} rounds of 5 calls", f"{postgres[n]:,.0f} calls/s",
                f"SQLite {sqlite[n]:,.0f} calls/s", f"{postgres[n] / sqlite[n]:.2f}x")
            for n in counts]


def _fresh_database(url: str, n: int) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE bench_{n}")
    return url.rsplit("/", 1)[0] + f"/bench_{n}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x fewer rounds")
    print_table(run(200 if parser.parse_args().quick else 2_000))


if __name__ == "__main__":
    main()
