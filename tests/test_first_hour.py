"""A new user's first hour: the dead ends a fresh clone and the CLI used to lead into.

Each test is one of them: the README's ``batchkit.testing`` attribute, a sandbox job that could
never finish, result files whose format was guessed, click's own error style, a wrong line
reported only after a missing key, and corpus files that ``compare`` could not read.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import batchkit as bk
from batchkit.cli import cli

from ._subprocess import keyless_env

REPO = Path(__file__).resolve().parent.parent


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def one_line_error(result: Result) -> str:
    """The error a command printed, after checking it is batchkit's style: one line, exit 1."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    text = result.stderr.strip()
    assert text.startswith("error: ") and "\n" not in text, text
    assert "Traceback" not in result.output
    return text


@pytest.fixture
def chat_file(tmp_path: Path) -> Path:
    path = tmp_path / "mails.jsonl"
    path.write_text("".join(
        json.dumps({"custom_id": f"m{i}", "messages": [{"role": "user", "content": f"m {i}"}]})
        + "\n" for i in range(5)))
    return path


def test_batchkit_testing_is_an_attribute_imported_on_first_use(tmp_path: Path) -> None:
    script = (
        "import sys, batchkit\n"
        "assert 'batchkit.testing' not in sys.modules, 'imported eagerly'\n"
        "with batchkit.testing.emulate() as emulators:\n"
        "    print(sorted(emulators.apps)[:2])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env=keyless_env(tmp_path / "home"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['anthropic', 'azure']"


def test_nothing_in_the_repository_points_outside_it() -> None:
    needle = "shared" + "/"  # spelled apart so this file does not find itself
    offenders = []
    for folder in ("src", "tests", "benchmarks", "scripts", "examples", ".ci"):
        for path in (REPO / folder).rglob("*"):
            built = any(part.endswith(".egg-info") or part == "__pycache__"
                        for part in path.parts)
            if path.is_file() and not built and path.suffix not in {".gz", ".npy", ".parquet"}:
                text = path.read_text(encoding="utf-8", errors="replace")
                offenders += [f"{path.relative_to(REPO)}:{n}"
                              for n, line in enumerate(text.splitlines(), 1) if needle in line]
    assert offenders == []


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_a_sandbox_job_without_wait_is_refused_before_anything_is_recorded(
    chat_file: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    args = ["submit", str(chat_file), "-p", "openai:gpt-4o-mini"]
    if how == "flag":
        args.append("--sandbox")
    else:
        monkeypatch.setenv("BATCHKIT_SANDBOX", "1")
    error = one_line_error(run(*args))
    assert "--wait" in error and "batchkit emulator" in error
    assert bk.list_jobs() == []


def test_usage_errors_have_batchkit_style(chat_file: Path) -> None:
    error = one_line_error(run("submit", str(chat_file), "--nope"))
    assert error.startswith("error: No such option") and "--nope" in error
    assert error.endswith("(see 'batchkit submit --help')")
    assert "'missing.jsonl' is not a file" in one_line_error(run("submit", "missing.jsonl"))
    assert one_line_error(run("no-such-command")).startswith("error: No such command")


def test_result_files_are_written_by_extension_or_refused(
    chat_file: Path, tmp_path: Path
) -> None:
    submitted = run("submit", str(chat_file), "-p", "fake:m", "--wait", "--json")
    assert submitted.exit_code == 0, submitted.output
    job_id = json.loads(submitted.stdout)["id"]
    for name, expected in (("r.csv", "choose .jsonl, .parquet, .npy"),
                           ("r.npy", "cannot write r.npy"),
                           ("r", "no extension")):
        assert expected in one_line_error(run("results", job_id, "-o", str(tmp_path / name)))
        assert not (tmp_path / name).exists()
    assert run("results", job_id, "-o", str(tmp_path / "r.parquet")).exit_code == 0
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "r.parquet").num_rows == 5


def test_output_means_output_in_submit_too(chat_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "done.jsonl"
    done = run("submit", str(chat_file), "-p", "fake:m", "--wait", "-o", str(out))
    assert done.exit_code == 0, done.output
    assert len(out.read_text().splitlines()) == 5
    hint = one_line_error(run("submit", str(chat_file), "-p", "fake:m", "-o", "max_requests=5"))
    assert "adapter options are -s KEY=VALUE" in hint
    assert "needs --wait" in one_line_error(run("submit", str(chat_file), "-p", "fake:m",
                                                "-o", str(tmp_path / "x.jsonl")))
    assert "choose .jsonl" in one_line_error(run("submit", str(chat_file), "-p", "fake:m",
                                                 "--wait", "-o", str(tmp_path / "x.csv")))
    assert len(bk.list_jobs()) == 1  # only the first, valid, command recorded a job


def test_a_wrong_line_is_named_before_a_missing_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"custom_id": "a", "messages": [{"role": "user",
                                                                 "content": "hi"}]}) + "\n"
                    + json.dumps({"custom_id": "b", "messages": "not a list"}) + "\n")
    error = one_line_error(run("submit", str(path), "-p", "openai:gpt-4o-mini"))
    assert "line 2" in error and "key" not in error.lower()
    assert bk.list_jobs() == []


def test_compare_and_submit_read_a_corpus_file_of_id_and_text_rows() -> None:
    corpus = REPO / "examples" / "data" / "wiki_sample.jsonl"
    compared = run("compare", str(corpus), "-p", "cohere:embed-v4.0",
                   "-p", "openai:text-embedding-3-small", "--json")
    assert compared.exit_code == 0, compared.output
    first = next(iter(bk.read_requests(corpus)))
    row = json.loads(corpus.read_text().splitlines()[0])
    assert isinstance(first, bk.EmbedRequest)
    assert (first.custom_id, first.text) == (str(row["id"]), row["text"])
    assert first.metadata["title"] == row["title"]


def test_forget_removes_an_ended_job_and_refuses_a_live_one(chat_file: Path) -> None:
    done = json.loads(run("submit", str(chat_file), "-p", "fake:m", "--wait", "--json").stdout)
    live = json.loads(run("submit", str(chat_file), "-p", "fake:m", "--json",
                          "-s", 'states=["running","running","running"]').stdout)
    refused = one_line_error(run("forget", live["id"]))
    assert "may still be running and billing" in refused and "cancel" in refused
    assert {r.id for r in bk.list_jobs()} == {done["id"], live["id"]}

    assert run("rm", done["id"]).exit_code == 0
    assert not Path(done["folder"]).exists()
    assert [r.id for r in bk.list_jobs()] == [live["id"]]
    assert "no job" in one_line_error(run("status", done["id"]))

    assert run("forget", live["id"], "--force").exit_code == 0
    assert bk.list_jobs() == [] and not Path(live["folder"]).exists()
    assert run("list").exit_code == 0  # an emptied store over no job folders opens fine


def test_an_option_the_provider_would_ignore_is_refused_before_anything_is_recorded(
    chat_file: Path,
) -> None:
    error = one_line_error(run("submit", str(chat_file), "-p", "openai:gpt-4o-mini",
                               "-s", "enqued_tokens=5"))
    assert "unknown option 'enqued_tokens' (did you mean 'enqueued_tokens'?)" in error
    error = one_line_error(run("submit", str(chat_file), "-p", "anthropic:claude-haiku-4-5",
                               "-s", "endpoint=responses"))  # an OpenAI option elsewhere
    assert "anthropic: unknown option 'endpoint'" in error
    assert bk.list_jobs() == []


def test_a_request_kind_the_model_cannot_serve_is_refused(tmp_path: Path) -> None:
    texts = tmp_path / "texts.csv"
    texts.write_text("id,text\n1,first text\n2,second text\n")
    error = one_line_error(run("submit", str(texts), "-p", "openai:gpt-4o-mini", "--wait",
                               "--sandbox"))
    assert "openai:gpt-4o-mini is a chat model and cannot serve an embedding request" in error
    chat = tmp_path / "chat.jsonl"
    chat.write_text(json.dumps({"custom_id": "c", "messages": [{"role": "user",
                                                                "content": "hi"}]}) + "\n")
    error = one_line_error(run("submit", str(chat), "-p", "openai:text-embedding-3-small"))
    assert "is an embedding model and cannot serve a chat request" in error
    assert bk.list_jobs() == []


def test_an_unknown_model_is_refused_in_the_sandbox_with_a_suggestion(chat_file: Path) -> None:
    error = one_line_error(run("submit", str(chat_file), "-p", "openai:gpt-4o-minii",
                               "--sandbox", "--wait"))
    assert "unknown model 'gpt-4o-minii'" in error and "did you mean 'gpt-4o-mini'" in error
    assert bk.list_jobs() == []
