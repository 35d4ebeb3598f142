"""providers.md's capability matrix is the code's: generated from the vendors' tables."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from batchkit._registry import _BUILTIN, get_adapter_class
from batchkit.providers._capabilities import ALL_FEATURES

REPO = Path(__file__).resolve().parent.parent


def _script() -> Any:
    path = REPO / "scripts" / "render_capabilities.py"
    spec = importlib.util.spec_from_file_location("render_capabilities", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_matrix_in_providers_md_is_the_one_the_tables_give() -> None:
    script = _script()
    text = (REPO / "providers.md").read_text(encoding="utf-8")
    assert script.START in text and script.END in text
    assert script.rendered(text) == text, "run: python scripts/render_capabilities.py"


def test_every_vendor_has_a_complete_table_and_its_adapter_uses_it() -> None:
    tables = _script().tables()
    assert sorted(tables) == sorted(name for name in _BUILTIN if name != "fake")
    for name, table in tables.items():
        assert set(table) == set(ALL_FEATURES), name
        assert get_adapter_class(name).capabilities is table, name
        for support in table.values():  # a refusal must say what to do instead
            assert support.supported or support.alternative, name


def test_a_stale_matrix_is_caught(tmp_path: Path) -> None:
    script = _script()
    text = (REPO / "providers.md").read_text(encoding="utf-8")
    stale = text.replace("| tools |", "| tools (old) |", 1)
    assert script.rendered(stale) != stale


def test_a_new_vendors_starting_table_refuses_every_feature_with_a_way_forward() -> None:
    from batchkit import ChatRequest, InvalidRequestError, Tool
    from batchkit.providers._capabilities import check_capabilities, complete, pending

    table = complete(pending("newvendor"), "newvendor")  # CONTRIBUTING's starting point
    assert not any(support.supported for support in table.values())
    request = ChatRequest(custom_id="r", messages=[{"role": "user", "content": "hi"}],
                          tools=[Tool(name="lookup")])
    with pytest.raises(InvalidRequestError, match="newvendor: tools unsupported — batchkit "
                       "does not translate tools for newvendor yet"):
        check_capabilities(request, "newvendor", table)
