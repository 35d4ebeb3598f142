"""The DAG of the Airflow test, in a DAG folder as Airflow 3's ``dag.test()`` expects.

Airflow reads its configuration when first imported, so the test runs this file as a child
process with its own ``AIRFLOW_HOME``, SQLite metadata database and ``DAGS_FOLDER`` (this
folder); the job's source, destination and provider come from ``BATCHKIT_DAG_*`` variables.
Run as a script, it builds the database, runs the DAG once with ``dag.test()`` (Airflow's own
runner, which runs a deferred task's trigger in line) and prints JSON: every state Airflow gave
a task instance, recorded as it was set (the scheduler's ``set_state``, called through
unchanged), with the batchkit job's state at that moment.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from typing import Any

from airflow.sdk import DAG

from batchkit.integrations.airflow import BatchkitJobSensor, BatchkitOperator

with DAG("batchkit_embed", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
         catchup=False) as dag:
    embed = BatchkitOperator(
        task_id="embed", source=os.environ.get("BATCHKIT_DAG_SOURCE", "requests.jsonl"),
        destination=os.environ.get("BATCHKIT_DAG_DESTINATION"),
        provider=os.environ.get("BATCHKIT_DAG_PROVIDER", "fake:m"), poll_interval=0.05)
    job_id = "{{ ti.xcom_pull(task_ids='embed')['job_id'] }}"
    check = BatchkitJobSensor(task_id="check", poke_interval=0.05, job_id=job_id)
    check_deferred = BatchkitJobSensor(task_id="check_deferred", poke_interval=0.05,
                                       job_id=job_id, deferrable=True)
    embed >> [check, check_deferred]


def main() -> None:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.db import resetdb

    import batchkit as bk

    seen: list[dict[str, Any]] = []
    set_state = TaskInstance.set_state

    def recording_set_state(self: TaskInstance, state: Any, **kwargs: Any) -> bool:
        jobs = bk.list_jobs()
        shards = bk.get_job(jobs[0].id).shards if jobs else []
        seen.append({"task": self.task_id, "state": getattr(state, "value", state),
                     "job": jobs[0].state.value if jobs else None,
                     "submitted": bool(shards) and all(s.remote_id for s in shards)})
        return bool(set_state(self, state, **kwargs))

    resetdb()
    TaskInstance.set_state = recording_set_state  # type: ignore[method-assign]
    run = dag.test()
    print(json.dumps({"run": getattr(run.state, "value", run.state), "states": seen,
                      "jobs": [j.state.value for j in bk.list_jobs()]}))


if __name__ == "__main__":
    main()
