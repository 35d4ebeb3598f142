"""(g) Real-time mode against a rate-limited account: batchkit's limiter vs a naive gather.

    python benchmarks/bench_realtime.py [--quick]    # 2,000 requests (--quick: 300)

The OpenAI emulator's synchronous endpoint is limited to 600 requests/min and 200,000
tokens/min (buckets that hold one second of each, as OpenAI enforces limits over short
windows), and every call takes 100 ms. Both runs send the same chat requests (``max_tokens``
250) through the official ``openai`` SDK:

* batchkit: ``bk.run(requests, mode="realtime")`` with nothing configured; it learns the limit
  from the ``x-ratelimit-*`` headers;
* baseline: what people write first, ``asyncio.gather`` over ``AsyncOpenAI`` calls under a
  semaphore of 64, sleeping the ``retry-after`` on each 429 (and 0.1 s on a refused
  connection) and trying again, up to 20 tries; the SDK's own retries off, so every 429 is
  counted.

Reported: requests answered (and lost), wall time, throughput against the limit, and the
share of calls answered 429, counted by the emulator for each run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from typing import Any

from _bench import Row, print_table

import batchkit as bk
from batchkit.testing import emulate

RPM, TPM, LATENCY_S = 600, 200_000, 0.1
MODEL = "gpt-4o-mini"
_NAIVE_TRIES = 20


def requests(n: int, tag: str) -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"{tag}-{i}", max_tokens=250, messages=[
        bk.Message(role="user", content=f"Summarise ticket {tag}-{i} in one line.")])
        for i in range(n)]


def _reset(app: Any) -> None:
    """A fresh account between runs: full buckets, zero counters."""
    time.sleep(2.0)
    app.realtime = type(app.realtime)(app._respond)
    app.realtime.rpm, app.realtime.tpm, app.realtime.latency_s = RPM, TPM, LATENCY_S


def run_batchkit(app: Any, n: int) -> dict[str, float]:
    start = time.perf_counter()
    results = bk.run(requests(n, "bk"), f"openai:{MODEL}", mode="realtime")
    seconds = time.perf_counter() - start
    return {"ok": results.counts().get("succeeded", 0), "seconds": seconds,
            "calls": app.realtime.calls, "limited": app.realtime.rate_limited}


def run_naive(app: Any, base_url: str, n: int) -> dict[str, float]:
    import openai

    async def main() -> tuple[int, int]:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-emulator", max_retries=0)
        gate = asyncio.Semaphore(64)
        retries = 0

        async def one(request: bk.ChatRequest) -> bool:
            nonlocal retries
            async with gate:
                for _ in range(_NAIVE_TRIES):
                    try:
                        await client.chat.completions.create(
                            model=MODEL, max_tokens=250,
                            messages=[{"role": "user", "content": request.messages[0].text}])
                        return True
                    except openai.RateLimitError as exc:
                        retries += 1
                        await asyncio.sleep(float(exc.response.headers.get("retry-after", 1)))
                    except openai.APIConnectionError:  # the local server's accept queue
                        retries += 1
                        await asyncio.sleep(0.1)
                return False

        done = await asyncio.gather(*(one(r) for r in requests(n, "naive")))
        await client.close()
        return sum(done), retries

    start = time.perf_counter()
    ok, _ = asyncio.run(main())
    seconds = time.perf_counter() - start
    return {"ok": ok, "seconds": seconds, "calls": app.realtime.calls,
            "limited": app.realtime.rate_limited}


def run(n: int) -> list[Row]:
    with tempfile.TemporaryDirectory() as home, emulate(providers=["openai"]) as handle:
        os.environ["BATCHKIT_HOME"] = home
        app = handle.apps["openai"]
        _reset(app)
        ours = run_batchkit(app, n)
        _reset(app)
        naive = run_naive(app, f"{handle.base_url('openai')}/v1", n)
    limit_per_s = RPM / 60

    def share(run: dict[str, float]) -> str:
        return f"{run['limited'] / max(1, run['calls']):.1%} of {run['calls']:,.0f} calls"

    def throughput(run: dict[str, float]) -> float:
        return run["ok"] / run["seconds"] / limit_per_s

    return [
        Row("g realtime", f"bk.run realtime {n:,} reqs: answered",
            f"{ours['ok']:,.0f} ({n - ours['ok']:,.0f} lost)",
            f"gather+sem64 {naive['ok']:,.0f} ({n - naive['ok']:,.0f} lost)", "",
            "0 lost", ours["ok"] == n),
        Row("g realtime", "wall time", f"{ours['seconds']:.1f} s",
            f"{naive['seconds']:.1f} s", f"{naive['seconds'] / ours['seconds']:.2f}x"),
        Row("g realtime", f"throughput vs the {RPM} rpm limit", f"{throughput(ours):.0%}",
            f"{throughput(naive):.0%}", "", ">= 90%", throughput(ours) >= 0.9),
        Row("g realtime", "calls answered 429", share(ours), share(naive), "",
            "< 1%", ours["limited"] / max(1, ours["calls"]) < 0.01),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 requests, not 2,000")
    args = parser.parse_args()
    print_table(run(300 if args.quick else 2000))


if __name__ == "__main__":
    main()
