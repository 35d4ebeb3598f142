"""What :func:`batchkit.index` keeps between runs so a crash never costs a second embedding.

For each sink, a folder ``$BATCHKIT_HOME/indexes/<digest of the sink URL>/`` holds:

* ``job-<token>.jsonl`` — the chunks of the embedding job in flight, one line per request, in
  request order (the job's results come back in that order, so line ``i`` is result ``i``);
* ``job.json`` — which job that is. It is written *before* the job is submitted (provider,
  request count, start time), and the job id is added once ``submit`` returns.

While ``job.json`` exists, the job's results are still owed to the sink. A re-run after a kill
(during the submission, the wait, the download or the upserts) re-attaches to that job and
upserts whatever of it the corpus still needs, instead of submitting those chunks again; the
files are removed once every result is in the sink. A kill inside ``submit`` leaves no job id
in ``job.json``: the re-run then looks in the job store for the job this run journaled (same
provider and request count, created after the start time) and resumes it; finding none means
nothing was journaled, so nothing was sent.

One run per sink at a time: ``lock`` holds an exclusive lock on the folder for the run, and a
second run is refused at once rather than left to delete the first one's spool.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ._config import batchkit_home
from ._exceptions import ConfigError

__all__ = ["Flight", "IndexState", "SpooledChunk", "read_spool"]


@dataclass(frozen=True, slots=True)
class SpooledChunk:
    """A chunk waiting for its vector: everything the sink row needs except the vector."""

    id: str
    doc_id: str
    number: int
    text: str
    hash: str
    metadata: dict[str, Any]

    def line(self) -> bytes:
        return orjson.dumps([self.id, self.doc_id, self.number, self.text, self.hash,
                             self.metadata]) + b"\n"

    @classmethod
    def parse(cls, line: bytes) -> SpooledChunk:
        chunk_id, doc_id, number, text, content_hash, metadata = orjson.loads(line)
        return cls(chunk_id, doc_id, number, text, content_hash, metadata)


@dataclass(frozen=True, slots=True)
class Flight:
    """The job whose results are owed to the sink (``job_id`` None: killed inside submit)."""

    job_id: str | None
    spool: Path
    provider: str
    requests: int
    since: float


def read_spool(path: Path) -> Iterator[SpooledChunk]:
    with path.open("rb") as fh:
        for line in fh:
            yield SpooledChunk.parse(line)


class IndexState:
    """The spool files and the in-flight job pointer of one sink (see the module docstring)."""

    def __init__(self, sink_url: str) -> None:
        digest = hashlib.blake2b(sink_url.encode(), digest_size=10).hexdigest()
        self.folder = batchkit_home() / "indexes" / digest
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._pointer = self.folder / "job.json"

    @contextlib.contextmanager
    def lock(self, what: str) -> Iterator[None]:
        """Hold this sink's index lock for a run (``what`` names the sink in the refusal)."""
        try:
            import fcntl
        except ImportError:  # not POSIX: runs are not guarded against each other
            yield
            return
        with open(self.folder / "lock", "a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConfigError(f"another bk.index run is writing to {what}; "
                                  "wait for it to finish") from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def new_spool(self, kind: str) -> Path:
        """A fresh spool file name (not yet created)."""
        return self.folder / f"{kind}-{secrets.token_hex(6)}.jsonl"

    def job_in_flight(self) -> Flight | None:
        """The job whose results are still owed to the sink, if any."""
        if not self._pointer.exists():
            return None
        data = orjson.loads(self._pointer.read_bytes())
        spool = self.folder / data["spool"]
        if not spool.exists():
            return None
        return Flight(data.get("job_id"), spool, data["provider"], data["requests"], data["since"])

    def start_flight(self, spool: Path, provider: str, requests: int) -> Flight:
        """Record the job about to be submitted, before the vendor can see any of it."""
        flight = Flight(None, spool, provider, requests, time.time())
        self._write(flight)
        return flight

    def set_job_id(self, flight: Flight, job_id: str) -> None:
        self._write(Flight(job_id, flight.spool, flight.provider, flight.requests, flight.since))

    def _write(self, flight: Flight) -> None:
        temporary = self._pointer.with_suffix(".tmp")
        temporary.write_bytes(orjson.dumps({
            "job_id": flight.job_id, "spool": flight.spool.name, "provider": flight.provider,
            "requests": flight.requests, "since": flight.since}))
        os.replace(temporary, self._pointer)

    def clear_job_in_flight(self) -> None:
        """Every result of the job is in the sink: forget it and its spool."""
        flight = self.job_in_flight()
        self._pointer.unlink(missing_ok=True)
        if flight is not None:
            flight.spool.unlink(missing_ok=True)

    def remove_stale_spools(self, keep: set[Path]) -> None:
        """Spools left by runs killed before their job was journaled hold nothing owed."""
        for path in self.folder.glob("*.jsonl"):
            if path not in keep:
                path.unlink(missing_ok=True)
