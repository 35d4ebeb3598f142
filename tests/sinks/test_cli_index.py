"""``batchkit index`` and ``batchkit search`` from the shell, in the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from batchkit.cli import cli

from .conftest import DIMENSIONS, PROVIDER


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_index_then_dry_run_then_search_from_the_command_line(tmp_path: Path) -> None:
    docs = tmp_path / "docs.csv"
    docs.write_text("id,text,lang\n1,the heron waits in the reeds,en\n2,der Reiher wartet,de\n")
    common = ["--sink", f"parquet://{tmp_path}/idx", "-p", PROVIDER, "--dimensions",
              str(DIMENSIONS), "--sandbox", "--json"]
    code, out, err = invoke("index", str(docs), *common)
    assert code == 0, err
    report = json.loads(out)
    assert (report["chunks"], report["new"], report["to_embed"], report["upserted"]) == (2, 2, 2, 2)
    code, out, err = invoke("index", str(docs), *common, "--dry-run")
    assert code == 0 and json.loads(out)["to_embed"] == 0 and json.loads(out)["unchanged"] == 2
    code, out, err = invoke("search", "der Reiher wartet", *common, "-k", "1")
    assert code == 0, err
    [hit] = json.loads(out)
    assert (hit["id"], hit["metadata"]) == ("2#0", {"lang": "de"}) and hit["score"] > 0.999


def test_a_bad_sink_is_one_line_and_exit_code_1(tmp_path: Path) -> None:
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"id": "a", "text": "x"}\n')
    code, _, err = invoke("index", str(docs), "--sink", "faiss://./x", "-p", PROVIDER)
    assert code == 1
    assert err.startswith("error: unknown sink scheme 'faiss'") and err.count("\n") == 1
