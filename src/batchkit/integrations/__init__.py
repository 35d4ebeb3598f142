"""Integrations with the tools teams already schedule and store with (each an optional extra).

* :mod:`batchkit.integrations.airflow`: a deferrable operator, its trigger and a sensor
  (``pip install "batchkit[airflow]"``).
"""
