"""Store integrity: the job folders' own journals, and the checks that keep a lost store loud.

Why: the store is one file, and a file can be truncated by a crash or a disk tool, or have its
header overwritten. SQLite takes a zero-byte file for a new, empty database, so without these
checks ``batchkit list`` would show nothing while the vendor batches go on running and billing.

Every job folder therefore keeps ``journal.jsonl``, an append-only copy of what the store
learns that cannot be asked of the vendor again: the job record and its shards (written before
the store commits them), when a shard's create was first tried, the vendor id it got, its end
state and a cancel. Each entry is one ``write`` on a file opened for appending.

Before a store is opened its file is checked (missing or empty while journaled job folders
exist, a foreign header, shorter than its header says), and after it is opened an empty
``jobs`` table over journaled folders is refused the same way: a one-line :class:`StoreError`
naming ``batchkit doctor --rebuild``, which rebuilds the store from the journals
(:func:`rebuild_store`) and leaves the broken file beside it.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .._exceptions import StoreError
from .._state import JobState
from ._records import JobRecord, ShardRecord

__all__ = [
    "JOURNAL_NAME",
    "Replayed",
    "append_journal",
    "backup_before_migrations",
    "check_before_open",
    "file_problem",
    "job_entry",
    "jobs_dir_for",
    "journaled_folders",
    "journaled_positions",
    "refuse_forgotten_jobs",
    "replay_journal",
    "set_aside",
    "shard_entry",
    "store_label",
]

JOURNAL_NAME = "journal.jsonl"
_SQLITE_MAGIC = b"SQLite format 3\x00"
REBUILD_HINT = "run `batchkit doctor --rebuild` to rebuild it from the job folders"
_IN_FLIGHT_SECONDS = 30.0


def jobs_dir_for(store_path: str | Path) -> Path:
    """Where the job folders of the store at ``store_path`` live: ``jobs/`` beside it."""
    return Path(store_path).parent / "jobs"


def store_label(store_path: str) -> str:
    """How a journal names its store: its absolute path (``:memory:`` as itself). A store
    moved with its ``jobs/`` folder still matches, by file name (see ``_belongs``)."""
    return store_path if store_path == ":memory:" else os.path.abspath(store_path)


def _belongs(journal_store: str, store_path: Path, folder: Path) -> bool:
    if journal_store == ":memory:":
        return False
    if journal_store == str(store_path.absolute()):
        return True
    recorded = Path(journal_store)  # moved together: same file name, beside the same jobs/
    return recorded.name == store_path.name and folder.parent == jobs_dir_for(store_path)


def journaled_folders(store_path: str | Path, *, settled: bool = False) -> list[Path]:
    """Job folders beside the store whose journal says they belong to it, oldest name first.

    ``settled=True`` leaves out jobs journaled in the last ``_IN_FLIGHT_SECONDS``: a job's
    journal is written just before the store commits it, so a store read in between may
    rightly not have it yet.
    """
    path = Path(store_path)
    recent = time.time() - _IN_FLIGHT_SECONDS
    jobs = jobs_dir_for(path)
    if str(store_path) == ":memory:" or not jobs.is_dir():
        return []
    found = []
    for folder in sorted(jobs.iterdir()):
        first = _first_entry(folder / JOURNAL_NAME)
        if first is None or not _belongs(str(first.get("store", "")), path, folder):
            continue
        if not settled or float(first.get("created_at") or 0) < recent:
            found.append(folder)
    return found


def _first_entry(journal: Path) -> dict[str, Any] | None:
    try:
        with open(journal, "rb") as fh:
            line = fh.readline()
        entry = orjson.loads(line)
    except (OSError, orjson.JSONDecodeError):
        return None
    return entry if isinstance(entry, dict) and entry.get("ev") == "job" else None


def file_problem(path: Path) -> str | None:
    """What is wrong with a store file before SQLite reads it; None when it looks sound.

    Reads the 100-byte header only: the SQLite magic, and the page count times the page size
    against the file's length (the count is trusted only when its version stamp matches, as
    SQLite itself does, and only with an empty write-ahead log: while the log holds pages, a
    checkpoint may have written the new header before the pages that grow the file).
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            header = fh.read(100)
    except FileNotFoundError:
        return "is missing"
    if size == 0:
        return "is empty (0 bytes)"
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        return "is not a SQLite database (its header is overwritten or cut)"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size:  # a checkpoint may be growing the file right now
        return None
    if pages and header[24:28] == header[92:96] and size < pages * page_size:
        return f"is truncated ({size:,} bytes of the {pages * page_size:,} its header states)"
    return None


def check_before_open(path: Path) -> None:
    """Refuse to open a store file that would silently start empty or read as garbage.

    A missing or empty file is fine for a new store, and refused when job folders beside it
    hold journaled jobs; a foreign or truncated file is always refused.
    """
    problem = file_problem(path)
    if problem is None:
        return
    if problem in ("is missing", "is empty (0 bytes)"):
        folders = journaled_folders(path)
        if not folders:
            return
        problem += f", but {len(folders)} job folder(s) under {jobs_dir_for(path)} hold jobs"
    raise StoreError(f"job store {path} {problem}; {REBUILD_HINT}")


def refuse_forgotten_jobs(path: str, has_jobs: bool) -> None:
    """Refuse a readable store that holds no job while journaled job folders exist."""
    if has_jobs or path == ":memory:":
        return
    folders = journaled_folders(path, settled=True)
    if folders:
        raise StoreError(
            f"job store {path} holds no job, but {len(folders)} job folder(s) under "
            f"{jobs_dir_for(path)} do; {REBUILD_HINT}"
        )


# -- the journal --------------------------------------------------------------------------------


def append_journal(folder: str | Path, entry: dict[str, Any]) -> None:
    """Append one entry to a job folder's journal (one write; a folder gone is skipped: with
    nothing left in it, there is nothing a journal could rebuild)."""
    target = Path(folder)
    if not target.is_dir():
        return
    try:
        fd = os.open(target / JOURNAL_NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, orjson.dumps(entry) + b"\n")
        finally:
            os.close(fd)
    except OSError as exc:  # a full disk, a read-only folder: say so, in batchkit's words
        raise StoreError(f"cannot write the job journal in {target}: {exc.strerror}") from None


def shard_entry(shard: ShardRecord) -> dict[str, Any]:
    return {
        "idx": shard.index, "key": shard.key, "grp": shard.group, "n": shard.request_count,
        "payload": shard.payload_path, "requests": shard.requests_path,
        "state": shard.state.value, "attempt": shard.attempt, "tk": shard.input_tokens,
    }


def job_entry(store_path: str, job: JobRecord, shards: list[ShardRecord]) -> dict[str, Any]:
    return {
        "ev": "job", "store": store_label(store_path), "id": job.id, "provider": job.provider,
        "n": job.request_count, "options": job.options, "created_at": job.created_at,
        "estimate": job.estimate, "retries": job.retries,
        "shards": [shard_entry(s) for s in shards],
    }


@dataclass
class Replayed:
    """A job as its folder's journal tells it, ready to be restored into a store."""

    job: JobRecord
    shards: list[ShardRecord] = field(default_factory=list)


def replay_journal(folder: Path) -> Replayed:
    """Rebuild a job's records from its journal; paths follow the folder if it was moved."""
    entries = list(_entries(folder / JOURNAL_NAME))
    head = entries[0] if entries else {}
    if head.get("ev") != "job":
        raise StoreError(f"{folder / JOURNAL_NAME} does not start with a job entry")
    job = JobRecord(
        id=head["id"], provider=head["provider"], state=JobState.PENDING,
        request_count=head["n"], folder=str(folder), options=head.get("options") or {},
        created_at=head["created_at"], updated_at=head["created_at"],
        estimate=head.get("estimate"), retries=head.get("retries", 0),
    )
    shards: dict[int, ShardRecord] = {}
    for entry in entries:
        kind = entry.get("ev")
        if kind in ("job", "shards"):
            for s in entry["shards"]:
                shards[s["idx"]] = ShardRecord(
                    job_id=job.id, index=s["idx"], key=s["key"], group=s["grp"],
                    request_count=s["n"], payload_path=_moved(s["payload"], folder),
                    requests_path=_moved(s["requests"], folder), state=JobState(s["state"]),
                    attempt=s.get("attempt", 1), input_tokens=s.get("tk"),
                )
        elif kind == "cancel":
            job.cancel_requested = True
        elif entry.get("idx") in shards:
            _apply(shards[entry["idx"]], entry, folder)
    return Replayed(job, [shards[i] for i in sorted(shards)])


def journaled_positions(folder: str | Path, index: int) -> list[int] | None:
    """The input positions a retry shard ``index`` holds, as its journal entry lists them
    (None: the journal has no such entry, e.g. a job journaled before positions were)."""
    journal = Path(folder) / JOURNAL_NAME
    if not journal.exists():
        return None
    found = None
    for entry in _entries(journal):
        if entry.get("ev") == "shards":
            for s in entry["shards"]:
                if s.get("idx") == index and "pos" in s:
                    found = [int(p) for p in s["pos"]]
    return found


def _apply(shard: ShardRecord, entry: dict[str, Any], folder: Path) -> None:
    kind = entry.get("ev")
    if kind == "send_started" and shard.send_started is None:
        shard.send_started = entry["at"]
    elif kind == "remote" and shard.remote_id is None:
        shard.remote_id = entry["remote_id"]
    elif kind == "end":
        shard.state = JobState(entry["state"])
        shard.vendor_status = entry.get("status")
        shard.errors = entry.get("errors") or []
    elif kind == "files":  # kept only while all there: a vendor's files are fetched again
        paths = [str(folder / p) for p in entry["paths"]]
        shard.result_paths = paths if all(Path(p).exists() for p in paths) else None


def _moved(recorded: str, folder: Path) -> str:
    """A journaled file path, re-rooted in ``folder`` (where the journal was found)."""
    return str(folder / Path(recorded).name)


def _entries(journal: Path) -> Iterator[dict[str, Any]]:
    """The journal's entries; a last line cut by a crash mid-write is skipped."""
    with open(journal, "rb") as fh:
        for raw in fh:
            try:
                entry = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(entry, dict):
                yield entry


def backup_before_migrations(conn: sqlite3.Connection, path: str, names: list[str]) -> None:
    """Copy a store that is about to be migrated to ``<file>.before-<first pending migration>``.

    Why: a migration is the one write that changes what every row means; if it goes wrong
    halfway (a full disk, a bug), the copy is the store as it was. A new store (no migration
    applied yet) has nothing to keep. Uses SQLite's online backup, so readers carry on.
    """
    if path == ":memory:" or not conn.execute(
        "SELECT 1 FROM sqlite_master WHERE name = '_migrations'"
    ).fetchone():
        return
    done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    pending = [name for name in names if name not in done]
    if not done or not pending:
        return
    target = Path(path).with_name(f"{Path(path).name}.before-{pending[0]}")
    fd = os.open(target, os.O_CREAT | os.O_WRONLY, 0o600)  # private before any row lands
    os.close(fd)
    copy = sqlite3.connect(target)
    try:
        conn.backup(copy)
    finally:
        copy.close()


def set_aside(path: Path) -> Path | None:
    """Rename a broken store (and its WAL files) out of the way, keeping it for a post-mortem;
    returns where the database file went (None if there was none)."""
    if not path.exists():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    kept = path.with_name(f"{path.name}.broken-{stamp}")
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, kept.with_name(kept.name + suffix))
    os.replace(path, kept)
    return kept
