"""The CLI and sandbox mode as separate processes see them (what CliRunner cannot show)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import orjson

from tests._subprocess import keyless_env


def _env(home: Path, **extra: str) -> dict[str, str]:
    return keyless_env(home, COLUMNS="200", **extra)


# The installed console script, not `python -m batchkit`: `-m` puts the working directory on
# sys.path by itself, which would hide what the script has to do on its own.
SCRIPT = Path(sys.executable).with_name("batchkit")


def _batchkit(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run([str(SCRIPT), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_results_in_a_later_process_parse_models_from_the_working_directory(
    tmp_path: Path,
) -> None:
    (tmp_path / "my_labels.py").write_text(textwrap.dedent("""
        from pydantic import BaseModel

        class Topic(BaseModel):
            name: str
            score: float
    """))
    lines = [orjson.dumps({"custom_id": f"q{i}", "messages": [
        {"role": "user", "content": f"topic of text {i}"}]}) for i in range(6)]
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    env = _env(tmp_path / "home")
    submitted = orjson.loads(_batchkit(
        ["submit", "in.jsonl", "-p", "fake:m", "--response-model", "my_labels:Topic", "--json"],
        tmp_path, env))
    _batchkit(["wait", submitted["id"]], tmp_path, env)
    _batchkit(["results", submitted["id"], "-o", "out.jsonl"], tmp_path, env)
    rows = [orjson.loads(x) for x in (tmp_path / "out.jsonl").read_bytes().splitlines()]
    assert [r["custom_id"] for r in rows] == [f"q{i}" for i in range(6)]
    assert all(r["parsed"] is not None and r["parse_error"] is None for r in rows), rows[0]


def test_submit_wait_prints_the_actual_cost_once(tmp_path: Path) -> None:
    lines = [orjson.dumps({"custom_id": f"e{i}", "text": f"doc {i}"}) for i in range(4)]
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    out = _batchkit(["submit", "in.jsonl", "-p", "openai:text-embedding-3-small", "--sandbox",
                     "--wait"], tmp_path, _env(tmp_path / "home"))
    assert "results: succeeded=4" in out
    assert out.count("actual cost:") == 1, out


def test_sandbox_1_starts_emulators_inside_the_process(tmp_path: Path) -> None:
    """DESIGN.md: BATCHKIT_SANDBOX=1 runs any script against the emulators, no with-block."""
    script = textwrap.dedent("""
        import batchkit as bk
        reqs = [bk.EmbedRequest(custom_id=f"d{i}", text=f"doc {i}") for i in range(5)]
        results = bk.run(reqs, "openai:text-embedding-3-small")
        print(results.counts(), results.embeddings().shape)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120,
                          env=_env(tmp_path / "home", BATCHKIT_SANDBOX="1"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["{'succeeded':", "5}", "(5,", "1536)"]
