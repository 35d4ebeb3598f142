"""Files and what comes from outside: job files are private to the user, the emulators bind
loopback only, ids from vendor responses never become paths, and nothing in ``src/batchkit``
unpickles or evaluates.
"""

from __future__ import annotations

import ast
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import batchkit as bk
from batchkit._registry import make_adapter
from batchkit.providers.base import Adapter
from batchkit.testing import emulate
from batchkit.testing._emulate import serve
from batchkit.testing._server import EmulatorServer, Request, Response

from ._canary import (
    ANTHROPIC,
    OPENAI,
    VENDORS,
    Evidence,
    Vendor,
    _submit,
)

SRC = Path(bk.__file__).parent


# -- files ------------------------------------------------------------------------------------

def _modes(home: Path) -> dict[str, str]:
    return {str(p.relative_to(home)): oct(stat.S_IMODE(p.stat().st_mode))
            for p in [home, *home.rglob("*")]}


def test_the_store_and_job_files_are_private(server: Any, evidence: Evidence) -> None:
    for vendor in (OPENAI, ANTHROPIC):
        _submit(server, vendor).wait().results()
    home = evidence.home
    modes = _modes(home)
    assert {"jobs.db", "jobs.db-wal", "jobs.db-shm"} <= modes.keys()  # the store is open: WAL
    assert len([p for p in home.rglob("*.jsonl")]) >= 6  # payloads, indexes and result files
    wrong = {name: mode for name, mode in modes.items()
             if mode != ("0o700" if (home / name).is_dir() else "0o600")}
    assert wrong == {}


@pytest.mark.parametrize("host", ["0.0.0.0", "", "::", "192.168.1.10", "example.com"])
def test_the_emulators_bind_loopback_only(host: str) -> None:
    with pytest.raises(ValueError, match="loopback only"):
        serve(host=host, port=0)
    with pytest.raises(ValueError, match="loopback only"):
        EmulatorServer([], host=host)


def test_emulate_listens_on_127_0_0_1() -> None:
    with emulate(providers=["openai"], set_env=False) as handle:
        assert handle.url.startswith("http://127.0.0.1:")


HOSTILE_IDS = ["../../evil", "/tmp/batchkit-evil-absolute", "..\\..\\evil", "a/../../../evil",
               "x" * 400]


@pytest.mark.parametrize("vendor", VENDORS)
def test_ids_from_the_vendor_are_never_paths(vendor: Vendor, server: Any,
                                             tmp_path: Path) -> None:
    """A vendor (or anything between) answering with a hostile batch id cannot make batchkit
    write outside the folder it downloads into."""
    app = server.apps[vendor.app_name]
    job = _submit(server, vendor, 2).wait()
    real_id = job.shards[0].remote_id
    assert real_id is not None
    depth = vendor.poll_path.count("/")  # where the batch id sits in the path
    handle = app.handle

    def answers_for_any_id(request: Request) -> Response:
        parts = request.path.split("/")
        if request.path.startswith(vendor.poll_path) and len(parts) > depth:
            parts[depth] = real_id
            request.path = "/".join(parts)
        return handle(request)

    app.handle = answers_for_any_id
    adapter: Adapter = job._adapter
    for n, hostile in enumerate(HOSTILE_IDS):
        dest = tmp_path / "downloads" / str(n) / "here"
        dest.mkdir(parents=True)
        before = {p for p in tmp_path.rglob("*")}
        paths = adapter.fetch_results(hostile, adapter.poll(hostile), dest)
        assert paths and all(p.parent == dest and p.is_file() for p in paths), paths
        created = {p for p in tmp_path.rglob("*")} - before
        assert created == set(paths)
        assert all(len(p.name) < 255 for p in paths)
    assert not Path("/tmp/batchkit-evil-absolute_output.jsonl").exists()
    assert not Path("/tmp/batchkit-evil-absolute_results.jsonl").exists()


@pytest.mark.parametrize("vendor", VENDORS)
def test_an_id_the_sdk_cannot_put_in_a_url_is_batchkits_error(
    vendor: Vendor, evidence: Evidence
) -> None:
    """The SDKs raise a bare ValueError for these ids, before any request; batchkit's boundary
    maps it (no server needed: nothing is sent)."""
    adapter = make_adapter(vendor.provider, {"base_url": "http://127.0.0.1:9"})
    for unusable in ("..", ".", ""):
        with pytest.raises(bk.ProviderError, match="could not read the batch"):
            adapter.poll(unusable)
        with pytest.raises(bk.ProviderError, match="could not cancel the batch"):
            adapter.cancel(unusable)


# -- nothing downloaded is executed --------------------------------------------------------------

_UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "marshal", "shelve",
                   "joblib"}
_UNSAFE_BUILTINS = {"eval", "exec", "compile"}


def _unsafe(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [
                node.module or ""]
            for name in names:
                if name.split(".")[0] in _UNSAFE_MODULES:
                    yield f"line {node.lineno}: imports {name}"
            if isinstance(node, ast.ImportFrom) and node.module == "yaml" and any(
                a.name != "safe_load" for a in node.names
            ):
                yield f"line {node.lineno}: imports from yaml more than safe_load"
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else (
            func.attr if isinstance(func, ast.Attribute) else "")
        keywords = {k.arg: k.value for k in node.keywords}
        if isinstance(func, ast.Name) and name in _UNSAFE_BUILTINS:  # not re.compile()
            yield f"line {node.lineno}: calls {name}()"
        if name in {"unsafe_load", "full_load", "unsafe_load_all", "read_pickle"}:
            yield f"line {node.lineno}: calls {name}()"
        if name in {"load", "load_all"} and isinstance(func, ast.Attribute) and (
            isinstance(func.value, ast.Name) and func.value.id == "yaml"
        ):
            loader = keywords.get("Loader") or (node.args[1] if len(node.args) > 1 else None)
            if not (isinstance(loader, ast.Attribute) and "Safe" in loader.attr):
                yield f"line {node.lineno}: yaml.{name}() without a SafeLoader"
        allow = keywords.get("allow_pickle")
        if isinstance(allow, ast.Constant) and allow.value is True:
            yield f"line {node.lineno}: allow_pickle=True"


def test_the_checker_finds_what_it_looks_for() -> None:
    bad = ("import pickle\nfrom marshal import loads\neval('1')\nexec('x=1')\n"
           "re.compile('x')\nyaml.load(text)\nyaml.load(text, Loader=yaml.SafeLoader)\n"
           "np.load(f, allow_pickle=True)\nfrom yaml import load\nfrom yaml import safe_load\n")
    lines = sorted(int(p.split(":")[0].removeprefix("line ")) for p in _unsafe(ast.parse(bad)))
    assert lines == [1, 2, 3, 4, 6, 8, 9]


def test_nothing_in_batchkit_unpickles_or_evaluates() -> None:
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 30
    found = [f"{path.relative_to(SRC)} {problem}" for path in files
             for problem in _unsafe(ast.parse(path.read_text(encoding="utf-8")))]
    assert found == []
