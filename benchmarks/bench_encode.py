"""(a) Encode chat requests with a response_model to OpenAI batch JSONL.

    python benchmarks/bench_encode.py [--quick]      # 200,000 requests (--quick: 20,000)

Baseline: the OpenAI cookbook's way — build the line's dict per request, ``json.dumps`` it,
write it — with the response_format (the model's strict schema) built once, as a careful
cookbook user would; and the same loop with ``orjson.dumps``, the limit of a dict-per-line
encoder. batchkit is timed as the line codec alone (``OpenAIAdapter.encode`` and a write, the
like-for-like comparison) and as ``bk.encode`` (the whole planner: validation, duplicate-id
checks, sharding and the request index beside each payload file), both from requests already
in memory, and beside it the least any planner writing the same two files can cost: a bare loop
writing each payload line and index line with ``orjson.dumps`` (the schema spliced once, no
checks, no sharding); then building the requests (``ChatRequest(...)`` one by one, and
``ChatRequest.batch``), and texts to a vendor file with the requests' building included
(``bk.encode(bk.ChatRequest.batch(texts, ...))``), the job the cookbook loop does.

The steps run in turn, three rounds, and each one's fastest run is its figure; every run's
files are removed before the next step starts, so no step is timed beside another's writes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import orjson
from _bench import (
    SYSTEM,
    Row,
    Verdict,
    best_of,
    best_of_each,
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
ENCODE_TARGET = 4.0
TEXTS_TARGET = 1.5


def cookbook(texts: list[str], path: Path, dumps: Callable[[object], str] = json.dumps) -> None:
    response_format = {"type": "json_schema", "json_schema": {
        "name": "Verdict", "schema": strict_json_schema(Verdict), "strict": True}}
    with open(path, "w") as fh:
        for i, text in enumerate(texts):
            task = {
                "custom_id": f"email-{i}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {
                    "model": MODEL,
                    "messages": [{"role": "system", "content": SYSTEM},
                                 {"role": "user", "content": text}],
                    "max_completion_tokens": 100,
                    "response_format": response_format,
                },
            }
            fh.write(dumps(task) + "\n")


def orjson_loop(texts: list[str], path: Path) -> None:
    """The cookbook loop with ``orjson.dumps``: what a dict per line costs at best."""
    cookbook(texts, path, lambda task: orjson.dumps(task).decode())


def texts_to_file(texts: list[str], folder: Path) -> None:
    """batchkit from the same texts: the requests built in bulk, then the whole planner."""
    ids = (f"email-{i}" for i in range(len(texts)))
    bk.encode(bk.ChatRequest.batch(texts, custom_ids=ids, system=SYSTEM, response_model=Verdict,
                                   max_tokens=100), f"openai:{MODEL}", folder)


def bare_planner(requests: list[bk.ChatRequest], folder: Path) -> None:
    """What ``bk.encode`` writes (each payload line and its request-index line), by the shortest
    loop that writes it: orjson, the schema serialized once, no checks, one shard."""
    response_format = orjson.Fragment(orjson.dumps({"type": "json_schema", "json_schema": {
        "name": "Verdict", "schema": strict_json_schema(Verdict), "strict": True}}))
    folder.mkdir(exist_ok=True)
    model_path = f"{Verdict.__module__}:{Verdict.__qualname__}"
    with open(folder / "payload.jsonl", "wb") as payload, open(folder / "index.jsonl",
                                                               "wb") as index:
        for i, req in enumerate(requests):
            payload.write(orjson.dumps({
                "custom_id": req.custom_id, "method": "POST", "url": "/v1/chat/completions",
                "body": {"model": MODEL, "messages": [{"role": m.role, "content": m.content}
                                                      for m in req.messages],
                         "max_completion_tokens": req.max_tokens,
                         "response_format": response_format}}) + b"\n")
            index.write(orjson.dumps({"i": i, "id": req.custom_id, "vid": req.custom_id,
                                      "ln": i + 1, "md": req.metadata, "rm": model_path})
                        + b"\n")


def batch_build(texts: list[str]) -> list[bk.ChatRequest]:
    ids = (f"email-{i}" for i in range(len(texts)))
    return list(bk.ChatRequest.batch(texts, custom_ids=ids, system=SYSTEM,
                                     response_model=Verdict, max_tokens=100))


def codec(requests: list[bk.ChatRequest], path: Path) -> None:
    adapter = OpenAIAdapter(MODEL)
    with open(path, "wb") as fh:
        for req in requests:
            fh.write(adapter.encode(req, req.custom_id))
            fh.write(b"\n")


def run(n: int, repeat: int = 3) -> list[Row]:
    texts = [email(i) for i in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        build = best_of(1, lambda: [chat_request(i) for i in range(n)])
        requests = [chat_request(i) for i in range(n)]
        steps: dict[str, Callable[[], object]] = {
            "cookbook": lambda: cookbook(texts, folder / "cookbook.jsonl"),
            "bk.encode": lambda: bk.encode(requests, f"openai:{MODEL}", folder / "plan"),
            "orjson": lambda: orjson_loop(texts, folder / "orjson.jsonl"),
            "codec": lambda: codec(requests, folder / "codec.jsonl"),
            "bare": lambda: bare_planner(requests, folder / "bare"),
            "texts": lambda: texts_to_file(texts, folder / "texts"),
            "batch": lambda: batch_build(texts),
        }
        # One untimed run of each first, whose files are compared (the figures must be of the
        # same job) and then removed, as every timed run's are: no step runs beside the page
        # cache and disk writeback of hundreds of MB an earlier one wrote.
        for step in steps.values():
            step()
        same = (_same_lines(folder / "cookbook.jsonl", folder / "codec.jsonl")
                and _same_lines(folder / "cookbook.jsonl", folder / "orjson.jsonl"))
        # The bare loop's payload is bk.encode's, byte for byte (its shards, in order, joined).
        same_bare = (folder / "bare" / "payload.jsonl").read_bytes() == b"".join(
            p.read_bytes() for p in sorted((folder / "plan").glob("*.payload.jsonl")))
        _clear(folder)
        # Interleaved (cookbook, bk.encode, ..., then again), best of each: every figure and
        # its baseline are taken under the same load.
        best = best_of_each(repeat, steps, after=lambda: _clear(folder))
    base, plan, fast, line = best["cookbook"], best["bk.encode"], best["orjson"], best["codec"]
    bare, whole, bulk = best["bare"], best["texts"], best["batch"]
    cook, orj = f"json.dumps loop {rate(n, base)}", f"orjson.dumps loop {rate(n, fast)}"
    return [
        Row("a encode", f"codec {n:,} lines{'' if same else ' (LINES DIFFER)'}",
            rate(n, line), cook, f"{base / line:.1f}x", f">= {TARGET:.0f}x", base / line >= TARGET),
        Row("a encode", "bk.encode of prepared requests (validate+plan+index)", rate(n, plan),
            cook, f"{base / plan:.1f}x", f">= {ENCODE_TARGET:.0f}x",
            base / plan >= ENCODE_TARGET),
        Row("a encode", "  the orjson.dumps loop, for scale", rate(n, fast), cook,
            f"{base / fast:.1f}x"),
        Row("a encode", "  bk.encode vs a bare orjson loop writing the same two files"
            + ("" if same_bare else " (LINES DIFFER)"),
            rate(n, plan), f"bare loop {rate(n, bare)}", f"{bare / plan:.2f}x"),
        Row("a encode", "  that bare loop (its floor), for scale", rate(n, bare), cook,
            f"{base / bare:.1f}x"),
        Row("a encode", "texts -> OpenAI file (ChatRequest.batch + bk.encode)", rate(n, whole),
            cook, f"{base / whole:.2f}x", f">= {TEXTS_TARGET}x", base / whole >= TEXTS_TARGET),
        Row("a encode", "ChatRequest.batch(texts, ...) build", rate(n, bulk), orj,
            f"{fast / bulk:.2f}x"),
        Row("a encode", "ChatRequest(...) build, one by one", rate(n, build),
            f"ChatRequest.batch {rate(n, bulk)}", f"{bulk / build:.2f}x"),
    ]


def _clear(folder: Path) -> None:
    """Remove every file the steps wrote into ``folder`` (removed before the kernel writes
    them back, their pages cost nothing later)."""
    for path in folder.iterdir():
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


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
