"""The emulators stay apart from the adapters they test, one package per vendor.

Why: an emulator that imported batchkit's own codecs or adapters would agree with batchkit by
construction, and its tests would prove nothing. It may use the generic core
(``batchkit.testing``), the vendor's SDK and schema, and nothing else of batchkit.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import batchkit.testing
from batchkit.testing._emulate import EMULATOR_APPS

TESTING = Path(batchkit.testing.__file__).parent
EMULATORS = TESTING / "emulators"
# The generic core that stays at the top of testing/: no vendor knowledge in it.
CORE = {"__init__.py", "_emulate.py", "_fake.py", "_schema_fill.py", "_server.py", "_clock.py",
        "_spec.py", "_text.py", "_postgres.py", "_faults.py"}


def imported_modules(source: str, package: str) -> set[str]:
    """Every module ``source`` (a module of ``package``) imports, relative imports resolved."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            name = ".".join(part for part in (base, node.module or "") if part)
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


def _package(path: Path) -> str:
    return ".".join(path.parent.relative_to(TESTING.parent.parent).parts)


def test_the_import_scan_sees_absolute_and_relative_imports() -> None:
    source = "from ....providers import openai\nimport batchkit.providers.base\n"
    found = imported_modules(source, "batchkit.testing.emulators.openai")
    assert "batchkit.providers.openai" in found
    assert "batchkit.providers.base" in found


@pytest.mark.parametrize("path", sorted(EMULATORS.rglob("*.py")), ids=lambda p: p.name)
def test_an_emulator_imports_nothing_of_batchkit_but_the_testing_core(path: Path) -> None:
    modules = imported_modules(path.read_text(encoding="utf-8"), _package(path))
    foreign = sorted(m for m in modules if m.split(".")[0] == "batchkit"
                     and not m.startswith("batchkit.testing"))
    assert foreign == [], f"{path.relative_to(TESTING)} imports {foreign}"


def test_no_vendor_file_is_left_at_the_top_of_testing() -> None:
    top = {p.name for p in TESTING.glob("*.py")}
    assert top - CORE == set()


def test_every_vendor_has_its_own_package_with_routes() -> None:
    for provider, target in EMULATOR_APPS.items():
        module, _, factory = target.partition(":")
        assert module == f"batchkit.testing.emulators.{provider}.routes", provider
        assert factory == "create_app", provider
    folders = {p.name for p in EMULATORS.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(EMULATOR_APPS) | {"s3", "gcs"}
    for folder in folders:
        assert (EMULATORS / folder / "__init__.py").is_file(), folder
        assert (EMULATORS / folder / "routes.py").is_file(), folder
