"""README.md checked by running it, so the first page a newcomer reads cannot drift from the code.

* The quickstart's ``batchkit submit`` line runs exactly as written, from the repository root,
  and must finish a job with one succeeded, parsed result per line of its input file.
* Python blocks: every ```python block is preceded by ``<!-- test: run -->`` or
  ``<!-- test: skip -->`` (an HTML comment, invisible on GitHub), so a new block has to choose.
  The runnable ones run here in README order, in one namespace (a block may use the names of the
  blocks above it, as a reader following along would), inside ``batchkit.testing.emulate()``.
* Every relative link points at a file that exists, and every ``#anchor`` at a heading.
* The ``<!-- test: config -->`` TOML block, loaded as a batchkit.toml, resolves every profile.
* The command-line synopsis and every ``batchkit ...`` line of the tour name real commands and
  real options, and the synopsis lists every command.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import batchkit as bk
from batchkit._config import resolve_provider
from batchkit._registry import make_adapter
from batchkit.cli import cli
from batchkit.cost import load_catalog
from batchkit.testing import emulate

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
MARKER = re.compile(r"<!--\s*test:\s*(\w+)\s*-->")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@dataclasses.dataclass(frozen=True)
class Block:
    """A fenced code block: its language, text, first line number, marker and section."""

    lang: str
    code: str
    line: int
    marker: str | None
    section: str


def parse(text: str) -> tuple[list[Block], list[str]]:
    """The fenced blocks of a Markdown text and its headings (outside fences)."""
    blocks: list[Block] = []
    headings: list[str] = []
    lines = text.splitlines()
    section, marker, i = "", None, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            start, body = i + 1, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            blocks.append(Block(line[3:].strip(), "\n".join(body) + "\n", start + 1, marker,
                                section))
            marker = None
        elif line.startswith("#"):
            section = line.lstrip("#").strip()
            headings.append(section)
        elif line.strip():
            found = MARKER.fullmatch(line.strip())
            marker = found.group(1) if found else None
        i += 1
    return blocks, headings


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


BLOCKS, HEADINGS = parse(README.read_text(encoding="utf-8"))


def test_quickstart_submit_finishes_a_job_with_every_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    block = next(b for b in BLOCKS if b.section == "Quickstart" and b.lang == "bash")
    commands = [c for c in block.code.splitlines() if c.strip() and not c.startswith("pip ")]
    assert len(commands) == 1 and commands[0].startswith("batchkit submit "), commands
    env = dict(os.environ)  # BATCHKIT_HOME is this test's own (conftest)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(commands[0], shell=True, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr

    argv = shlex.split(commands[0])
    request_file = REPO / argv[2]
    ids = [bk_req.custom_id for bk_req in bk.read_requests(request_file)]
    assert len(ids) == 20
    assert f"results: succeeded={len(ids)}" in done.stdout

    monkeypatch.syspath_prepend(str(REPO))  # the response model lives in examples/
    module, _, name = argv[argv.index("--response-model") + 1].partition(":")
    model = getattr(importlib.import_module(module), name)
    (record,) = bk.list_jobs()
    job = bk.get_job(record.id)
    assert job.state == bk.JobState.COMPLETED
    results = job.results()
    assert results.counts() == {"succeeded": len(ids)}
    assert [r.custom_id for r in results] == ids
    assert all(isinstance(r.parsed, model) for r in results)


def test_every_python_block_is_marked() -> None:
    python = [b for b in BLOCKS if b.lang == "python"]
    assert python, "README.md has no Python blocks"
    unmarked = [b.line for b in python if b.marker not in ("run", "skip")]
    assert not unmarked, f"python blocks without <!-- test: run|skip --> at lines {unmarked}"


def test_runnable_python_blocks_run_against_the_emulators() -> None:
    runnable = [b for b in BLOCKS if b.lang == "python" and b.marker == "run"]
    assert runnable
    namespace: dict[str, object] = {"__name__": "readme"}
    with emulate():
        for block in runnable:
            before = {k: id(v) for k, v in namespace.items()}
            # dont_inherit: this module's `from __future__ import annotations` must not turn
            # the block's annotations into strings, which a reader's script would not do.
            code = compile(block.code, f"README.md:{block.line}", "exec", dont_inherit=True)
            exec(code, namespace)
            made = [v for k, v in namespace.items()
                    if isinstance(v, bk.ResultSet) and before.get(k) != id(v)]
            for results in made:
                assert len(results) > 0
                assert results.counts() == {"succeeded": len(results)}, block.line
    # One job per bk.run / bk.submit call written in the blocks, each finished.
    calls = sum(len(re.findall(r"\bbk\.(?:run|submit)\(", b.code)) for b in runnable)
    jobs = bk.list_jobs(limit=1000)
    assert len(jobs) == calls
    assert {j.state for j in jobs} == {bk.JobState.COMPLETED}


def test_relative_links_point_at_files_and_headings() -> None:
    text = README.read_text(encoding="utf-8")
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = REPO / path if path else README
        if not file.is_file():
            broken.append(f"{target}: no file {path}")
            continue
        if anchor:
            headings = HEADINGS if not path else parse(file.read_text(encoding="utf-8"))[1]
            if anchor not in {slug(h) for h in headings}:
                broken.append(f"{target}: no heading #{anchor} in {file.name}")
    assert not broken, broken


def test_config_example_resolves_every_profile() -> None:
    (block,) = [b for b in BLOCKS if b.marker == "config"]
    assert block.lang == "toml"
    Path("batchkit.toml").write_text(block.code, encoding="utf-8")  # cwd is tmp (conftest)
    config = tomllib.loads(block.code)

    assert resolve_provider().provider == config["default"]["provider"]
    for name, table in config["profiles"].items():
        resolved = resolve_provider(profile=name)
        assert resolved.provider == table["provider"]
        assert resolved.options == table.get("options", {})
        make_adapter(resolved.provider, resolved.options)  # the adapter accepts its options
    catalog = load_catalog()
    for key, prices in config.get("prices", {}).items():
        row = catalog.get(key)
        assert (row.input, row.output) == (prices["input"], prices["output"])
        assert row.origin == "batchkit.toml"


def _options(command_name: str) -> set[str]:
    command = cli.commands[command_name]
    return {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}


def _check_command_line(words: list[str], where: str) -> None:
    assert words[0] in cli.commands, f"{where}: no command {words[0]!r}"
    allowed = _options(words[0])
    flags = [w.strip("[]") for w in words if re.fullmatch(r"\[?--?[a-z][a-z-]*\]?", w)]
    unknown = [f for f in flags if f not in allowed]
    assert not unknown, f"{where}: {words[0]} has no {unknown}"


def test_cli_synopsis_and_tour_use_real_commands_and_options() -> None:
    tour = [b for b in BLOCKS if b.section == "Command-line tour"]
    synopsis = tour[0]
    named: list[str] = []
    current: list[str] = []
    for raw in synopsis.code.splitlines():
        for segment in raw.replace("batchkit ", "", 1).split(" | "):
            words = segment.split()
            if words and words[0] in cli.commands:
                current = list(words)
                named.append(words[0])
            else:
                current = [*current[:1], *words]
            if current:
                _check_command_line(current, f"synopsis {current[0]}")
    assert sorted(set(named)) == sorted(cli.commands), "the synopsis must list every command"

    lines = [line.removeprefix("$ ") for b in BLOCKS if b.lang in ("bash", "console")
             for line in b.code.splitlines()]
    runs = [shlex.split(line)[1:] for line in lines if line.startswith("batchkit ")]
    assert len(runs) >= len(cli.commands)
    for words in runs:
        _check_command_line(words, "tour")
