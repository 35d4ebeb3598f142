"""Fixtures for the Vertex AI tests: the emulator pair (job service + Cloud Storage) and the
official clients pointed at it, with no Google environment leaking in from the machine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform_v1, storage

from batchkit.testing._emulate import EmulatorHandle, emulate

GOOGLE_ENV = ("GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "BATCHKIT_GCS_BUCKET",
              "GOOGLE_APPLICATION_CREDENTIALS", "STORAGE_EMULATOR_HOST")
PARENT = "projects/batchkit-sandbox/locations/us-central1"


@pytest.fixture(autouse=True)
def _no_google_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in GOOGLE_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def handle() -> Iterator[EmulatorHandle]:
    with emulate(providers=["vertex"]) as h:
        yield h


@pytest.fixture
def manual() -> Iterator[EmulatorHandle]:
    with emulate(providers=["vertex"], auto=False) as h:
        yield h


def _job_client(h: EmulatorHandle) -> aiplatform_v1.JobServiceClient:
    return aiplatform_v1.JobServiceClient(
        credentials=AnonymousCredentials(), transport="rest",
        client_options=ClientOptions(api_endpoint=h.base_url("vertex")))


def _storage_client(h: EmulatorHandle) -> Any:
    return storage.Client(project="batchkit-sandbox", credentials=AnonymousCredentials(),
                          client_options={"api_endpoint": h.base_url("gcs")})


@pytest.fixture
def jobs(handle: EmulatorHandle) -> aiplatform_v1.JobServiceClient:
    """The official JobService client (REST) against the auto-clock emulator."""
    return _job_client(handle)


@pytest.fixture
def manual_jobs(manual: EmulatorHandle) -> aiplatform_v1.JobServiceClient:
    """The same, against the emulator whose clock only the test moves."""
    return _job_client(manual)


@pytest.fixture
def gcs(handle: EmulatorHandle) -> Any:
    """The official Cloud Storage client against the emulator's ``/gcs`` app."""
    return _storage_client(handle)


@pytest.fixture
def manual_gcs(manual: EmulatorHandle) -> Any:
    return _storage_client(manual)
