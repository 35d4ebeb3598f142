"""batchkit as an Airflow provider: run a batch job as a task without holding a worker slot.

A vendor batch takes minutes to a day. :class:`BatchkitOperator` submits the job (journaled
first, as every batchkit submit is), then *defers* to :class:`BatchkitJobTrigger`, which runs in
Airflow's triggerer: an asyncio loop that advances the job through the store and the vendor
every ``poll_interval`` seconds while the task holds no worker slot. When the job is finished
the task resumes, writes the results to ``output`` (a path or an fsspec URL) and returns a
summary as its XCom. :class:`BatchkitJobSensor` waits on a job submitted elsewhere.

Needs Airflow 2.10 or later (``pip install "batchkit[airflow]"``). The triggerer and the workers
must see the same batchkit store: a shared ``BATCHKIT_HOME``, or ``BATCHKIT_STORE`` pointing at
one database.
"""

from .operators import BatchkitOperator
from .sensors import BatchkitJobSensor
from .triggers import BatchkitJobTrigger

__all__ = ["BatchkitJobSensor", "BatchkitJobTrigger", "BatchkitOperator"]
