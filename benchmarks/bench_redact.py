"""Redact a DEBUG log of vendor SDK traffic: how much the every-fragment redactor costs.

    python benchmarks/bench_redact.py [--quick]      # 4 MB of log lines (--quick: 0.4 MB)

batchkit's redactor (:func:`batchkit._redact.redact`) removes any 6-character piece of every
registered credential and the known key shapes from every error, CLI line and log record.
Baseline, measured in the same run on the same text: what the adapters did before, replacing
each whole key with ``str.replace`` (which misses masked and partial forms). The text is lines
shaped like botocore's and httpx's DEBUG records, with ten keys registered and one line in a
thousand echoing a key whole, masked or in part.
"""

from __future__ import annotations

import argparse
import secrets
import string

from _bench import best_of

from batchkit._redact import redact, register_secrets

_ALNUM = string.ascii_letters + string.digits


def make_text(megabytes: float, keys: list[str]) -> str:
    lines = []
    size, i = 0, 0
    while size < megabytes * 1_000_000:
        if i % 1000 == 999:
            key = keys[i % len(keys)]
            line = (f"HTTP 401: Incorrect API key provided: {key[:10]}****{key[-4:]} "
                    f"(key ending ...{key[-12:]})")
        elif i % 2:
            line = (f"Response headers: {{'x-request-id': 'req_{i:08x}', 'content-type': "
                    f"'application/json', 'openai-processing-ms': '{i % 997}'}}")
        else:
            line = (f"Making request for OperationModel(name=GetModelInvocationJob) with "
                    f"params: {{'url_path': '/model-invocation-job/job-{i}', 'query_string': "
                    f"{{}}, 'method': 'GET', 'headers': {{'User-Agent': 'Boto3/1.35 batchkit'}}}}")
        lines.append(line)
        size += len(line) + 1
        i += 1
    return "\n".join(lines)


def run(megabytes: float) -> list[tuple[str, str, str]]:
    keys = [f"sk-proj-{''.join(secrets.choice(_ALNUM) for _ in range(48))}" for _ in range(10)]
    register_secrets(keys)
    text = make_text(megabytes, keys)

    def whole_keys_only() -> str:
        out = text
        for key in keys:
            out = out.replace(key, "***")
        return out

    ours = best_of(3, lambda: redact(text))
    baseline = best_of(3, whole_keys_only)
    cleaned = redact(text)
    left = sum(key[i:i + 6] in cleaned for key in keys for i in range(8, len(key) - 5))
    missed = sum(key[i:i + 6] in whole_keys_only() for key in keys for i in range(8, len(key) - 5))
    mb, lines = len(text) / 1e6, text.count("\n") + 1
    return [
        ("redact a DEBUG log", f"{mb / ours:.1f} MB/s, {ours / lines * 1e6:.0f} us a line, "
         f"{left} key pieces left",
         f"{mb / baseline:.0f} MB/s, {missed} key pieces left (whole-key replace)"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for name, ours, baseline in run(0.4 if args.quick else 4.0):
        print(f"{name}\n  batchkit: {ours}\n  baseline: {baseline}")


if __name__ == "__main__":
    main()
