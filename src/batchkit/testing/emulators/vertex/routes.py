"""The Vertex AI JobService emulator (batch prediction over REST), mounted at ``/vertex``.

Why: batchkit's Vertex adapter drives ``google.cloud.aiplatform_v1.JobServiceClient`` with the
REST transport, so tests point it at this app (``client_options={"api_endpoint":
f"{url}/vertex"}``: the transport keeps an ``http://`` scheme and a path prefix, and builds
``{endpoint}/v1/projects/...``). Jobs read their input from, and write their output to, the
Cloud Storage app mounted beside this one (``create_app`` returns both).

The app answers as Vertex does: the created body must parse as ``aiplatform_v1.BatchPredictionJob``
(protobuf ``json_format``, unknown fields refused) and carry the fields Vertex requires; bad
requests get ``{"error": {"code", "message", "status"}}``; the transport's
``$alt=json;enum-encoding=int`` is honoured (states as numbers); resource names carry the project
*number*, as Vertex's do; ``list`` takes the documented filter forms (``labels.k=v``,
``labels.k:*``, ``display_name``, ``state``, joined by ``AND``). Tests arm faults and read counters
on the app object (``handle.apps["vertex"]``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from batchkit.testing._clock import EmulatorClock
from batchkit.testing._server import (
    EndpointFaults,
    Request,
    Response,
    RetryableItemFaults,
    json_response,
)
from batchkit.testing.emulators.gcs.routes import GcsEmulator
from batchkit.testing.emulators.gcs.state import GcsError, parse_gs_uri
from batchkit.testing.emulators.vertex.realtime import REALTIME_VERBS, SyncEndpoints
from batchkit.testing.emulators.vertex.replies import (
    ChatResponder,
    EmbeddingResponder,
    check_chat_row,
    check_embedding_instance,
    default_chat_responder,
    default_embedding_responder,
    status_text,
)
from batchkit.testing.emulators.vertex.state import (
    ENDED,
    RUNNABLE,
    EmulatedJob,
    JobFault,
    JobFaultKind,
    Phases,
    Row,
)

_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
           404: "NOT_FOUND", 409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
           503: "UNAVAILABLE"}
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_MODEL = re.compile(r"^(projects/[^/]+/locations/[^/]+/)?publishers/google/models/([^/@]+)(@.+)?$")
_FILTER_TERM = re.compile(r'^(labels\.[a-z][a-z0-9_-]*|display_name|state)\s*(!=|=|:)\s*'
                          r'(?:"([^"]*)"|(\S+))$')
_EMBEDDING_PARAMETERS: dict[str, Callable[[Any], bool]] = {
    # modelParameters is a protobuf Value: every number arrives as a double (16 -> 16.0).
    "outputDimensionality": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
    and float(v).is_integer() and 1 <= v <= 768,
    "autoTruncate": lambda v: isinstance(v, bool),
}


class VertexError(Exception):
    """An HTTP error answered with Google's JSON error body."""

    def __init__(self, status: int, message: str, rpc_status: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"code": status, "message": message,
                               "status": rpc_status or _STATUS.get(status, "UNKNOWN")}}


@dataclass
class InputLimits:
    """What one job may hold (batch-prediction quotas); lower them to test the limits."""

    max_requests: int = 200_000
    max_embedding_requests: int = 30_000
    max_file_bytes: int = 1_000_000_000


class VertexEmulator:
    """The JobService app. Knobs: ``phases``, ``limits``, ``chat_responder``,
    ``embedding_responder``, faults (:meth:`fault_row`, :meth:`fault_next_job`) and counters
    (``creates``, :meth:`jobs_with_label`)."""

    name = "vertex"

    def __init__(self, clock: EmulatorClock, gcs: GcsEmulator) -> None:
        self.clock = clock
        self.gcs = gcs
        self.phases = Phases()
        self.limits = InputLimits()
        self.chat_responder: ChatResponder = default_chat_responder
        self.embedding_responder: EmbeddingResponder = default_embedding_responder
        self.endpoint_faults = EndpointFaults()
        self.retryable_items = RetryableItemFaults()
        self.jobs: dict[str, EmulatedJob] = {}
        self.creates = 0
        self._row_faults: dict[str, tuple[int, str]] = {}
        self._job_faults: list[tuple[Callable[[dict[str, Any]], bool] | None, JobFault]] = []
        self._lock = threading.RLock()
        self.realtime = SyncEndpoints(lambda: (self.chat_responder, self.embedding_responder))

    # ---- fault and counter API for tests -------------------------------------------------

    def fault_row(self, row_id: str, code: int = 400,
                  message: str = "Request contains an invalid argument.") -> None:
        """Fail, in jobs created afterwards, every row whose request label values or key field
        include ``row_id``: the row's ``status`` holds the error, its response is empty."""
        self._row_faults[row_id] = (code, message)

    def fault_next_job(self, kind: JobFaultKind, *, completed: int = 0,
                       message: str | None = None,
                       where: Callable[[dict[str, Any]], bool] | None = None) -> None:
        """End ``kind``, after its first ``completed`` rows, the next job created whose body
        (REST JSON) satisfies ``where`` (any job when None). A predicate rather than an order,
        because batchkit creates a job's shards concurrently."""
        fault = JobFault(kind, completed)
        if message is not None:
            fault.message = message
        self._job_faults.append((where, fault))

    def jobs_with_label(self, key: str, value: str) -> int:
        """How many jobs were created with ``labels[key] == value``."""
        return sum(1 for j in self.jobs.values() if j.body.get("labels", {}).get(key) == value)

    def fault_response(self, status: int, retry_after: float | None) -> Response:
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        messages = {429: "Quota exceeded for aiplatform.googleapis.com/batch_prediction_jobs.",
                    503: "The service is currently unavailable."}
        failure = VertexError(status, messages.get(status, "Internal error encountered."))
        return json_response(failure.body, status, headers)

    # ---- HTTP --------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        model, _, verb = parts[-1].partition(":")
        if len(parts) == 9 and parts[5:8] == ["publishers", "google", "models"] \
                and verb in REALTIME_VERBS and request.method == "POST":
            return self.realtime.handle(request, model, verb)  # no lock: calls overlap
        try:
            with self._lock:
                body = self._route(request)
        except VertexError as failure:
            return json_response(failure.body, failure.status)
        return json_response(_enums_as_numbers(body) if _int_enums(request) else body)

    def _route(self, request: Request) -> dict[str, Any]:
        parts = request.path.strip("/").split("/")
        method = request.method
        if len(parts) >= 6 and parts[:2] == ["v1", "projects"] and parts[3] == "locations" \
                and parts[5] == "batchPredictionJobs":
            project, location, rest = parts[2], parts[4], parts[6:]
            if not rest and method == "POST":
                return self._create(request, project, location)
            if not rest and method == "GET":
                return self._list(request, project, location)
            if len(rest) == 1 and rest[0].endswith(":cancel") and method == "POST":
                return self._cancel(rest[0].removesuffix(":cancel"))
            if len(rest) == 1 and method == "GET":
                job = self._job(rest[0])
                self._sync(job, polled=True)
                return job.resource()
        raise VertexError(404, f"The requested URL {request.path} was not found on this server.")

    # ---- jobs --------------------------------------------------------------------------------

    def _create(self, request: Request, project: str, location: str) -> dict[str, Any]:
        from google.cloud.aiplatform_v1 import BatchPredictionJob
        from google.protobuf import json_format  # type: ignore[import-untyped]

        try:
            body = request.json()
            json_format.ParseDict(body, BatchPredictionJob.pb()())
        except (ValueError, json_format.ParseError) as exc:
            raise VertexError(400, f"Invalid JSON payload received. {exc}") from None
        _require(body)
        embedding = _check_model(body["model"], body.get("modelParameters"))
        _check_labels(body.get("labels") or {})
        _check_io(body)
        job_id = str(10**18 + secrets.randbelow(9 * 10**18))
        name = f"projects/{project_number(project)}/locations/{location}/" \
               f"batchPredictionJobs/{job_id}"
        rows, read_error = self._read_rows(body, embedding)
        job = EmulatedJob(name=name, body=body, embedding=embedding, rows=rows,
                          created_at=self.clock.now(), phases=Phases(**vars(self.phases)),
                          read_error=read_error, row_faults=self.retryable_items.overlay(
                              self._row_faults, _retryable_row),
                          fault=self._take_job_fault(body))
        self.jobs[job_id] = job
        self.creates += 1
        return job.resource()

    def _read_rows(self, body: dict[str, Any], embedding: bool) -> tuple[list[Row], str | None]:
        """The job's input rows, or why the job will fail when it starts."""
        key_field = (body.get("instanceConfig") or {}).get("keyField")
        rows: list[Row] = []
        for uri in body["inputConfig"]["gcsSource"]["uris"]:
            bucket, path = parse_gs_uri(uri)
            try:
                data = self.gcs.store.get(bucket, path).data
            except GcsError as exc:
                return [], f"Failed to read the input file {uri}: {exc}"
            if len(data) > self.limits.max_file_bytes:
                return [], f"The input file {uri} is larger than the limit of " \
                           f"{self.limits.max_file_bytes} bytes."
            rows.extend(_row(line, embedding, key_field, str(body.get("model") or ""))
                        for line in data.splitlines() if line.strip())
        cap = self.limits.max_embedding_requests if embedding else self.limits.max_requests
        if len(rows) > cap:
            return [], f"The job has {len(rows)} requests; the limit is {cap}."
        return rows, None

    def _take_job_fault(self, body: dict[str, Any]) -> JobFault | None:
        for index, (where, fault) in enumerate(self._job_faults):
            if where is None or where(body):
                del self._job_faults[index]
                return fault
        return None

    def _job(self, job_id: str) -> EmulatedJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise VertexError(404, f"BatchPredictionJob {job_id} does not exist.")
        return job

    def _sync(self, job: EmulatedJob, *, polled: bool) -> None:
        """Bring ``job`` up to the clock (in auto mode a poll first jumps to its next step)."""
        if polled:
            self.clock.reach(job.next_due())
        job.advance(self.clock.now(), self.gcs.store, self.chat_responder,
                    self.embedding_responder)

    def _cancel(self, job_id: str) -> dict[str, Any]:
        job = self._job(job_id)
        self._sync(job, polled=False)
        if job.state in ENDED:
            raise VertexError(400, f"BatchPredictionJob {job.name} is in state {job.state} "
                                   "and cannot be cancelled.", "FAILED_PRECONDITION")
        if job.state in RUNNABLE:
            job.cancel(self.clock.now(), self.chat_responder, self.embedding_responder)
        return {}

    def _list(self, request: Request, project: str, location: str) -> dict[str, Any]:
        match = _parse_filter(request.query_value("filter") or "")
        raw_size = request.query_value("pageSize") or "100"
        if not raw_size.isdigit():
            raise VertexError(400, f"Invalid page_size: {raw_size}")
        size = min(int(raw_size) or 100, 1000)
        start = int(request.query_value("pageToken") or 0)
        prefix = f"projects/{project_number(project)}/locations/{location}/"
        found = []
        for job in reversed(self.jobs.values()):  # newest first
            if not job.name.startswith(prefix):
                continue
            self._sync(job, polled=False)
            if match(job.resource()):
                found.append(job)
        page = found[start:start + size]
        for job in page:  # a listing polls what it shows: auto mode moves each one step
            self._sync(job, polled=True)
        body: dict[str, Any] = {"batchPredictionJobs": [job.resource() for job in page]}
        if len(found) > start + size:
            body["nextPageToken"] = str(start + size)
        return body


def project_number(project: str) -> str:
    """The project number Vertex puts in resource names, derived from the project id."""
    if project.isdigit():
        return project
    return str(int(hashlib.sha256(project.encode()).hexdigest()[:10], 16) % 10**12)


def _require(body: Any) -> None:
    missing = [f for f in ("displayName", "model", "inputConfig", "outputConfig")
               if not (isinstance(body, dict) and body.get(f))]
    if missing:
        listed = "".join(f"{i}.Field: batch_prediction_job.{_snake(f)}; Message: Required field "
                         "is not set.\t" for i, f in enumerate(missing, 1))
        raise VertexError(400, f"List of found errors:\t{listed}")


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def _check_model(model: str, parameters: Any) -> bool:
    """True for an embedding model. Only Google's publisher models are served here."""
    match = _MODEL.match(model)
    if match is None:
        raise VertexError(400, f"Invalid model {model!r}: expected publishers/google/models/*")
    short = match.group(2)
    embedding = "embedding" in short
    if short.startswith("gemini-embedding"):
        raise VertexError(400, f"Model {short} does not support batch prediction.")
    if not embedding and not short.startswith("gemini-"):
        raise VertexError(404, f"Publisher Model `{model}` not found.")
    if embedding and parameters is not None:
        if not isinstance(parameters, dict):
            raise VertexError(400, "model_parameters must be an object.")
        for key, value in parameters.items():
            if not _EMBEDDING_PARAMETERS.get(key, lambda _: False)(value):
                raise VertexError(400, f"Invalid model_parameters.{key}: {value!r}")
    return embedding


def _check_labels(labels: dict[str, str]) -> None:
    if len(labels) > 64:
        raise VertexError(400, "At most 64 labels are allowed.")
    for key, value in labels.items():
        if not _LABEL_KEY.match(key) or not _LABEL_VALUE.match(value):
            raise VertexError(400, f"Invalid label {key}={value!r}: keys and values can be no "
                                   "longer than 63 characters and can only contain lowercase "
                                   "letters, numeric characters, underscores and dashes. Label "
                                   "keys must start with a letter.")


def _check_io(body: dict[str, Any]) -> None:
    source, dest = body["inputConfig"], body["outputConfig"]
    if source.get("instancesFormat") != "jsonl" or not source.get("gcsSource", {}).get("uris"):
        raise VertexError(400, "This emulator serves input_config.instances_format 'jsonl' "
                               "with gcs_source.uris only.")
    if dest.get("predictionsFormat") != "jsonl" or \
            not dest.get("gcsDestination", {}).get("outputUriPrefix"):
        raise VertexError(400, "This emulator serves output_config.predictions_format 'jsonl' "
                               "with gcs_destination.output_uri_prefix only.")
    for uri in [*source["gcsSource"]["uris"], dest["gcsDestination"]["outputUriPrefix"]]:
        try:
            parse_gs_uri(uri)
        except ValueError as exc:
            raise VertexError(400, f"Invalid Cloud Storage URI: {exc}") from None


def _row(line: bytes, embedding: bool, key_field: str | None, model: str) -> Row:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        text = line.decode("utf-8", "replace")
        problem = status_text(400, "Invalid JSON payload received.")
        return Row(text, {"instance": text} if embedding else {"request": text}, frozenset(),
                   problem)
    if not embedding:
        request = obj.get("request") if isinstance(obj, dict) else None
        labels = request.get("labels") if isinstance(request, dict) else None
        ids = frozenset(v for v in (labels or {}).values() if isinstance(v, str))
        return Row(request, {"request": request}, ids, check_chat_row(obj, model))
    if key_field and isinstance(obj, dict) and key_field in obj:
        instance = {k: v for k, v in obj.items() if k != key_field}
        key = obj[key_field]
        return Row(instance, {"key": key}, frozenset({str(key)}),
                   check_embedding_instance(instance))
    return Row(obj, {"instance": obj}, frozenset(), check_embedding_instance(obj))


def _parse_filter(text: str) -> Callable[[dict[str, Any]], bool]:
    """The documented ``list`` filter forms, joined by ``AND``; anything else is refused."""
    terms = []
    for term in (t.strip() for t in re.split(r"\s+AND\s+", text.strip())):
        if not term:
            continue
        match = _FILTER_TERM.match(term)
        if match is None or (match.group(2) == ":" and match.group(4) != "*"):
            raise VertexError(400, f"Unsupported filter: {term!r}")
        name, op, quoted, bare = match.groups()
        terms.append((name, op, quoted if quoted is not None else bare))

    def matches(job: dict[str, Any]) -> bool:
        for name, op, value in terms:
            if name.startswith("labels."):
                found = job.get("labels", {}).get(name[len("labels."):])
            else:
                found = job.get("displayName" if name == "display_name" else name)
            if op == ":" and found is None:
                return False
            if op != ":" and (found == value) != (op == "="):
                return False
        return True

    return matches


def _int_enums(request: Request) -> bool:
    """The REST transport asks for ``$alt=json;enum-encoding=int``."""
    return "enum-encoding=int" in (request.query_value("$alt") or "")


def _enums_as_numbers(body: dict[str, Any]) -> dict[str, Any]:
    from google.cloud.aiplatform_v1 import JobState

    def convert(job: dict[str, Any]) -> dict[str, Any]:
        return {**job, "state": int(getattr(JobState, job["state"]))} if "state" in job else job

    if "batchPredictionJobs" in body:
        return {**body, "batchPredictionJobs": [convert(j) for j in body["batchPredictionJobs"]]}
    return convert(body)


def create_app(clock: EmulatorClock) -> list[Any]:
    """Factory named in the emulate() table: the job service and the Cloud Storage it uses."""
    gcs = GcsEmulator(clock)
    return [VertexEmulator(clock, gcs), gcs]


def _retryable_row(status: int) -> tuple[int, str]:
    """A retryable row fault as Vertex writes it in the row's ``status`` column."""
    return status, {429: "Resource exhausted. Please try again later.",
                    503: "The service is currently unavailable."}.get(
        status, "Internal error encountered.")
