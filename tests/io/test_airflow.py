"""The Airflow operator under Airflow's own runner (``dag.test()``), against the emulators.

The DAG (``airflow_dags/embed_dag.py``) runs in a child process with its own Airflow home and
SQLite metadata database; the OpenAI emulator runs here and the child reaches it through
``BATCHKIT_SANDBOX``.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from batchkit.testing import emulate
from tests._subprocess import keyless_env

# Looked up, not imported: importing Airflow configures logging and settings for the process,
# and only the child process should be an Airflow process.
if importlib.util.find_spec("airflow") is None:
    pytest.skip("Airflow is not installed (the airflow extra)", allow_module_level=True)

DAG_FOLDER = Path(__file__).with_name("airflow_dags")


def run_dag(tmp_path: Path, url: str, source: Path, destination: Path) -> dict[str, object]:
    env = keyless_env(
        tmp_path / "bkhome", BATCHKIT_SANDBOX=url, AIRFLOW_HOME=str(tmp_path / "airflow"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path / 'airflow.db'}",
        AIRFLOW__CORE__DAGS_FOLDER=str(DAG_FOLDER), AIRFLOW__CORE__LOAD_EXAMPLES="False",
        BATCHKIT_DAG_SOURCE=str(source), BATCHKIT_DAG_DESTINATION=str(destination),
        BATCHKIT_DAG_PROVIDER="openai:text-embedding-3-small")
    run = subprocess.run([sys.executable, str(DAG_FOLDER / "embed_dag.py")], env=env,
                         capture_output=True, text=True, timeout=280, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    report: dict[str, object] = json.loads(run.stdout.strip().splitlines()[-1])
    return report


def test_the_operator_submits_defers_resumes_and_collects(tmp_path: Path) -> None:
    source = tmp_path / "requests.jsonl"
    source.write_text("".join(json.dumps({"custom_id": f"p{i}", "text": f"paragraph {i}"})
                              + "\n" for i in range(12)))
    destination = tmp_path / "vectors.parquet"
    with emulate(providers=["openai"]) as handle:
        report = run_dag(tmp_path, handle.url, source, destination)
        batches_created = handle.apps["openai"].creates
    assert report["run"] == "success"
    embed = [s for s in report["states"] if s["task"] == "embed"]  # type: ignore[attr-defined]
    states = [s["state"] for s in embed]
    deferred = states.index("deferred")
    # Submitted before the task let go of its slot, finished only after it came back.
    assert embed[deferred]["submitted"] and embed[deferred]["job"] != "completed"
    assert states[:deferred] == ["queued"]  # execute ran once: one submit
    assert states[-1] == "success" and embed[-1]["job"] == "completed"
    # Between deferring and resuming, only the trigger ran: the task was queued for a slot
    # again only once the job was finished, and execute never ran a second time.
    resumed = next(i for i in range(deferred + 1, len(embed)) if embed[i]["job"] == "completed")
    assert set(states[deferred + 1:resumed]) <= {"queued"}
    assert report["jobs"] == ["completed"] and batches_created == 1  # one submit, paid once
    table = pq.read_table(destination)
    assert table.column("custom_id").to_pylist() == [f"p{i}" for i in range(12)]
    assert table.column("status").to_pylist() == ["succeeded"] * 12
    for sensor, expected in (("check", ["queued", "success"]),
                             ("check_deferred", ["queued", "deferred", "queued", "queued",
                                                 "success"])):
        states = [s["state"] for s in report["states"]  # type: ignore[attr-defined]
                  if s["task"] == sensor]
        assert states == expected, sensor
