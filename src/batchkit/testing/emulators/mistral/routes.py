"""The Mistral batch emulator: the files and batch-jobs endpoints under ``/v1``.

Why: batchkit's Mistral adapter drives the official ``mistralai`` SDK, so tests point that SDK
at this app (``server_url=f"{url}/mistral"``) and everything between the adapter and the wire is
real. The app checks what it receives against Mistral's own OpenAPI spec (the create body
against ``CreateBatchJobRequest``, each line's body against ``ChatCompletionRequest`` or
``EmbeddingRequest``), and answers as Mistral does: bearer auth (401 ``{"detail":
"Unauthorized"}``), 422 ``{"object": "error", "message": {"detail": [...]}}`` for a body the spec
refuses, uuid ids, the seven job statuses on the shared clock, output and error files, and
``outputs`` inline on ``GET ...?inline=true``. Tests arm faults and read counters on the app
object (``handle.apps["mistral"]``).

The list endpoint reads ``metadata`` the way the SDK sends it: as exploded query parameters
(``?batchkit_key=...``, OpenAPI's default ``form`` style for an object), so any query parameter
the spec does not name is a metadata filter; a literal ``metadata=<json object>`` works too.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from batchkit.testing import _spec
from batchkit.testing._clock import EmulatorClock
from batchkit.testing._server import (
    MultipartError,
    Request,
    Response,
    bytes_response,
    json_response,
)
from batchkit.testing.emulators._app import (
    VendorError,
    bearer_token,
    jsonl,
    retry_headers,
)
from batchkit.testing.emulators._file_batch import FileBatchApp
from batchkit.testing.emulators.mistral.realtime import REALTIME_PATHS, SyncEndpoints
from batchkit.testing.emulators.mistral.replies import (
    BODY_SCHEMAS,
    Responder,
    default_responder,
    error_body,
    validation_detail,
)
from batchkit.testing.emulators.mistral.state import (
    TERMINAL,
    EmulatedJob,
    InputLine,
    Phases,
    check_lines,
    faults_for,
    parse_file_lines,
)

FILE_PURPOSES = frozenset({"fine-tune", "batch", "ocr"})
LIST_PARAMETERS = frozenset({"page", "page_size", "model", "agent_id", "metadata",
                             "created_after", "created_by_me", "status", "order_by"})


class ApiError(VendorError):
    """An HTTP error answered with a Mistral error body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body, str(body))


def _invalid(problems: list[str], prefix: tuple[str | int, ...] = ("body",)) -> ApiError:
    return ApiError(422, error_body(validation_detail(problems, prefix)))


@dataclass
class StoredFile:
    id: str
    filename: str
    purpose: str
    sample_type: str
    source: str
    created_at: int
    data: bytes

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "object": "file", "bytes": len(self.data),
            "created_at": self.created_at, "filename": self.filename, "purpose": self.purpose,
            "sample_type": self.sample_type, "source": self.source,
            "num_lines": self.data.count(b"\n"), "mimetype": "application/jsonl",
            "signature": None, "expires_at": None, "visibility": "workspace",
        }


class MistralEmulator(FileBatchApp):
    """The Mistral app mounted at ``/mistral``.

    Knobs a test may set: ``phases`` (how long each status lasts), ``responder`` (the reply for
    a line), ``api_keys`` (None accepts any bearer token; a set accepts only those),
    ``max_file_requests`` (1,000,000 per the batch docs; the limits page says 100,000),
    ``results_inline_only`` (finished jobs name no files; results only via ``inline=true``),
    ``item_faults`` and ``endpoint_faults``.
    """

    name = "mistral"

    def __init__(self, clock: EmulatorClock, *, responder: Responder | None = None) -> None:
        super().__init__(clock)
        self.responder: Responder = responder or default_responder
        self.realtime = SyncEndpoints(
            lambda endpoint, body, custom_id: self.responder(endpoint, body, custom_id))
        """``/v1/chat/completions`` and ``/v1/embeddings``, which real-time mode calls."""
        self.phases = Phases()
        self.max_file_requests = 1_000_000
        self.results_inline_only = False
        self.files: dict[str, StoredFile] = {}
        self.jobs: dict[str, EmulatedJob] = {}
        self.uploads = 0
        self.creates = 0
        self.create_attempts = 0
        self._fail_next: list[str] = []

    # ---- fault and counter API for tests -------------------------------------------------

    def fail_next_job(self, message: str = "Batch validation failed") -> None:
        """The next created job ends ``FAILED`` with this error, whatever its input."""
        self._fail_next.append(message)

    def jobs_created_with(self, metadata_key: str, value: str) -> int:
        """How many creates carried ``metadata[metadata_key] == value`` (idempotency checks)."""
        return self._creates_by_metadata[(metadata_key, value)]

    def fault_response(self, status: int, retry_after: float | None) -> Response:
        headers = retry_headers(retry_after)
        if status == 429:
            body = error_body("Requests rate limit exceeded", type="rate_limited")
        else:
            body = error_body("Internal server error", type="internal_server_error")
        return json_response(body, status, headers)

    # ---- HTTP --------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Real-time calls are answered outside the app's lock: each takes its latency in its
        own server thread, as calls to the vendor overlap."""
        path = "/" + request.path.strip("/")
        if request.method != "POST" or path not in REALTIME_PATHS:
            return super().handle(request)
        try:
            self._authenticate(request)
        except VendorError as failure:
            return failure.response()
        return self.realtime.handle(request, path)

    def _authenticate(self, request: Request) -> None:
        if self._refuses(bearer_token(request)):
            raise ApiError(401, {"detail": "Unauthorized"})

    def _route(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        method = request.method
        if parts[:2] == ["v1", "files"]:
            if len(parts) == 2 and method == "POST":
                return self._upload(request)
            if len(parts) == 3 and method == "GET":
                return json_response(self._file(parts[2]).as_json())
            if len(parts) == 4 and parts[3] == "content" and method == "GET":
                return bytes_response(self._file(parts[2]).data)
        if parts[:3] == ["v1", "batch", "jobs"]:
            if len(parts) == 3 and method == "POST":
                return self._create(request)
            if len(parts) == 3 and method == "GET":
                return self._list(request)
            if len(parts) == 4 and method == "GET":
                inline = (request.query_value("inline") or "").lower() == "true"
                return json_response(self._job(parts[3], polled=True).as_json(inline=inline))
            if len(parts) == 5 and parts[4] == "cancel" and method == "POST":
                return self._cancel(parts[3])
        raise ApiError(404, {"detail": "Not Found"})

    # ---- files -------------------------------------------------------------------------------

    def _upload(self, request: Request) -> Response:
        try:
            form = request.form()
        except MultipartError as bad:
            raise _invalid([f"$: {bad}"]) from None
        if "file" not in form:
            raise _invalid(["$.file: Field required"])
        purpose = form["purpose"].text() if "purpose" in form else "fine-tune"
        if purpose not in FILE_PURPOSES:
            raise _invalid([f"$.purpose: Input should be {', '.join(sorted(FILE_PURPOSES))}"])
        upload = form["file"]
        sample = "batch_request" if purpose == "batch" else "instruct"
        stored = self._store(upload.filename or "upload", purpose, sample, "upload", upload.data)
        self.uploads += 1
        return json_response(stored.as_json())

    def _store(self, filename: str, purpose: str, sample_type: str, source: str,
               data: bytes) -> StoredFile:
        stored = StoredFile(str(uuid.uuid4()), filename, purpose, sample_type, source,
                            int(self.clock.now()), data)
        self.files[stored.id] = stored
        return stored

    def _file(self, file_id: str) -> StoredFile:
        _check_uuid(file_id, "file_id")
        stored = self.files.get(file_id)
        if stored is None:
            raise ApiError(404, error_body(f"File {file_id} not found", type="not_found"))
        return stored

    # ---- jobs --------------------------------------------------------------------------------

    def _create(self, request: Request) -> Response:
        self.create_attempts += 1
        try:
            body = request.json()
        except ValueError:
            raise _invalid(["$: JSON decode error"]) from None
        problems = _spec.validate("mistral", "CreateBatchJobRequest", body)
        if problems:
            raise _invalid(problems)
        files, inline = body.get("input_files"), body.get("requests")
        if (files is None) == (inline is None):
            raise ApiError(400, error_body(
                "Exactly one of input_files and requests must be provided"))
        endpoint = body["endpoint"]
        if endpoint not in BODY_SCHEMAS:
            raise ApiError(400, error_body(f"The batchkit emulator does not serve {endpoint}; it "
                                           "serves " + ", ".join(sorted(BODY_SCHEMAS))))
        job_problems: Counter[str] = Counter()
        if inline is not None:
            lines = [InputLine(item.get("custom_id"), item["body"]) for item in inline]
        else:
            lines = []
            for file_id in files:
                source = self._file(file_id)
                if source.purpose != "batch":
                    raise ApiError(400, error_body(
                        f"File {file_id} has purpose {source.purpose!r}, not 'batch'"))
                lines.extend(parse_file_lines(source.data, job_problems))
        check_lines(lines, job_problems, self.max_file_requests)
        if self._fail_next:
            job_problems[self._fail_next.pop(0)] += 1
        metadata = body.get("metadata")
        job = EmulatedJob(
            id=str(uuid.uuid4()), endpoint=endpoint, model=body.get("model"),
            input_files=list(files or []), metadata=metadata,
            timeout_hours=body.get("timeout_hours", 24), created_at=int(self.clock.now()),
            lines=lines, problems=job_problems, faults=faults_for(self.item_faults, lines),
            phases=Phases(**vars(self.phases)),
        )
        self.jobs[job.id] = job
        self.creates += 1
        self._count_create(metadata)
        return json_response(job.as_json())

    def _sync(self, job: EmulatedJob, *, polled: bool) -> EmulatedJob:
        """Bring ``job`` up to the clock (in auto mode a poll first jumps to its next step)."""
        if polled:
            self.clock.reach(job.next_due())
        job.advance(self.clock.now(), self.responder)
        if job.status in TERMINAL and not job.results_written:
            self._write_results(job)
        return job

    def _write_results(self, job: EmulatedJob) -> None:
        output, errors = job.result_rows()
        if not self.results_inline_only:
            for rows, kind in ((output, "output"), (errors, "error")):
                if rows:
                    stored = self._store(f"{job.id}_{kind}.jsonl", "batch",
                                         f"batch_{'result' if kind == 'output' else 'error'}",
                                         "mistral", jsonl(rows))
                    setattr(job, f"{kind}_file", stored.id)
        job.results_written = True

    def _job(self, job_id: str, *, polled: bool) -> EmulatedJob:
        _check_uuid(job_id, "job_id")
        job = self.jobs.get(job_id)
        if job is None:
            raise ApiError(404, error_body(f"Batch job {job_id} not found", type="not_found"))
        return self._sync(job, polled=polled)

    def _list(self, request: Request) -> Response:
        page = _int_query(request, "page", 0)
        size = _int_query(request, "page_size", 100)
        wanted = {k: v[-1] for k, v in request.query.items() if k not in LIST_PARAMETERS}
        raw_metadata = request.query_value("metadata")
        if raw_metadata:
            try:
                wanted.update(json.loads(raw_metadata))
            except (ValueError, TypeError):
                raise _invalid(["$.metadata: Input should be a valid dictionary"],
                               ("query",)) from None
        statuses = set(request.query.get("status", []))
        since = _created_after(request.query_value("created_after"))
        found = []
        for job in self.jobs.values():
            self._sync(job, polled=False)
            if statuses and job.status not in statuses:
                continue
            if since is not None and job.created_at < since:
                continue
            if request.query_value("model") not in (None, job.model):
                continue
            if any((job.metadata or {}).get(k) != v for k, v in wanted.items()):
                continue
            found.append(job)
        if request.query_value("order_by") != "created":  # "-created" is the default
            found.reverse()  # the dict keeps creation order
        chosen = found[page * size:(page + 1) * size]
        for job in chosen:  # a listing polls what it shows: auto mode moves each one step
            self._sync(job, polled=True)
        return json_response({"data": [j.as_json() for j in chosen], "object": "list",
                              "total": len(found)})

    def _cancel(self, job_id: str) -> Response:
        job = self._job(job_id, polled=False)
        if job.status in TERMINAL:
            raise ApiError(400, error_body(
                f"Batch job {job_id} is {job.status} and can no longer be cancelled"))
        if job.status != "CANCELLATION_REQUESTED":
            job.cancel(self.clock.now(), self.responder)
        return json_response(job.as_json())


def _check_uuid(value: str, name: str) -> None:
    """Mistral's ids are uuids; FastAPI answers anything else with a 422 on the path."""
    try:
        uuid.UUID(value)
    except ValueError:
        raise _invalid([f"$.{name}: Input should be a valid UUID"], ("path",)) from None


def _int_query(request: Request, name: str, default: int) -> int:
    raw = request.query_value(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise _invalid([f"$.{name}: Input should be a valid integer"], ("query",))
    return int(raw)


def _created_after(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise _invalid(["$.created_after: Input should be a valid datetime"],
                       ("query",)) from None


def create_app(clock: EmulatorClock) -> MistralEmulator:
    """Factory named in the emulate() table."""
    return MistralEmulator(clock)
