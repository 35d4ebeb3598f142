"""The Vertex AI adapter: batch prediction jobs through ``google-cloud-aiplatform``, with input
and output in Cloud Storage through ``google-cloud-storage``.

The client is the stable ``google.cloud.aiplatform_v1.JobServiceClient`` over the REST transport
(not the deprecated ``vertexai`` generative modules); the pure half lives in
:mod:`.codec` and :mod:`..gemini.codec`, and the SDKs are imported the first time a
client is needed.

Options (``-o key=value`` / ``options={...}``), each with its environment fallback:

* ``project`` — ``GOOGLE_CLOUD_PROJECT``, else the project of the Application Default
  Credentials;
* ``location`` — ``GOOGLE_CLOUD_LOCATION``, else ``us-central1``;
* ``bucket`` — ``BATCHKIT_GCS_BUCKET``: a bucket name or ``gs://bucket/prefix`` for the input and
  output files (default prefix ``batchkit``);
* ``api_endpoint`` — the JobService endpoint (default ``{location}-aiplatform.googleapis.com``);
* ``timeout`` — seconds to wait for any one response (default 600).

Credentials are Google's Application Default Credentials; sandbox mode uses anonymous
credentials and the emulators' ``/vertex`` and ``/gcs`` apps.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..._exceptions import (
    ConfigError,
    MissingCredentialsError,
    MissingDependencyError,
    ProviderError,
)
from ..._requests import Request
from ..._results import Result
from .._credentials import redact, register_google_credentials
from ..base import (
    Adapter,
    Limits,
    RemoteStatus,
    ShardInput,
    open_private,
    result_file,
    sandbox_url,
    scan_listing,
)
from .capabilities import CAPABILITIES
from .codec import (
    JOB_LABEL,
    KEY_FIELD,
    KEY_LABEL,
    check_request,
    decode_line,
    dimensions_of,
    encode_request,
    group_of,
    identity_of,
    label_value,
    map_status,
    vendor_id,
)
from .realtime import VertexRealtime

if TYPE_CHECKING:
    from google.cloud.aiplatform_v1 import BatchPredictionJob, JobServiceClient
    from google.cloud.storage import Client as StorageClient  # type: ignore[import-untyped]

__all__ = ["VertexAdapter"]

_MAX_REQUESTS, _MAX_EMBEDDING_REQUESTS = 200_000, 30_000
"""The embeddings batch page: "Each request can include up to 30,000 prompts"."""
_MAX_BYTES = 1000 * 1000 * 1000
"""The Cloud Storage input file may be "1 GB"; read as decimal, the smaller reading."""
_CHUNK = 8 * 1024 * 1024
"""Upload chunk (a multiple of 256 KiB, as resumable uploads require)."""
_DOWNLOAD_CHUNK = 1024 * 1024
_DEFAULT_LOCATION, _DEFAULT_PREFIX = "us-central1", "batchkit"
_SANDBOX_PROJECT = _SANDBOX_BUCKET = "batchkit-sandbox"
_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
_TOKEN_PATTERN = re.compile(r"ya29\.[A-Za-z0-9_\-.]{3,}")
_INSTALL = 'the vertex provider needs the Google Cloud SDKs: pip install "batchkit[google]"'


@dataclass(frozen=True)
class _Settings:
    project: str
    location: str
    bucket: str
    prefix: str

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"


class VertexAdapter(VertexRealtime, Adapter):
    """Vertex AI batch prediction: one JSONL file in Cloud Storage and one job per shard.

    Chat shards run Gemini models (``{"request": GenerateContentRequest}`` lines); embedding
    shards run text-embedding models, grouped by output dimension because a job has a single
    ``modelParameters``. Real time (:mod:`.realtime`) sends the same lines to
    ``generateContent`` / ``predict``.
    """

    name = "vertex"
    capabilities = CAPABILITIES
    row_id_key, row_id_other_kind = "key", "request"  # chat rows' ids: see decode_line
    option_names = frozenset({"api_endpoint", "bucket", "location", "project"})
    credential_env = ("GOOGLE_APPLICATION_CREDENTIALS",)
    """The one credential variable of ADC; ``gcloud auth application-default login`` and the
    metadata server need none. Project and bucket are settings, not secrets."""

    def __init__(self, model: str, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(model, options)
        self._jobs: JobServiceClient | None = None
        self._storage: StorageClient | None = None
        self._settings: _Settings | None = None
        self._prediction: Any = None
        self._timeout = float(self.options.get("timeout", 600))
        """Seconds to wait for any one response (the JobService methods have no default)."""

    # -- pure half ---------------------------------------------------------------------------

    def group(self, request: Request) -> str:
        return group_of(request)

    def limits(self, group: str) -> Limits:
        """200,000 requests per job (30,000 for embeddings) and 1 GB per input file."""
        if group.startswith("embed"):
            return Limits(_MAX_EMBEDDING_REQUESTS, _MAX_BYTES,
                          max_embedding_inputs=_MAX_EMBEDDING_REQUESTS)
        return Limits(_MAX_REQUESTS, _MAX_BYTES)

    def check(self, request: Request) -> None:
        check_request(request, self.model)

    def vendor_id(self, custom_id: str) -> str:
        return vendor_id(custom_id)

    def row_keys(self, request: Request, vendor_id: str) -> tuple[str, ...]:
        """A row of a job batchkit did not write carries no id: it is found by its request."""
        return (identity_of(request, vendor_id),)

    def encode(self, request: Request, vendor_id: str) -> bytes:
        return encode_request(request, vendor_id)

    def decode(self, line: bytes) -> Result:
        return decode_line(line)

    # -- I/O half ----------------------------------------------------------------------------

    def submit(self, shard: ShardInput) -> str:
        """Upload the payload from disk, then create the job, labelled with the shard key.

        The storage client sends a file of up to 8 MB in one multipart request and a bigger
        one as a resumable upload in 8 MiB chunks, so memory stays bounded either way.

        The input path is fixed per shard, so a retried submit overwrites the same object. The
        create is sent once (``retry=None``): a retried create after a lost response could
        start a second, paid job; ``find_by_key`` finds the first one instead.
        """
        from google.cloud import aiplatform_v1

        settings = self._resolve()
        folder = f"{settings.prefix}/{shard.job_id}/shard-{shard.index:04d}"
        with self._call("upload the batch input") as (_, storage), \
                shard.payload_path.open("rb") as fh:
            blob = storage.bucket(settings.bucket).blob(f"{folder}/input.jsonl",
                                                        chunk_size=_CHUNK)
            blob.upload_from_file(fh, content_type="application/jsonl",
                                  size=shard.payload_path.stat().st_size,
                                  timeout=self._timeout)
        job = aiplatform_v1.BatchPredictionJob(
            display_name=f"batchkit-{shard.key}",
            model=self._model_resource(),
            input_config={"instances_format": "jsonl", "gcs_source": {
                "uris": [f"gs://{settings.bucket}/{folder}/input.jsonl"]}},
            output_config={"predictions_format": "jsonl", "gcs_destination": {
                "output_uri_prefix": f"gs://{settings.bucket}/{folder}/output"}},
            labels={KEY_LABEL: label_value(shard.key), JOB_LABEL: label_value(shard.job_id)},
        )
        if shard.group.startswith("embed"):
            job.instance_config = aiplatform_v1.BatchPredictionJob.InstanceConfig(
                key_field=KEY_FIELD)
            dimensions = dimensions_of(shard.group)
            if dimensions is not None:
                job.model_parameters = {"outputDimensionality": dimensions}
        with self._call("create the batch prediction job") as (jobs, _):
            created = jobs.create_batch_prediction_job(
                parent=settings.parent, batch_prediction_job=job, retry=None,
                timeout=self._timeout)
        return str(created.name)

    def poll(self, remote_id: str) -> RemoteStatus:
        with self._call("read the batch prediction job") as (jobs, _):
            job = jobs.get_batch_prediction_job(name=remote_id, retry=self._read_retry(),
                                                timeout=self._timeout)
        return map_status(_as_dict(job))

    def poll_many(
        self, remote_ids: Sequence[str], *, job_id: str, since: float
    ) -> dict[str, RemoteStatus]:
        """``list`` filtered on the server by the job's label (``labels.batchkit_job``, set on
        every shard's job by :meth:`submit`), instead of one ``get`` per shard: the listed
        items are the same BatchPredictionJob resources."""
        settings = self._resolve()
        wanted = f'labels.{JOB_LABEL}="{label_value(job_id)}"'
        with self._call("list batch prediction jobs") as (jobs, _):
            pager = jobs.list_batch_prediction_jobs(
                request={"parent": settings.parent, "filter": wanted},
                retry=self._read_retry(), timeout=self._timeout)
            return scan_listing(
                (page.batch_prediction_jobs for page in pager.pages), remote_ids,
                batch_id=lambda job: str(job.name),
                status=lambda job: map_status(_as_dict(job)),
            )

    def cancel(self, remote_id: str) -> None:
        """Ask for a cancel; a job that ended first answers FAILED_PRECONDITION, which is
        not an error here (the next poll reads how it ended)."""
        from google.api_core import exceptions

        with self._call("cancel the batch prediction job") as (jobs, _):
            try:
                jobs.cancel_batch_prediction_job(name=remote_id, retry=self._read_retry(),
                                                 timeout=self._timeout)
            except exceptions.GoogleAPICallError as exc:
                if _rpc_status(exc) != "FAILED_PRECONDITION":
                    raise

    def fetch_results(self, remote_id: str, status: RemoteStatus, dest: Path) -> list[Path]:
        """Stream every ``*.jsonl`` under the job's ``gcsOutputDirectory`` to ``dest``, in
        1 MiB ranged chunks, each to ``*.part`` first and renamed when complete. A job that
        never ran has no output directory, and so no files. Files are private to the user and
        named after the object name made safe (the vendor's text is never a path); the SDK
        streams into the file opened here rather than creating one with default permissions."""
        directory = (status.raw.get("outputInfo") or {}).get("gcsOutputDirectory")
        if not directory:
            directory = (self.poll(remote_id).raw.get("outputInfo") or {}).get(
                "gcsOutputDirectory")
        if not directory:
            return []
        bucket, _, prefix = str(directory).removeprefix("gs://").partition("/")
        dest.mkdir(parents=True, exist_ok=True)
        paths = []
        with self._call("download the predictions") as (_, storage):
            blobs = sorted(storage.list_blobs(bucket, prefix=prefix.rstrip("/") + "/",
                                              timeout=self._timeout), key=lambda b: b.name)
            for index, blob in enumerate(b for b in blobs if b.name.endswith(".jsonl")):
                stem = blob.name.rsplit("/", 1)[-1].removesuffix(".jsonl")
                path = result_file(dest, f"{index:03d}-{stem}", ".jsonl")
                part = path.with_name(path.name + ".part")
                blob.chunk_size = _DOWNLOAD_CHUNK
                with open_private(part) as fh:
                    blob.download_to_file(fh, timeout=self._timeout)
                part.replace(path)
                paths.append(path)
        return paths

    def find_by_key(self, shard: ShardInput) -> str | None:
        """The job labelled with ``shard.key``: ``list`` filters on ``labels.batchkit_key``
        on the server, so this is one request however many jobs the project has."""
        settings = self._resolve()
        wanted = f'labels.{KEY_LABEL}="{label_value(shard.key)}"'
        with self._call("list batch prediction jobs") as (jobs, _):
            found = [j for j in jobs.list_batch_prediction_jobs(
                request={"parent": settings.parent, "filter": wanted}, retry=self._read_retry(),
                timeout=self._timeout)
                if j.name not in shard.taken]
        if not found:
            return None
        return str(max(found, key=lambda j: j.create_time).name)

    def prepare(self) -> None:
        self._clients()

    def close(self) -> None:
        if self._prediction is not None:
            self._prediction.transport.close()
            self._prediction = None
        if self._jobs is not None:
            self._jobs.transport.close()  # type: ignore[no-untyped-call]
            self._jobs = None
        if self._storage is not None:
            self._storage.close()
            self._storage = None

    # -- helpers -----------------------------------------------------------------------------

    def _model_resource(self) -> str:
        """``gemini-2.5-flash`` -> ``publishers/google/models/gemini-2.5-flash``; a full
        resource name (a tuned model, another publisher) is sent as given."""
        return self.model if "/" in self.model else f"publishers/google/models/{self.model}"

    def _predictions(self) -> Any:
        """The ``PredictionServiceClient`` of real-time calls, built with the job client."""
        self._clients()
        return self._prediction

    @property
    def _parent(self) -> str:
        return self._resolve().parent

    def _resolve(self) -> _Settings:
        if self._settings is None:
            self._clients()
        assert self._settings is not None
        return self._settings

    def _clients(self) -> tuple[JobServiceClient, StorageClient]:
        """Both SDK clients, built once. Sandbox mode uses anonymous credentials, so no real
        credential ever reaches an emulator, and never asks ADC for anything."""
        if self._jobs is not None and self._storage is not None:
            return self._jobs, self._storage
        try:
            import google.auth
            from google.api_core.client_options import ClientOptions
            from google.auth.credentials import AnonymousCredentials, Credentials
            from google.cloud import aiplatform_v1, storage
        except ImportError:
            raise MissingDependencyError(_INSTALL) from None
        sandbox, gcs_sandbox = sandbox_url(self.name), sandbox_url("gcs")
        credentials: Credentials
        adc_project: str | None = None
        if sandbox:
            credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
        else:
            try:
                credentials, adc_project = google.auth.default(scopes=_SCOPES)
                register_google_credentials(credentials)
            except google.auth.exceptions.DefaultCredentialsError:
                raise MissingCredentialsError(
                    "no Google credentials: run `gcloud auth application-default login` or "
                    "set GOOGLE_APPLICATION_CREDENTIALS") from None
        self._settings = settings = self._settings_from(adc_project, bool(sandbox))
        location = settings.location
        endpoint = self.options.get("api_endpoint") or sandbox or (
            "aiplatform.googleapis.com" if location == "global"
            else f"{location}-aiplatform.googleapis.com")
        self._jobs = aiplatform_v1.JobServiceClient(
            credentials=credentials, transport="rest",
            client_options=ClientOptions(api_endpoint=endpoint))
        self._prediction = aiplatform_v1.PredictionServiceClient(
            credentials=credentials, transport="rest",
            client_options=ClientOptions(api_endpoint=endpoint))
        storage_options = {"api_endpoint": gcs_sandbox} if gcs_sandbox else None
        self._storage = storage.Client(project=settings.project, credentials=credentials,
                                       client_options=storage_options)
        return self._jobs, self._storage

    def _settings_from(self, adc_project: str | None, sandbox: bool) -> _Settings:
        project = (self.options.get("project") or os.environ.get("GOOGLE_CLOUD_PROJECT")
                   or adc_project or (_SANDBOX_PROJECT if sandbox else None))
        if not project:
            raise ConfigError("vertex needs a Google Cloud project: set GOOGLE_CLOUD_PROJECT "
                              "or pass options={'project': ...}")
        location = (self.options.get("location") or os.environ.get("GOOGLE_CLOUD_LOCATION")
                    or _DEFAULT_LOCATION)
        where = (self.options.get("bucket") or os.environ.get("BATCHKIT_GCS_BUCKET")
                 or (_SANDBOX_BUCKET if sandbox else None))
        if not where:
            raise ConfigError("vertex needs a Cloud Storage bucket for batch input and output: "
                              "set BATCHKIT_GCS_BUCKET or pass options={'bucket': ...}")
        bucket, _, prefix = str(where).removeprefix("gs://").partition("/")
        return _Settings(str(project), str(location), bucket,
                         prefix.strip("/") or _DEFAULT_PREFIX)

    def _read_retry(self) -> Any:
        """Retries for calls that change nothing (get, list, cancel): HTTP 429/500/503 and lost
        connections, with backoff, for up to a minute (or ``timeout``, if shorter). The gapic
        methods have no default retry; the create never gets one."""
        from google.api_core import retry

        return retry.Retry(predicate=retry.if_transient_error, initial=0.5, maximum=8.0,
                           multiplier=2.0, timeout=min(60.0, self._timeout))

    @contextmanager
    def _call(self, action: str) -> Iterator[tuple[JobServiceClient, StorageClient]]:
        """The clients, with SDK and transport errors re-raised as batchkit's. ``from None``:
        the chained exception would print the vendor's unredacted text in every traceback."""
        clients = self._clients()
        import google.auth.exceptions
        import requests
        from google.api_core import exceptions
        from google.cloud.storage import exceptions as storage_exceptions

        try:
            yield clients
        except exceptions.Unauthenticated as exc:
            raise MissingCredentialsError(
                f"Google refused the credentials while trying to {action} (HTTP 401): "
                f"{_clean(exc.message)}; run `gcloud auth application-default login` or set "
                "GOOGLE_APPLICATION_CREDENTIALS") from None
        except exceptions.GoogleAPICallError as exc:
            status = _rpc_status(exc)
            kind = f" [{status}]" if status else ""
            http = exc.code if isinstance(exc.code, int) else None
            raise ProviderError(
                f"Vertex AI could not {action}: HTTP {http}{kind}: {_clean(exc.message)}",
                status_code=http) from None
        except exceptions.RetryError as exc:
            last = exc.cause if exc.cause is not None else exc
            raise ProviderError(f"Vertex AI could not {action}, retried until the deadline: "
                                f"{type(last).__name__}: {_clean(str(last))}",
                                transient=True) from None
        except google.auth.exceptions.GoogleAuthError as exc:
            raise MissingCredentialsError(
                f"Google credentials failed while trying to {action}: {_clean(str(exc))}"
            ) from None
        except (exceptions.GoogleAPIError, storage_exceptions.InvalidResponse,
                storage_exceptions.DataCorruption) as exc:
            raise ProviderError(f"Vertex AI could not {action}: {type(exc).__name__}: "
                                f"{_clean(str(exc))}") from None
        except requests.exceptions.RequestException as exc:
            raise ProviderError(f"Vertex AI could not {action}: {type(exc).__name__}: "
                                f"{_clean(str(exc))}", transient=True) from None


def _clean(text: str) -> str:
    """Vendor text without anything shaped like an OAuth access token."""
    return redact(str(text), None, _TOKEN_PATTERN, "ya29.***")


def _rpc_status(exc: Any) -> str | None:
    """The ``google.rpc`` status name of an error: from the REST body's ``error.status`` (the
    SDK picks its exception class from the HTTP status alone, so a FAILED_PRECONDITION
    arrives as a plain ``BadRequest``), else from the exception class."""
    try:
        status = exc.response.json()["error"]["status"]
    except (AttributeError, KeyError, TypeError, ValueError):
        status = None
    if isinstance(status, str):
        return status
    code = getattr(exc, "grpc_status_code", None)
    return str(code.name) if code is not None else None


def _as_dict(job: BatchPredictionJob) -> dict[str, Any]:
    """The job as REST JSON (camelCase, enum names, int64 as strings), what the codec reads."""
    from google.protobuf import json_format  # type: ignore[import-untyped]

    message = type(job).pb(job)
    result: dict[str, Any] = json_format.MessageToDict(message)
    return result
