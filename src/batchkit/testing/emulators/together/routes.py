"""The Together AI Batch API emulator: the OpenAI emulator's batch engine, Together's API around it.

Together's batch service runs OpenAI-shaped requests but speaks its own dialect. Per the
``together`` SDK's generated types and upload code, Together's docs and a live research capture
(https://docs.together.ai/docs/batch-inference, providers.md):

* files upload in three steps, as the SDK does it: ``POST /v1/files`` with the name, purpose and
  SHA-256 answers ``302`` with a ``Location`` to PUT the bytes to (``409`` with the existing
  ``file_id`` when that content was uploaded before), then ``POST /v1/files/{id}/preprocess``;
  purpose ``batch-api``;
* input lines are ``{custom_id, body}`` only, ``custom_id`` at most 64 characters;
* the create body is checked against the SDK's own ``BatchCreateParams`` (no ``metadata``), is
  answered ``201 {"job": ..., "warning": null}``, and a missing input file fails the job later;
* bodies are checked only when a line runs: a bad one becomes an error row
  ``{"error": {"code": "batch_client_error", "message"}}`` in a ``COMPLETED`` batch;
* statuses ``VALIDATING``, ``IN_PROGRESS``, ``COMPLETED``, ``FAILED``, ``EXPIRED``,
  ``CANCELLED`` and the undocumented ``CANCELING`` seen live; ISO 8601 timestamps; a
  ``progress`` percentage and no request counts; a failed job has an ``error`` string and no
  files; a file id appears only when that file has rows, and requests that never ran get none;
* ``GET /v1/batches`` answers a bare JSON array; errors are ``{"error": "Job not found"}``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from batchkit.testing._clock import EmulatorClock
from batchkit.testing._server import (
    MultipartError,
    Request,
    Response,
    bytes_response,
    json_response,
)
from batchkit.testing.emulators._app import bearer_token, params_problem
from batchkit.testing.emulators.openai.replies import ReplyError
from batchkit.testing.emulators.openai.routes import ApiError, OpenAIEmulator, StoredFile
from batchkit.testing.emulators.openai.state import TERMINAL, EmulatedBatch
from batchkit.testing.emulators.openai.validation import (
    InputLimits,
    InputRules,
    ParsedInput,
    ValidationError,
    body_problem,
    parse_input,
)

TOGETHER_PURPOSES = frozenset({"fine-tune", "calibration", "eval", "batch-api"})
STATUS_NAMES = {
    "validating": "VALIDATING", "in_progress": "IN_PROGRESS", "finalizing": "IN_PROGRESS",
    "completed": "COMPLETED", "failed": "FAILED", "expired": "EXPIRED",
    "cancelling": "CANCELING", "cancelled": "CANCELLED",
}
"""The engine's OpenAI statuses -> Together's (which has no separate finalizing step)."""
UPLOAD_PREFIX = "/upload/"
PARAMS_REFUSALS = {  # how Together words what its create schema refuses
    "missing": "missing field `{}`",
    "unknown": "unknown field `{}`",
    "invalid": "invalid value for `{}`: {}",
}


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat().replace("+00:00", "Z")


class TogetherEmulator(OpenAIEmulator):
    """The Together app mounted at ``/together`` (the SDK's ``base_url``).

    Extra counters: ``purposes`` (uploads per purpose) and :meth:`batches_created_from`.
    """

    name = "together"
    file_purposes = TOGETHER_PURPOSES
    batch_purpose = "batch-api"
    input_rules = InputRules(envelope=("custom_id", "body"), one_model_code=None,
                             check_bodies=False, max_custom_id=64)

    def __init__(self, clock: EmulatorClock) -> None:
        super().__init__(clock)
        self.limits = InputLimits(max_requests=50_000, max_bytes=100 * 1024 * 1024)
        self.purposes: Counter[str] = Counter()
        self._pending: dict[str, tuple[str, str, str, str]] = {}
        self._creates_by_filename: Counter[str] = Counter()

    def batches_created_from(self, filename: str) -> int:
        """How many creates used an input file uploaded under ``filename``."""
        return self._creates_by_filename[filename]

    # ---- HTTP --------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path.startswith(UPLOAD_PREFIX) and request.method == "PUT":
            try:  # a presigned storage URL: the token is the credential
                with self._lock:
                    return self._receive_upload(request.path[len(UPLOAD_PREFIX):], request.body)
            except ApiError as failure:
                return failure.response()
        return super().handle(request)

    def _authenticate(self, request: Request) -> None:
        if self._refuses(bearer_token(request)):
            raise ApiError(401, "Invalid API key provided.", code="invalid_api_key")

    def _route(self, request: Request) -> Response:
        parts = self._api_parts(request)
        method = request.method
        if parts == ["files"]:
            if method == "POST":
                return self._start_upload(request)
            if method == "GET":
                return json_response({"data": [_file_json(f) for f in self.files.values()]})
        if parts[0] == "files" and len(parts) == 2 and method == "GET":
            return json_response(_file_json(self._file(parts[1])))
        if parts[0] == "files" and len(parts) == 3 and method == "GET" and parts[2] == "content":
            return bytes_response(self._file(parts[1]).data)
        if parts[0] == "files" and len(parts) == 3 and method == "POST" and (
                parts[2] == "preprocess"):
            return json_response(_file_json(self._file(parts[1])))
        if parts == ["batches"] and method == "GET":
            newest_first = reversed(list(self.batches.values()))
            # A listing polls what it shows: in auto mode each batch moves one step.
            return json_response([self._batch_json(self._sync(b, polled=True))
                                  for b in newest_first])
        return super()._route(request)

    # ---- the SDK's three-step upload -----------------------------------------------------------

    def _start_upload(self, request: Request) -> Response:
        try:
            form = {name: part.text() for name, part in request.form().items()}
        except (MultipartError, UnicodeDecodeError) as bad:
            raise ApiError(400, f"Invalid multipart body: {bad}") from None
        for name in ("purpose", "file_name", "file_type", "checksum"):
            if not form.get(name):
                raise ApiError(400, f"Missing required field: {name}", param=name)
        purpose = form["purpose"]
        if purpose not in self.file_purposes:
            raise ApiError(400, f"Invalid purpose {purpose!r}; expected one of "
                           + ", ".join(sorted(self.file_purposes)), param="purpose")
        for stored in self.files.values():
            if stored.purpose == purpose and hashlib.sha256(stored.data).hexdigest() == (
                    form["checksum"]):
                return json_response({"message": "File already exists", "file_id": stored.id},
                                     409)
        file_id = self._new_file_id()
        token = uuid.uuid4().hex
        self._pending[token] = (file_id, form["file_name"], purpose, form["checksum"])
        host = request.header("Host") or "127.0.0.1"
        return Response(302, b"", "text/plain", {
            "Location": f"http://{host}/{self.name}{UPLOAD_PREFIX}{token}",
            "X-Together-File-Id": file_id,
        })

    def _receive_upload(self, token: str, data: bytes) -> Response:
        pending = self._pending.pop(token, None)
        if pending is None:
            raise ApiError(403, "The upload URL is invalid or was already used.")
        file_id, filename, purpose, checksum = pending
        if hashlib.sha256(data).hexdigest() != checksum:
            raise ApiError(400, "The uploaded content does not match its checksum.")
        self.files[file_id] = StoredFile(file_id, filename, purpose, int(self.clock.now()), data)
        self.uploads += 1
        self.purposes[purpose] += 1
        return Response(200, b"", "text/plain")

    def _file(self, file_id: str) -> StoredFile:
        stored = self.files.get(file_id)
        if stored is None:
            raise ApiError(404, f"File {file_id} not found", body={
                "error": {"message": f"File {file_id} not found", "type": "not_found"}})
        return stored

    def _new_file_id(self) -> str:
        return f"file-{uuid.uuid4()}"

    def _new_batch_id(self) -> str:
        return str(uuid.uuid4())

    # ---- batches -----------------------------------------------------------------------------

    def _check_create(self, body: dict[str, Any]) -> None:
        """Check the body against the ``together`` SDK's ``BatchCreateParams`` TypedDict."""
        from together.types.batch_create_params import BatchCreateParams

        problem = params_problem(BatchCreateParams, body)
        if problem is not None:
            field = str(problem.loc[0])
            raise ApiError(400, PARAMS_REFUSALS[problem.kind].format(field, problem.message),
                           param=field)
        if body["endpoint"] not in self.input_rules.urls:
            raise ApiError(400, f"The batchkit emulator serves /v1/chat/completions batches "
                           f"only, not {body['endpoint']}.", param="endpoint")
        if body.get("completion_window", "24h") != "24h":
            raise ApiError(400, "completion_window is fixed at 24h", param="completion_window")

    def _parse_source(self, body: dict[str, Any]) -> ParsedInput:
        """A missing file is not refused at create: the job fails when it downloads the input."""
        source = self.files.get(body["input_file_id"])
        if source is None:
            return ParsedInput(error=ValidationError(
                "input_file", f"Failed to download input file: {body['input_file_id']}: "
                "404 Not Found"))
        return parse_input(source.data, body["endpoint"], self.limits, self.input_rules)

    def _created(self, batch: EmulatedBatch) -> Response:
        source = self.files.get(batch.input_file_id)
        if source is not None:
            self._creates_by_filename[source.filename] += 1
        return json_response({"job": self._batch_json(batch), "warning": None}, 201)

    def _respond(self, url: str, body: dict[str, Any], custom_id: str) -> dict[str, Any]:
        """Together checks a body when its line runs: a bad one is a failed row, not a batch."""
        from together.types.chat.completion_create_params import CompletionCreateParamsBase

        if not isinstance(body.get("model"), str):
            raise ReplyError(400, "missing 'model' field in body or not a string")
        problem = body_problem(url, body, frozenset(CompletionCreateParamsBase.__annotations__))
        if problem is not None:
            raise ReplyError(400, problem.message, param=problem.param)
        return super()._respond(url, body, custom_id)

    def _batch_json(self, batch: EmulatedBatch) -> dict[str, Any]:
        total = len(batch.parsed.lines)
        done = len(batch.outcomes)
        source = self.files.get(batch.input_file_id)
        job: dict[str, Any] = {
            "id": batch.id,
            "user_id": "emulator-user",
            "input_file_id": batch.input_file_id,
            "file_size_bytes": len(source.data) if source is not None else 0,
            "status": STATUS_NAMES[batch.status],
            "job_deadline": _iso(batch.expires_at),
            "created_at": _iso(batch.created_at),
            "endpoint": batch.endpoint,
            "progress": 100.0 if batch.status == "completed" else (
                round(100.0 * done / total, 2) if total else 0.0),
        }
        if batch.status != "validating" and batch.error is None:
            job["model_id"] = batch.parsed.model
        for attribute in ("output_file_id", "error_file_id"):
            if getattr(batch, attribute):
                job[attribute] = getattr(batch, attribute)
        if batch.status in TERMINAL:
            job["completed_at"] = _iso(batch.stamps.get(f"{batch.status}_at"))
        error = batch.error
        if batch.status == "failed" and error is not None:
            job["error"] = (f"input format error: Line {error.line}: {error.message}"
                            if error.line else error.message)
        return job

    def _present_row(self, batch: EmulatedBatch, row: dict[str, Any]) -> dict[str, Any] | None:
        response = row.get("response")
        if response is None:  # never ran (expired / cancelled): Together writes no row
            return None
        row_id = "br_" + row["id"].removeprefix("batch_req_")[:24]
        if response["status_code"] < 400:
            return {"id": row_id, "custom_id": row["custom_id"],
                    "response": {"status_code": response["status_code"],
                                 "body": response["body"]}}
        found = (response.get("body") or {}).get("error")
        message = found.get("message") if isinstance(found, dict) else None
        return {"id": row_id, "custom_id": row["custom_id"],
                "error": {"code": "batch_client_error",
                          "message": message or "Internal server error"}}

    def _no_such_batch(self, batch_id: str) -> ApiError:
        return ApiError(404, "Job not found",
                        body={"error": "Job not found", "request_id": uuid.uuid4().hex})

    def _cannot_cancel(self, batch: EmulatedBatch) -> ApiError:
        status = STATUS_NAMES[batch.status]
        message = (f"Cannot cancel job - already in terminal state: {status}"
                   if batch.status in TERMINAL else "Cannot cancel job - already cancelling")
        return ApiError(409, message, body={"error": message})


def _file_json(stored: StoredFile) -> dict[str, Any]:
    """A Together ``FileResponse`` (the SDK's type, with the live extras ``LineCount``...)."""
    return {
        "id": stored.id,
        "object": "file",
        "bytes": len(stored.data),
        "created_at": stored.created_at,
        "filename": stored.filename,
        "FileType": "jsonl",
        "purpose": stored.purpose,
        "processing_status": "COMPLETED",
        "LineCount": stored.data.count(b"\n"),
        "Processed": True,
    }


def create_app(clock: EmulatorClock) -> TogetherEmulator:
    """Factory named in the emulate() table."""
    return TogetherEmulator(clock)
