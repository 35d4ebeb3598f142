"""Every option an adapter reads is one it declares, so refusing unknown options never
refuses a real one (``Adapter.option_names``, checked before anything is written)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import batchkit
from batchkit._registry import _BUILTIN, get_adapter_class
from batchkit.providers.base import JOB_OPTIONS

PROVIDERS = Path(batchkit.__file__).parent / "providers"
READ = re.compile(r"""\b(?:options|opts)(?:\.get\(|\[)\s*["']([a-z0-9_]+)["']"""
                  r"""|\b_(?:setting|option_[a-z]+|names)\((?:\w+, )?["']([a-z0-9_]+)["']""")


@pytest.mark.parametrize("name", sorted(n for n in _BUILTIN if n != "fake"))
def test_every_option_the_vendor_code_reads_is_declared(name: str) -> None:
    adapter = get_adapter_class(name)
    assert adapter.option_names is not None, f"{name} declares no option_names"
    folder = PROVIDERS / name
    read = {name for path in folder.glob("*.py") for match in READ.findall(path.read_text())
            for name in match if name}
    undeclared = read - adapter.option_names - JOB_OPTIONS
    assert undeclared == set(), f"{name} reads {sorted(undeclared)} without declaring them"


def test_the_scan_finds_option_reads() -> None:
    text = 'x = self.options.get("region") or opts["bucket"] or self._setting("role_arn", e)'
    assert {n for match in READ.findall(text) for n in match if n} == {
        "region", "bucket", "role_arn"}
