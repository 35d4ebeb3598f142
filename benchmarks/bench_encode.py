"""(a) Encode chat requests with a response_model to OpenAI batch JSONL.

    python benchmarks/bench_encode.py [--quick]      # 200,000 requests (--quick: 20,000)

Baseline: the OpenAI cookbook's way — build the line's dict per request, ``json.dumps`` it,
write it — with the response_format (the model's strict schema) built once, as a careful
cookbook user would. batchkit is timed twice: the line codec alone (``OpenAIAdapter.encode``
and a write, the like-for-like comparison) and ``bk.encode`` (the whole planner: validation,
duplicate-id checks, sharding and the request index beside each payload file). Both start from
requests already in memory; what building the ``ChatRequest`` objects costs is its own row.
The target is set on the codec row, the like-for-like one: the planner row does the same
encoding plus per-request validation and a second (index) line, work the cookbook skips.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _bench import (
    SYSTEM,
    Row,
    Verdict,
    best_of,
    chat_request,
    email,
    print_table,
    rate,
)

import batchkit as bk
from batchkit.providers.openai.adapter import OpenAIAdapter
from batchkit.providers.openai.codec import strict_json_schema

MODEL = "gpt-4o-mini"
TARGET = 3.0


def cookbook(n: int, path: Path) -> None:
    response_format = {"type": "json_schema", "json_schema": {
        "name": "Verdict", "schema": strict_json_schema(Verdict), "strict": True}}
    with open(path, "w") as fh:
        for i in range(n):
            task = {
                "custom_id": f"email-{i}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {
                    "model": MODEL,
                    "messages": [{"role": "system", "content": SYSTEM},
                                 {"role": "user", "content": email(i)}],
                    "max_completion_tokens": 100,
                    "response_format": response_format,
                },
            }
            fh.write(json.dumps(task) + "\n")


def codec(requests: list[bk.ChatRequest], path: Path) -> None:
    adapter = OpenAIAdapter(MODEL)
    with open(path, "wb") as fh:
        for req in requests:
            fh.write(adapter.encode(req, req.custom_id))
            fh.write(b"\n")


def run(n: int, repeat: int = 3) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        build = best_of(1, lambda: [chat_request(i) for i in range(n)])
        requests = [chat_request(i) for i in range(n)]
        base = best_of(repeat, lambda: cookbook(n, folder / "cookbook.jsonl"))
        line = best_of(repeat, lambda: codec(requests, folder / "codec.jsonl"))
        plan = best_of(repeat, lambda: bk.encode(requests, f"openai:{MODEL}", folder / "plan"))
        same = _same_lines(folder / "cookbook.jsonl", folder / "codec.jsonl")
    cook = f"cookbook {rate(n, base)}"
    return [
        Row("a encode", f"codec {n:,} lines{'' if same else ' (LINES DIFFER)'}",
            rate(n, line), cook, f"{base / line:.1f}x", f">= {TARGET:.0f}x", base / line >= TARGET),
        Row("a encode", "bk.encode (validate+plan+index)", rate(n, plan), cook,
            f"{base / plan:.1f}x"),
        Row("a encode", "ChatRequest(...) build", rate(n, build), cook, f"{base / build:.1f}x"),
    ]


def _same_lines(a: Path, b: Path) -> bool:
    """Both files must say the same thing, or the comparison is between different jobs."""
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return all(json.loads(x) == json.loads(y) for x, y in zip(fa, fb, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 requests instead of 200,000")
    args = parser.parse_args()
    print_table(run(20_000 if args.quick else 200_000))


if __name__ == "__main__":
    main()
