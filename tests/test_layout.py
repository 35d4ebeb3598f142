"""The house rules of the source tree, checked: one room per vendor, no vendor outside its room.

Why a test: the orchestration, store, normalizer and CLI stay vendor-neutral only as long as
nobody adds a vendor's name to them, and a newcomer can find a vendor's knowledge only if it all
sits in ``providers/<vendor>/`` and ``testing/emulators/<vendor>/``. Docstrings and comments may
name vendors (they explain); code may not.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import batchkit
from batchkit._registry import _BUILTIN

SRC = Path(batchkit.__file__).parent
REPO = Path(__file__).resolve().parent.parent
VENDORS = sorted(name for name in _BUILTIN if name != "fake")
VENDOR_WORD = re.compile(r"\b(" + "|".join(VENDORS) + r")\b", re.IGNORECASE)
MAX_LINES = 450
# The folders of Python files beside the library that the line limit holds for as well.
PYTHON_FOLDERS = ("tests", "benchmarks", "scripts")

# Modules outside the vendor rooms allowed to name vendors in code, each with its reason.
NAMING_ALLOWED = {
    "_registry.py": "the registry table maps names to adapters",
    "cost/_catalog.py": "the price catalog's provider keys (its data is per vendor by design)",
    "cost/_refresh.py": "maps published price files' provider names onto the catalog's",
    "cost/_mode.py": "the documented default target of bk.estimate",
}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string nodes that are docstrings (of modules, classes, functions, or
    attribute docstrings: a bare string statement in a module or class body)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            for statement in node.body:
                if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) \
                        and isinstance(statement.value.value, str):
                    found.add(id(statement.value))
    return found


def vendor_names_in_code(path: Path) -> list[str]:
    """Each place ``path``'s code (not its docstrings or comments) names a vendor."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstrings(tree)
    hits = []
    for node in ast.walk(tree):
        text = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            text = node.value
        elif isinstance(node, ast.Name):
            text = node.id
        elif isinstance(node, ast.Attribute):
            text = node.attr
        elif isinstance(node, ast.ImportFrom):
            text = " ".join([node.module or "", *(a.name for a in node.names)])
        elif isinstance(node, ast.Import):
            text = " ".join(a.name for a in node.names)
        if text is not None and VENDOR_WORD.search(text):
            hits.append(f"{getattr(node, 'lineno', '?')}: {text[:60]!r}")
    return hits


def test_every_vendor_has_a_room_in_providers_and_in_the_emulators() -> None:
    for vendor in VENDORS:
        assert (SRC / "providers" / vendor / "adapter.py").is_file(), vendor
        assert (SRC / "providers" / vendor / "capabilities.py").is_file(), vendor
        assert (SRC / "testing" / "emulators" / vendor / "routes.py").is_file(), vendor


def test_no_vendor_file_is_left_at_the_top_of_providers_or_testing() -> None:
    for folder in (SRC / "providers", SRC / "testing", SRC / "testing" / "emulators"):
        loose = [p.name for p in folder.glob("*.py") if VENDOR_WORD.search(p.stem.strip("_"))]
        assert loose == [], folder


def test_no_module_outside_the_vendor_rooms_names_a_vendor_in_code() -> None:
    offenders = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith(("providers/", "testing/")) or rel in NAMING_ALLOWED:
            continue
        hits = vendor_names_in_code(path)
        if hits:
            offenders[rel] = hits
    assert offenders == {}


def test_the_scan_does_find_a_vendor_named_in_code(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('"""Talks about OpenAI freely."""\n# and anthropic here\n'
                      'x = 1\nif x:\n    target = "gemini"\n')
    assert vendor_names_in_code(sample) == ["5: 'gemini'"]


def test_no_source_file_is_longer_than_the_limit() -> None:
    long = {p.relative_to(SRC).as_posix(): n for p in SRC.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_no_test_benchmark_or_script_is_longer_than_the_limit() -> None:
    """The same limit holds beside the library: tests, benchmarks and scripts are read and
    reviewed as often as the code they check, and a long test module hides which subject a
    failing test belongs to (split by subject, helpers in a ``_``-prefixed module or conftest).
    Sample and golden data files in these folders are not Python and are not counted."""
    long: dict[str, int] = {}
    for folder in PYTHON_FOLDERS:
        assert (REPO / folder).is_dir(), folder  # a wrong root would find nothing and pass
        long.update({p.relative_to(REPO).as_posix(): n for p in (REPO / folder).rglob("*.py")
                     if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES})
    assert long == {}
