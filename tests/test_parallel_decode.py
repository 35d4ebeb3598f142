"""A multi-shard job's results decoded in this process and forked ones equal the results
decoded in turn: same order, statuses, vectors, parsed replies, costs and unmatched lines,
whichever process decodes which pieces; a shard that fails in a forked process fails the same
way, and the pieces a process that dies had taken are decoded here."""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit import _collect, _job, _parallel
from batchkit._clock import Backoff

FAST = Backoff(initial=0.001, maximum=0.001)


class Label(BaseModel):
    label: str


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every job's results decode in 2 processes whatever their size; records the forks."""
    monkeypatch.setenv("BATCHKIT_DECODE_PROCESSES", "2")
    calls: list[int] = []
    real = _parallel.shards_in_processes

    def spy(*args: Any) -> AbstractContextManager[list[Any]]:
        calls.append(args[-1])
        return real(*args)

    monkeypatch.setattr(_collect, "shards_in_processes", spy)
    return calls


def embed_job(n: int = 60) -> bk.Job:
    reqs = [bk.EmbedRequest(custom_id=f"d{i}", text=f"doc {i}", metadata={"n": i})
            for i in range(n)]
    options = {"max_requests": 15, "errors": {"d3": "invalid_input", "d40": "server_error"},
               "missing": ["d17"]}
    return bk.submit(reqs, "fake:m", options=options).wait(backoff=FAST)


def in_turn(job: bk.Job, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> bk.ResultSet:
    with monkeypatch.context() as m:
        m.setenv("BATCHKIT_DECODE_PROCESSES", "1")
        return job.results(**kwargs)


def summary(results: bk.ResultSet) -> list[tuple[Any, ...]]:
    return [(r.custom_id, r.status, r.metadata, r.error and r.error.code, r.cost_usd, r.text,
             r.parsed) for r in results]


def test_embeddings_decoded_in_processes_equal_those_decoded_in_turn(
        forks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    job = embed_job()
    assert len(job.shards) == 4
    parallel = job.results()
    assert forks == [2]
    serial = in_turn(job, monkeypatch)
    assert forks == [2]  # the serial run did not fork
    assert summary(parallel) == summary(serial)
    assert [r.custom_id for r in parallel] == [f"d{i}" for i in range(60)]
    ok = [r for r in parallel if r.ok]
    assert np.array_equal(bk.ResultSet(ok).embeddings(),
                          bk.ResultSet([r for r in serial if r.ok]).embeddings())
    assert parallel.counts() == {"succeeded": 57, "errored": 3}


def test_lazy_walks_and_chat_with_a_response_model_too(
        forks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    reqs = bk.ChatRequest.batch([f"text {i}" for i in range(45)], response_model=Label)
    job = bk.submit(reqs, "fake:m", options={"max_requests": 10}).wait(backoff=FAST)
    lazy = job.results(lazy=True)
    assert summary(lazy) == summary(in_turn(job, monkeypatch))
    assert len(forks) == 1 and all(isinstance(r.parsed, Label) for r in lazy)


def test_a_job_whose_copies_share_results_across_shards_decodes_in_turn(
        forks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    reqs = [bk.EmbedRequest(custom_id=f"d{i}", text=f"doc {i % 20}") for i in range(60)]
    job = bk.submit(reqs, "fake:m", options={"max_requests": 15}).wait(backoff=FAST)
    results = job.results()
    assert forks == []  # copies point at other shards' results: not decodable apart
    assert [r.shared_from for r in results][20:23] == ["d0", "d1", "d2"]
    assert summary(results) == summary(in_turn(job, monkeypatch))


def test_one_process_unless_more_are_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATCHKIT_DECODE_PROCESSES", raising=False)
    assert _parallel.decode_processes(4, 100, lambda: 1 << 20) == 1
    monkeypatch.setenv("BATCHKIT_DECODE_PROCESSES", "8")
    assert _parallel.decode_processes(3, 10, lambda: 0) == 3  # never more than shards
    monkeypatch.setenv("BATCHKIT_DECODE_PROCESSES", "two")
    with pytest.raises(bk.ConfigError, match="BATCHKIT_DECODE_PROCESSES"):
        _parallel.decode_processes(4, 10, lambda: 0)


def _leaders_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process takes no pieces from the back of a forked process's shard: each shard is
    decoded whole by its leader (shards 0 and 2 of 4 by the forked process)."""
    parent, real = os.getpid(), _parallel._Claims.take

    def take(self: _parallel._Claims, index: int, from_back: bool) -> int | None:
        return None if from_back and os.getpid() == parent else real(self, index, from_back)

    monkeypatch.setattr(_parallel._Claims, "take", take)


def test_vectors_come_back_as_writable_rows_and_strays_of_a_forked_shard_are_kept(
        forks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """Shards 0 and 2 of 4 decoded by the forked process: their vectors arrive as rows of a
    mapped file (plain, writable arrays), and a line of theirs that names no request is kept."""
    job = embed_job()
    in_turn(job, monkeypatch)  # downloaded
    _leaders_only(monkeypatch)
    third = job.shards[2].result_paths
    assert third is not None
    with open(third[0], "rb+") as fh:  # a line under an id no request has, in shard 2
        line = fh.readline()
        fh.seek(0, 2)
        fh.write(line.replace(b'"d30"', b'"nobody"'))
    parallel = job.results()
    assert forks == [2]
    vector = parallel[44].embedding
    assert type(vector) is np.ndarray and vector.flags.writeable
    vector[0] = 7.0  # copy-on-write: the row file is not changed, nor any other result
    serial = in_turn(job, monkeypatch)
    assert serial[44].embedding is not None and serial[44].embedding[0] != 7.0
    assert [row["id"] for row in parallel.unmatched] == ["nobody"] == [
        row["id"] for row in serial.unmatched]


def _fail_in_forked_process(monkeypatch: pytest.MonkeyPatch, job: bk.Job, how: str) -> None:
    """Make the decoding of shard 2 (of 4) fail, but only in the forked process, which leads
    it (this process takes none of its pieces)."""
    parent, real = os.getpid(), _parallel.decode_piece
    paths = job.shards[2].result_paths
    assert paths is not None

    def failing(path: Any, *args: Any) -> None:
        if str(path) in paths and os.getpid() != parent:
            if how == "dies":
                os._exit(3)
            raise bk.ProviderError("shard 2: result file unreadable")
        real(path, *args)

    _leaders_only(monkeypatch)
    monkeypatch.setattr(_parallel, "decode_piece", failing)


def test_a_shard_that_fails_in_a_forked_process_is_the_same_one_line_error(
        forks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    job = embed_job()
    in_turn(job, monkeypatch)  # downloaded
    _fail_in_forked_process(monkeypatch, job, "raises")
    with pytest.raises(bk.ProviderError) as caught:
        job.results()
    assert forks == [2] and str(caught.value) == "shard 2: result file unreadable"


def test_a_forked_process_that_dies_has_its_pieces_decoded_here(
        forks: list[int], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    job = embed_job()
    serial = in_turn(job, monkeypatch)
    _fail_in_forked_process(monkeypatch, job, "dies")
    with caplog.at_level(logging.WARNING, logger="batchkit.decode"):
        parallel = job.results()
    assert forks == [2] and summary(parallel) == summary(serial)
    [warning] = [r.getMessage() for r in caplog.records if r.name == "batchkit.decode"]
    assert "ended unexpectedly" in warning and "\n" not in warning


def test_by_default_big_jobs_use_the_idle_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATCHKIT_DECODE_PROCESSES", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    big = lambda: 64 << 20  # noqa: E731
    monkeypatch.setattr(os, "getloadavg", lambda: (0.2, 0.0, 0.0))
    assert _parallel.decode_processes(4, 3_000, big) == 4  # 22 KB a result: embeddings
    assert _parallel.decode_processes(2, 3_000, big) == 2
    assert _parallel.decode_processes(4, 40_000, big) == 1  # 1.7 KB a result: chat replies
    assert _parallel.decode_processes(4, 100, lambda: 1 << 20) == 1  # small: not worth it
    monkeypatch.setattr(os, "getloadavg", lambda: (2.7, 0.0, 0.0))
    assert _parallel.decode_processes(4, 3_000, big) == 1  # others hold three of four cores
    monkeypatch.setattr(os, "getloadavg", lambda: (0.2, 0.0, 0.0))
    monkeypatch.setattr(threading, "active_count", lambda: 2)
    assert _parallel.decode_processes(4, 3_000, big) == 1  # a thread may hold a lock
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    assert _parallel.decode_processes(4, 3_000, big) == 1  # no fork: one process


class _Recorder:
    """Stands in for the process pool: records which shards are sent, runs nothing."""

    def __init__(self) -> None:
        self.sent: list[int] = []

    def submit(self, fn: Any, from_back: bool, index: int) -> Future[Any]:
        self.sent.append(index)
        return Future()


def _tasks(*indexes: int) -> list[Any]:
    return [(False, i) for i in indexes]


def test_forked_shards_are_sent_a_window_ahead_of_the_reader() -> None:
    """Results wait in memory for a few shards at most: two are sent at first, then one more
    each time the reader takes one; a shard the reader comes to first is sent at once."""
    pool = _Recorder()
    ahead = _parallel._Ahead(pool, _tasks(1, 3, 5, 7, 9), window=2)  # type: ignore[arg-type]
    assert pool.sent == [1, 3]
    ahead.take(*_tasks(1))
    assert pool.sent == [1, 3, 5]
    ahead.take(*_tasks(7))  # out of turn (another group's shards came first): sent now
    assert pool.sent == [1, 3, 5, 7, 9]
    ahead.take(*_tasks(3))
    ahead.take(*_tasks(5))
    ahead.take(*_tasks(9))
    assert pool.sent == [1, 3, 5, 7, 9] and not ahead.sent


def test_a_job_of_many_shards_decodes_in_turn_and_in_processes_alike(
        forks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    job = embed_job(95)  # 7 shards: this process leads 0, 2, 4, 6 (the last and every other
    # before it); the forked one the rest
    assert len(job.shards) == 7
    parallel = job.results(lazy=True)
    assert summary(parallel) == summary(in_turn(job, monkeypatch)) and forks == [2]
    assert np.array_equal(bk.ResultSet([r for r in parallel if r.ok]).embeddings(),
                          bk.ResultSet([r for r in in_turn(job, monkeypatch) if r.ok])
                          .embeddings())


def test_a_lazy_walk_downloads_in_this_process_only(
        forks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing downloaded yet: this process downloads every shard before forking, so a
    forked process never calls the vendor nor writes to the store."""
    parent, downloads = os.getpid(), []
    real = _collect.download_shard

    def only_here(*args: Any) -> Any:
        assert os.getpid() == parent, "a forked process downloaded a shard"
        downloads.append(args[2])
        return real(*args)

    monkeypatch.setattr(_job, "download_shard", only_here)
    job = embed_job()
    results = job.results(lazy=True)
    assert [r.custom_id for r in results] == [f"d{i}" for i in range(60)]
    assert forks == [2] and sorted(downloads) == [0, 1, 2, 3]


class _Pieces:
    """Shards cut into pieces of one line, one process made slow at decoding them (so that the
    other takes pieces of its shards from the back), and a record of which pieces this process
    decoded and of the row files that came back. ``dies_after=k``: the forked process dies as
    it begins its k-th piece (counted from 0)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, slow: str,
                 dies_after: int | None = None) -> None:
        parent, real_piece, real_back = os.getpid(), _parallel.decode_piece, _parallel._vectors_back
        self.here: list[tuple[str, int]] = []
        self.came_back: list[str] = []
        begun = [0]
        monkeypatch.setattr(_parallel, "_PIECE_BYTES", 1)

        def piece(path: Any, start: int, *args: Any) -> None:
            if os.getpid() == parent:
                self.here.append((str(path), start))
            elif dies_after is not None and begun[0] == dies_after:
                os._exit(3)
            begun[0] += 1
            if (os.getpid() == parent) == (slow == "here"):
                time.sleep(0.04)
            real_piece(path, start, *args)

        def back(results: Any, moved: Any, rows_file: Any) -> None:
            self.came_back.append(rows_file.name)
            real_back(results, moved, rows_file)

        monkeypatch.setattr(_parallel, "decode_piece", piece)
        monkeypatch.setattr(_parallel, "_vectors_back", back)

    def decoded_here(self, shard: Any) -> int:
        """How many pieces of ``shard`` this process decoded."""
        return sum(path in (shard.result_paths or []) for path, _ in self.here)


def errors(results: bk.ResultSet) -> list[tuple[str, str]]:
    return [(r.custom_id, r.error.message) for r in results if r.error]


def _bad_last_line(job: bk.Job, shard: int) -> None:
    """The last line of ``shard``'s result file unreadable: named by its line number."""
    paths = job.shards[shard].result_paths
    assert paths is not None
    with open(paths[0], "rb+") as fh:
        lines = fh.readlines()
        fh.seek(0)
        fh.writelines([*lines[:-1], lines[-1].replace(b'"embedding":[', b'"embedding":"x","y":[')])
        fh.truncate()


def same_as_in_turn(parallel: bk.ResultSet, serial: bk.ResultSet) -> bool:
    return (summary(parallel) == summary(serial) and errors(parallel) == errors(serial)
            and np.array_equal(bk.ResultSet([r for r in parallel if r.ok]).embeddings(),
                               bk.ResultSet([r for r in serial if r.ok]).embeddings()))


def test_pieces_of_this_processs_shards_taken_by_the_forked_one_come_back_in_place(
        forks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    job = embed_job()
    in_turn(job, monkeypatch)  # downloaded
    _bad_last_line(job, 3)  # shard 3 is led here
    serial = in_turn(job, monkeypatch)
    pieces = _Pieces(monkeypatch, slow="here")
    parallel = job.results()
    assert any(name.startswith("back-") for name in pieces.came_back)  # taken there
    assert same_as_in_turn(parallel, serial)
    assert any("line 15" in message for _, message in errors(parallel))


def test_this_process_takes_pieces_of_a_slow_forked_leaders_shards(
        forks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """While it waits for the forked process's pieces of shards 0 and 2, this process decodes
    theirs from the back; they fit in place, a bad line among them named by its number."""
    job = embed_job()
    in_turn(job, monkeypatch)  # downloaded
    _bad_last_line(job, 2)
    serial = in_turn(job, monkeypatch)
    pieces = _Pieces(monkeypatch, slow="there")
    parallel = job.results()
    assert pieces.decoded_here(job.shards[0]) > 0 and pieces.decoded_here(job.shards[2]) > 0
    assert any(name.startswith("front-") for name in pieces.came_back)  # and some there
    assert same_as_in_turn(parallel, serial)
    assert any("line 15" in message for _, message in errors(parallel))


@pytest.mark.parametrize("dies_after", [0, 3])
def test_pieces_a_dying_process_took_are_decoded_here(
        forks: list[int], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, dies_after: int) -> None:
    """It dies as it begins the first piece of shard 0 (it leads it), or the fourth: the
    pieces it had taken (never sent), those nobody took yet and those taken here all end up
    decoded here, this process being slow at taking them from the back."""
    job = embed_job()
    serial = in_turn(job, monkeypatch)
    pieces = _Pieces(monkeypatch, slow="here", dies_after=dies_after)
    with caplog.at_level(logging.WARNING, logger="batchkit.decode"):
        parallel = job.results()
    assert same_as_in_turn(parallel, serial)
    assert pieces.decoded_here(job.shards[0]) == 15  # every line of the shard it led
    [warning] = [r.getMessage() for r in caplog.records if r.name == "batchkit.decode"]
    assert "ended unexpectedly" in warning


def test_a_job_of_two_groups_read_side_by_side(
        forks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """Embeddings and chat replies are two groups of shards, read side by side (merged by
    position): here shard 3 (embeddings from position 21) is read before shard 2 (chat from
    position 20), since the first embedding shard ends before the first chat one. This process
    leads 1 and 3, and decodes ahead only into a shard it has not come to yet."""
    def embed(i: int) -> bk.EmbedRequest:
        return bk.EmbedRequest(custom_id=f"e{i}", text=f"doc {i}")

    def chat(i: int) -> bk.ChatRequest:
        return bk.ChatRequest(custom_id=f"c{i}", messages=[{"role": "user", "content": f"{i}"}])

    reqs = [*map(embed, range(10)), *map(chat, range(11)), embed(10)]
    reqs += [made(i) for i in range(11, 20) for made in (chat, embed)]
    job = bk.submit(reqs, "fake:m", options={"max_requests": 10}).wait(backoff=FAST)
    assert [shard.group for shard in job.shards] == ["embed", "chat", "chat", "embed"]
    serial = in_turn(job, monkeypatch)
    _Pieces(monkeypatch, slow="there")
    parallel = job.results()
    assert summary(parallel) == summary(serial) and forks == [2]
    vectors = [bk.ResultSet([r for r in results if r.embedding is not None]).embeddings()
               for results in (parallel, serial)]
    assert vectors[0].shape == (20, 8) and np.array_equal(*vectors)
