"""Airflow's base classes where each major version keeps them, or batchkit's install hint.

Airflow 3 moved the authoring classes to the Task SDK (``airflow.sdk``); 2.10 has them in
``airflow.models`` and ``airflow.sensors.base``. Triggers live in ``airflow.triggers.base`` in
both. Looked up by name, so that type-checking batchkit needs no Airflow installed.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..._exceptions import MissingDependencyError

__all__ = ["BaseOperator", "BaseSensorOperator", "BaseTrigger", "TriggerEvent"]


def _first(*places: str) -> Any:
    """The first of ``module:Name`` places that imports."""
    for place in places:
        module, _, name = place.partition(":")
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise MissingDependencyError(
        'the Airflow integration needs Airflow 2.10 or later: pip install "batchkit[airflow]"')


BaseOperator = _first("airflow.sdk:BaseOperator", "airflow.models:BaseOperator")
BaseSensorOperator = _first("airflow.sdk:BaseSensorOperator",
                            "airflow.sensors.base:BaseSensorOperator")
BaseTrigger = _first("airflow.triggers.base:BaseTrigger")
TriggerEvent = _first("airflow.triggers.base:TriggerEvent")
