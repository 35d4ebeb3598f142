"""Classify emails as spam into a pydantic model, and split the replies into parsed and unparsed.

This is instructor's batch workflow (``BatchJob.create_from_messages`` -> upload -> wait ->
``BatchJob.parse_from_file``) as one batchkit call: every request carries the response model,
each reply is validated into a ``SpamLabel``, and ``results.split()`` hands back the objects
that parsed and the results that did not (an error, or a reply that does not fit the model).

Run it offline against batchkit's emulator of the vendor's batch API (no key, no network):

    python examples/spam_classification.py --sandbox

Lower ``--max-tokens`` (e.g. ``--max-tokens 5``) to watch replies cut off mid-JSON land in
``unparsed`` with their ``parse_error``. For real, set the vendor's key (``OPENAI_API_KEY``)
and drop ``--sandbox``; ``--provider`` moves the same job to another vendor.
"""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from pathlib import Path

from spam_model import SpamLabel  # examples/spam_model.py, beside this script

import batchkit as bk
from batchkit.testing import emulate

EMAILS = Path(__file__).parent / "data" / "emails.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", default="openai:gpt-4o-mini")
    parser.add_argument("--sandbox", action="store_true", help="run against local emulators")
    parser.add_argument("--max-tokens", type=int, help="override each request's max_tokens")
    parser.add_argument("--out", type=Path, default=Path("out/spam_results.jsonl"))
    args = parser.parse_args()

    # The neutral JSONL file carries messages, max_tokens and metadata; the response model is
    # applied to every line as it is read (a stream: a million-line file is never held).
    requests = bk.read_requests(EMAILS, response_model=SpamLabel)
    if args.max_tokens:
        requests = (r.model_copy(update={"max_tokens": args.max_tokens}) for r in requests)

    vendor = args.provider.split(":")[0]
    with emulate(providers=[vendor]) if args.sandbox else nullcontext():
        results = bk.run(requests, provider=args.provider, progress=True)

    parsed, unparsed = results.split()  # like instructor's parse_from_file
    print(f"\n{len(results)} emails: {len(parsed)} parsed, {len(unparsed)} unparsed")
    for r in results:
        if r.parsed is not None:
            label = r.parsed  # a SpamLabel
            verdict = "SPAM    " if label.spam else "not spam"
            print(f"  {r.custom_id:<9} {verdict} inbox={r.metadata['inbox']}: {label.reason}")
    for r in unparsed:
        why = r.error.message if r.error else f"{r.finish_reason}: {r.parse_error}"
        print(f"  {r.custom_id:<9} UNPARSED ({r.status}) {why[:90]}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    written = results.to_jsonl(args.out)
    cost = "unknown" if results.cost_usd is None else f"${results.cost_usd:.6f}"
    print(f"wrote {written} results to {args.out}; tokens in/out "
          f"{results.usage.input_tokens}/{results.usage.output_tokens}; cost {cost}")


if __name__ == "__main__":
    main()
