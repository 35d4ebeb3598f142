"""The Batcher: many awaited calls become few vendor batches, each caller gets its own result,
one caller's cancel leaves the others alone, and a crash between flush and result re-attaches."""

from __future__ import annotations

import asyncio
import math
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import batchkit as bk
from batchkit.testing._fake import fake_realtime_calls, fake_submissions

from .._subprocess import keyless_env


def _chat(i: int) -> bk.ChatRequest:
    return bk.ChatRequest(custom_id=f"c{i}", metadata={"caller": i},
                          messages=[bk.Message(role="user", content=f"question {i}")])


def test_500_coroutines_become_few_batches_each_with_its_own_result() -> None:
    max_size = 120

    async def main() -> list[bk.Result]:
        async with bk.Batcher("fake:m", max_size=max_size, max_wait_s=0.2) as batcher:
            return await asyncio.gather(*(batcher.complete(_chat(i)) for i in range(500)))

    results = asyncio.run(main())
    assert [r.custom_id for r in results] == [f"c{i}" for i in range(500)]
    assert [r.text for r in results] == [f"echo: question {i}" for i in range(500)]
    assert [r.metadata for r in results] == [{"caller": i} for i in range(500)]
    batches = fake_submissions()
    assert 1 <= len(batches) <= math.ceil(500 / max_size)
    assert set(batches.values()) == {1}


def test_cancelling_one_caller_leaves_the_others() -> None:
    async def main() -> tuple[list[bk.Result], bool]:
        async with bk.Batcher("fake:m", max_size=1000, max_wait_s=0.3) as batcher:
            tasks = [asyncio.create_task(batcher.complete(_chat(i))) for i in range(10)]
            await asyncio.sleep(0.05)
            tasks[3].cancel()
            done = await asyncio.gather(*tasks, return_exceptions=True)
        return [r for r in done if isinstance(r, bk.Result)], tasks[3].cancelled()

    results, cancelled = asyncio.run(main())
    assert cancelled
    assert [r.custom_id for r in results] == [f"c{i}" for i in range(10) if i != 3]
    assert all(r.status == "succeeded" for r in results)


def test_auto_mode_sends_a_caller_with_a_deadline_in_real_time() -> None:
    async def main() -> tuple[bk.Result, bk.Result]:
        async with bk.Batcher("fake:m", max_size=1000, max_wait_s=0.2, mode="auto",
                              options={"realtime_below": 0}) as batcher:
            return await asyncio.gather(batcher.complete(_chat(1), deadline_s=5),
                                        batcher.complete(_chat(2)))

    urgent, patient = asyncio.run(main())
    assert urgent.text == "echo: question 1" and patient.text == "echo: question 2"
    assert list(fake_realtime_calls().values()) == [1]  # the urgent caller, in real time
    assert len(fake_submissions()) == 1  # only the patient caller went by batch


CRASH_SCRIPT = textwrap.dedent(
    """
    import asyncio, batchkit as bk
    async def main():
        batcher = bk.Batcher("fake:m", max_size=25, max_wait_s=30, name="agents")
        requests = [bk.ChatRequest(custom_id=f"c{i}", messages=[{"role": "user",
                    "content": f"question {i}"}]) for i in range(25)]
        await asyncio.gather(*(batcher.complete(r) for r in requests))
    asyncio.run(main())
    print("finished without being killed")
    """
)


def test_crash_between_flush_and_result_reattaches(_isolated_home: Path) -> None:
    # the first process flushes one job of 25 and dies right after the vendor accepted it
    proc = subprocess.run([sys.executable, "-c", CRASH_SCRIPT], capture_output=True, text=True,
                          env=keyless_env(_isolated_home, BATCHKIT_FAKE_KILL_AT="after_submit:0"),
                          timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert len(fake_submissions()) == 1

    async def restart() -> tuple[list[bk.Job], list[bk.Job], list[bk.Result]]:
        batcher = bk.Batcher("fake:m", max_size=25, max_wait_s=0.2, name="agents")
        recovered = await batcher.recover()
        again = await batcher.recover()  # already re-attached: nothing more
        results = await asyncio.gather(*(batcher.complete(_chat(i)) for i in range(40)))
        await batcher.aclose()
        return recovered, again, results

    recovered, again, results = asyncio.run(restart())
    assert len(recovered) == 1 and again == []
    assert [r.text for r in results] == [f"echo: question {i}" for i in range(40)]
    assert [r.custom_id for r in results] == [f"c{i}" for i in range(40)]
    batches = fake_submissions()
    # the crashed job's batch was re-attached, not bought again; only c25..c39 were new
    assert set(batches.values()) == {1}
    assert len(batches) == 2
    assert bk.get_job(recovered[0].id).state == bk.JobState.COMPLETED


def test_batcher_refuses_bad_settings() -> None:
    with pytest.raises(bk.ConfigError, match="mode"):
        bk.Batcher("fake:m", mode="realtime")
    with pytest.raises(bk.ConfigError, match="max_size"):
        bk.Batcher("fake:m", max_size=0)
