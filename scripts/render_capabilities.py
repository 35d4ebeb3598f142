"""Write the capability matrix of providers.md from the vendors' capability tables.

Why generated: the tables in ``providers/<vendor>/capabilities.py`` decide what is sent and what
is refused; a hand-kept copy in the docs would drift. ``tests/test_capability_matrix.py`` fails
when providers.md differs from what this script writes.

Usage: python scripts/render_capabilities.py [--check]
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from batchkit._registry import _BUILTIN
from batchkit.providers._capabilities import Capabilities, capability_matrix

DOC = Path(__file__).resolve().parent.parent / "providers.md"
START, END = "<!-- capabilities:start -->", "<!-- capabilities:end -->"


def tables() -> dict[str, Capabilities]:
    """Every built-in vendor's table, by provider name (the fake vendor has none)."""
    found = {}
    for name, spec in _BUILTIN.items():
        adapter_module = spec.target.partition(":")[0]
        package = adapter_module.rpartition(".")[0]
        try:
            module = importlib.import_module(f"{package}.capabilities")
        except ModuleNotFoundError:
            continue
        found[name] = module.CAPABILITIES
    return found


def rendered(text: str) -> str:
    """``text`` with the block between the markers replaced by the current matrix."""
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    block = "\n".join(capability_matrix(tables()))
    return f"{head}{START}\n{block}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if providers.md is stale")
    args = parser.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    new = rendered(text)
    if args.check:
        return 0 if new == text else 1
    DOC.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
