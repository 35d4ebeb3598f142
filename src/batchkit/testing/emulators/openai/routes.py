"""The OpenAI Batch API emulator: files and batches endpoints under ``/v1``.

Why: batchkit's OpenAI adapter drives the official ``openai`` SDK, so tests point that SDK at this
app (``base_url=f"{url}/openai/v1"``) and everything between the adapter and the wire is real. The
app answers as OpenAI does: bearer auth, 400 bodies ``{"error": {message, type, param, code}}`` for
a bad create, a ``failed`` batch with ``errors`` for a bad input file, the vendor's status
vocabulary on the shared clock, and result files in the vendor's line format. Tests arm faults and
read counters on the app object (``handle.apps["openai"]``).

The other OpenAI-shaped vendors (Azure, Groq, Together) are subclasses that override the hooks
marked below: where the API lives and how it authenticates, file purposes, create rules, input
rules, how a batch and a result row look, and how listing pages.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
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
from batchkit.testing.emulators.openai.realtime import REALTIME_URLS, RealtimeEndpoints
from batchkit.testing.emulators.openai.replies import Responder, default_responder
from batchkit.testing.emulators.openai.state import (
    TERMINAL,
    WINDOW_SECONDS,
    EmulatedBatch,
    Phases,
)
from batchkit.testing.emulators.openai.validation import (
    BODY_SCHEMAS,
    InputLimits,
    InputRules,
    ParsedInput,
    ValidationError,
    parse_input,
)

FILE_PURPOSES = frozenset({"assistants", "batch", "fine-tune", "vision", "user_data", "evals"})
METADATA_MAX_PAIRS, METADATA_MAX_KEY, METADATA_MAX_VALUE = 16, 64, 512
NO_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank "
    "username) if you're accessing the API from your browser and are prompted for a username and "
    "password. You can obtain an API key from https://platform.openai.com/account/api-keys."
)


class ApiError(VendorError):
    """An HTTP error answered with OpenAI's error body (or a vendor's own ``body``)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",
        body: dict[str, Any] | None = None,
    ) -> None:
        error = {"message": message, "type": type, "param": param, "code": code}
        super().__init__(status, body if body is not None else {"error": error}, message)


@dataclass
class StoredFile:
    id: str
    filename: str
    purpose: str
    created_at: int
    data: bytes

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }


class OpenAIEmulator(FileBatchApp):
    """The OpenAI app mounted at ``/openai``.

    Knobs a test may set: ``limits`` (request count, bytes, embedding inputs), ``phases`` (how
    long each status lasts), ``responder`` (the reply for a line), ``api_keys`` (None accepts any
    bearer token; a set accepts only those), ``item_faults`` and ``endpoint_faults``.
    """

    name = "openai"
    file_purposes: frozenset[str] = FILE_PURPOSES
    batch_purpose = "batch"
    input_rules = InputRules()
    empty_error_file = False
    """Azure writes an error file even when no request failed; OpenAI leaves the id null."""

    def __init__(self, clock: EmulatorClock, *, responder: Responder | None = None) -> None:
        super().__init__(clock)
        self.responder: Responder = responder or default_responder
        self.realtime = RealtimeEndpoints(self._respond)
        """The synchronous endpoints (chat, embeddings, responses) that real-time mode calls."""
        self.limits = InputLimits()
        self.phases = Phases()
        self.files: dict[str, StoredFile] = {}
        self.batches: dict[str, EmulatedBatch] = {}
        self.uploads = 0
        self.creates = 0
        self.peak_active = 0
        """The most batches out at once (created, not yet seen ended), e.g. to check that a
        client's cap on its batches in flight held."""
        self._active: set[str] = set()
        self._fail_next_validation: list[ValidationError] = []

    # ---- fault and counter API for tests -------------------------------------------------

    def fail_next_validation(
        self, code: str = "invalid_request", message: str = "The batch input file is invalid."
    ) -> None:
        """The next created batch ends ``failed`` with this error, whatever its input."""
        self._fail_next_validation.append(ValidationError(code, message))

    def batches_created_with(self, metadata_key: str, value: str) -> int:
        """How many creates carried ``metadata[metadata_key] == value`` (idempotency checks)."""
        return self._creates_by_metadata[(metadata_key, value)]

    def fault_response(self, status: int, retry_after: float | None) -> Response:
        headers = retry_headers(retry_after)
        if status == 429:
            error = {"message": "Rate limit reached for requests. Please try again later.",
                     "type": "requests", "param": None, "code": "rate_limit_exceeded"}
        else:
            error = {"message": "The server had an error while processing your request.",
                     "type": "server_error", "param": None, "code": None}
        return json_response({"error": error}, status, headers)

    # ---- HTTP --------------------------------------------------------------------------------

    def _authenticate(self, request: Request) -> None:
        token = bearer_token(request)
        if not token:
            raise ApiError(401, NO_KEY_MESSAGE)
        if self._refuses(token):
            shown = token[:3] + "*" * 6 + token[-4:]
            raise ApiError(401, f"Incorrect API key provided: {shown}. You can find your API key "
                           "at https://platform.openai.com/account/api-keys.",
                           code="invalid_api_key")

    def handle(self, request: Request) -> Response:
        """Real-time calls are answered outside the app's lock: each takes its latency in its
        own server thread, as calls to the vendor overlap."""
        url = self._realtime_url(request)
        if url is None:
            return super().handle(request)
        try:
            self._authenticate(request)
        except VendorError as failure:
            return json_response(failure.body, failure.status)
        return self.realtime.handle(request, url)

    def _realtime_url(self, request: Request) -> str | None:
        if request.method != "POST":
            return None
        try:
            parts = self._api_parts(request)
        except VendorError:
            return None
        if parts[:1] == ["deployments"] and len(parts) > 2:  # a deployment-scoped path (Azure)
            parts = parts[2:]
        url = "/v1/" + "/".join(parts)
        return url if url in REALTIME_URLS else None

    def _api_parts(self, request: Request) -> list[str]:
        """Hook: the path below the API root (``/v1``), or a 404 for anything else."""
        parts = request.path.strip("/").split("/")
        if parts[0] != "v1":
            raise ApiError(404, f"Invalid URL ({request.method} {request.path})")
        return parts[1:]

    def _route(self, request: Request) -> Response:
        parts = self._api_parts(request)
        method = request.method
        if parts[0] == "files":
            if len(parts) == 1 and method == "POST":
                return self._upload(request)
            if len(parts) == 2 and method == "GET":
                return json_response(self._file(parts[1]).as_json())
            if len(parts) == 3 and parts[2] == "content" and method == "GET":
                return bytes_response(self._file(parts[1]).data)
        if parts[0] == "batches":
            if len(parts) == 1 and method == "POST":
                return self._create(request)
            if len(parts) == 1 and method == "GET":
                return self._list(request)
            if len(parts) == 2 and method == "GET":
                return json_response(self._batch_json(self._retrieve(parts[1])))
            if len(parts) == 3 and parts[2] == "cancel" and method == "POST":
                return self._cancel(parts[1])
        raise ApiError(404, f"Invalid URL ({method} {request.path})")

    # ---- vendor hooks ------------------------------------------------------------------------

    def _new_file_id(self) -> str:
        return "file-" + secrets.token_hex(11)

    def _new_batch_id(self) -> str:
        return "batch_" + secrets.token_hex(16)

    def _batch_json(self, batch: EmulatedBatch) -> dict[str, Any]:
        return batch.as_json()

    def _created(self, batch: EmulatedBatch) -> Response:
        return json_response(self._batch_json(batch))

    def _present_row(self, batch: EmulatedBatch, row: dict[str, Any]) -> dict[str, Any] | None:
        """A result row as this vendor writes it (None: the vendor writes no row)."""
        return row

    def _window_seconds(self, body: dict[str, Any]) -> int:
        return WINDOW_SECONDS

    def _create_error(self, body: dict[str, Any]) -> ValidationError | None:
        """A create the vendor accepts but then fails at validation (None: no such rule)."""
        return None

    def _respond(self, url: str, body: dict[str, Any], custom_id: str) -> dict[str, Any]:
        """Run one line: the test's responder, after any checks the vendor makes at run time."""
        return self.responder(url, body, custom_id)

    def _no_such_batch(self, batch_id: str) -> ApiError:
        return ApiError(404, f"No batch found with id '{batch_id}'.", param="batch_id")

    # ---- files -------------------------------------------------------------------------------

    def _upload(self, request: Request) -> Response:
        try:
            form = request.form()
        except MultipartError as bad:
            raise ApiError(400, f"Invalid multipart body: {bad}") from None
        if "file" not in form:
            raise ApiError(400, "Missing required parameter: 'file'.", param="file",
                           code="missing_required_parameter")
        if "purpose" not in form:
            raise ApiError(400, "Missing required parameter: 'purpose'.", param="purpose",
                           code="missing_required_parameter")
        purpose = form["purpose"].text()
        if purpose not in self.file_purposes:
            raise ApiError(400, f"Invalid value for purpose: {purpose!r}. Supported values are: "
                           + ", ".join(sorted(self.file_purposes)) + ".", param="purpose",
                           code="invalid_value")
        upload = form["file"]
        filename = upload.filename or "upload"
        if purpose == self.batch_purpose and not filename.endswith(".jsonl"):
            raise ApiError(400, "Invalid file format for Batch API. Must be .jsonl",
                           param="file")
        stored = self._store_file(filename, purpose, upload.data)
        self.uploads += 1
        return json_response(stored.as_json())

    def _store_file(self, filename: str, purpose: str, data: bytes) -> StoredFile:
        stored = StoredFile(self._new_file_id(), filename, purpose, int(self.clock.now()), data)
        self.files[stored.id] = stored
        return stored

    def _file(self, file_id: str) -> StoredFile:
        stored = self.files.get(file_id)
        if stored is None:
            raise ApiError(404, f"No such File object: {file_id}", param="id")
        return stored

    # ---- batches -----------------------------------------------------------------------------

    def _create(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            raise ApiError(400, "We could not parse the JSON body of your request.") from None
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        self._check_create(body)
        parsed = self._parse_source(body)
        metadata = body.get("metadata")
        batch = EmulatedBatch(
            id=self._new_batch_id(),
            endpoint=body["endpoint"],
            input_file_id=body["input_file_id"],
            completion_window=body.get("completion_window", "24h"),
            created_at=int(self.clock.now()),
            metadata=metadata,
            parsed=parsed,
            faults={line.custom_id: self.item_faults.fault_for(line.custom_id)
                    for line in parsed.lines},
            phases=Phases(**vars(self.phases)),
            forced_error=self._create_error(body) or (
                self._fail_next_validation.pop(0) if self._fail_next_validation else None),
            window_seconds=self._window_seconds(body),
        )
        self.batches[batch.id] = batch
        self.creates += 1
        self._active.add(batch.id)
        self.peak_active = max(self.peak_active, len(self._active))
        self._count_create(metadata)
        return self._created(batch)

    def _parse_source(self, body: dict[str, Any]) -> ParsedInput:
        """Hook: the validated input file of a create (OpenAI checks the file exists at once)."""
        source = self.files.get(body["input_file_id"])
        if source is None:
            raise ApiError(400, f"Could not find file with ID {body['input_file_id']}.",
                           param="input_file_id", code="invalid_value")
        if source.purpose != self.batch_purpose:
            raise ApiError(400, f"File {source.id} has purpose {source.purpose!r}; a batch input "
                           f"file must be uploaded with purpose {self.batch_purpose!r}.",
                           param="input_file_id", code="invalid_value")
        return parse_input(source.data, body["endpoint"], self.limits, self.input_rules)

    def _check_create(self, body: dict[str, Any]) -> None:
        """Answer a bad create with the 400 OpenAI gives, most specific check first."""
        for name in ("input_file_id", "endpoint", "completion_window"):
            if name not in body:
                raise ApiError(400, f"Missing required parameter: '{name}'.", param=name,
                               code="missing_required_parameter")
        if body["completion_window"] != "24h":
            raise ApiError(400, f"Invalid value: '{body['completion_window']}'. Supported values "
                           "are: '24h'.", param="completion_window", code="invalid_value")
        metadata = body.get("metadata")
        if isinstance(metadata, dict):
            _check_metadata(metadata)
        problems = _spec.validate("openai", "CreateBatchRequest", body)
        if problems:
            path, _, message = problems[0].partition(": ")
            param = path[2:] or None
            raise ApiError(400, f"Invalid value for '{param}': {message}", param=param,
                           code="invalid_value")
        if body["endpoint"] not in BODY_SCHEMAS:
            raise ApiError(400, f"The batchkit emulator does not serve {body['endpoint']}; it "
                           "serves " + ", ".join(sorted(BODY_SCHEMAS)) + ".", param="endpoint",
                           code="invalid_value")

    def _sync(self, batch: EmulatedBatch, *, polled: bool) -> EmulatedBatch:
        """Bring ``batch`` up to the clock (in auto mode a poll first jumps to its next step)."""
        if polled:
            self.clock.reach(batch.next_due())
        batch.advance(self.clock.now(), self._respond)
        if batch.status in TERMINAL and not batch.results_written:
            self._write_results(batch)
            self._active.discard(batch.id)
        return batch

    def _write_results(self, batch: EmulatedBatch) -> None:
        output, errors = batch.result_rows()
        for found, attribute in ((output, "output_file_id"), (errors, "error_file_id")):
            rows = [r for r in (self._present_row(batch, row) for row in found) if r is not None]
            empty_wanted = (self.empty_error_file and attribute == "error_file_id"
                            and batch.status == "completed")
            if rows or empty_wanted:
                stored = self._store_file(f"{batch.id}_{attribute[:-8]}.jsonl", "batch_output",
                                          jsonl(rows))
                setattr(batch, attribute, stored.id)
        batch.results_written = True

    def _retrieve(self, batch_id: str) -> EmulatedBatch:
        batch = self.batches.get(batch_id)
        if batch is None:
            raise self._no_such_batch(batch_id)
        return self._sync(batch, polled=True)

    def _list(self, request: Request) -> Response:
        raw_limit = request.query_value("limit") or "20"
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
            raise ApiError(400, f"Invalid 'limit': integer between 1 and 100 expected, got "
                           f"{raw_limit!r}.", param="limit", code="invalid_value")
        newest_first = list(reversed(self.batches.values()))  # dicts keep creation order
        after = request.query_value("after")
        if after is not None:
            ids = [b.id for b in newest_first]
            if after not in ids:
                raise ApiError(400, f"No batch found with id '{after}'.", param="after")
            newest_first = newest_first[ids.index(after) + 1:]
        # A listing is a poll of every batch it shows: in auto mode each moves one step.
        page = [self._sync(b, polled=True) for b in newest_first[: int(raw_limit)]]
        return json_response({
            "object": "list",
            "data": [self._batch_json(b) for b in page],
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
            "has_more": len(newest_first) > len(page),
        })

    def _cancel(self, batch_id: str) -> Response:
        batch = self.batches.get(batch_id)
        if batch is None:
            raise self._no_such_batch(batch_id)
        self._sync(batch, polled=False)
        if batch.status in TERMINAL or batch.status == "cancelling":
            raise self._cannot_cancel(batch)
        batch.cancel(self.clock.now(), self._respond)
        return json_response(self._batch_json(batch))

    def _cannot_cancel(self, batch: EmulatedBatch) -> ApiError:
        return ApiError(400, f"Cannot cancel a batch with status '{batch.status}'.",
                        code="invalid_state" if batch.status != "cancelling" else None)


def _check_metadata(metadata: dict[str, Any]) -> None:
    if len(metadata) > METADATA_MAX_PAIRS:
        raise ApiError(400, f"Invalid 'metadata': too many properties. Expected an object with at "
                       f"most {METADATA_MAX_PAIRS} properties, but got an object with "
                       f"{len(metadata)} properties instead.", param="metadata",
                       code="object_above_max_properties")
    for key, value in metadata.items():
        if len(key) > METADATA_MAX_KEY:
            raise ApiError(400, f"Invalid 'metadata': key {key[:20]!r}... is too long. Expected a "
                           f"key with maximum length {METADATA_MAX_KEY}, but got a key with "
                           f"length {len(key)} instead.", param="metadata",
                           code="string_above_max_length")
        if isinstance(value, str) and len(value) > METADATA_MAX_VALUE:
            raise ApiError(400, f"Invalid 'metadata.{key}': string too long. Expected a string "
                           f"with maximum length {METADATA_MAX_VALUE}, but got a string with "
                           f"length {len(value)} instead.", param=f"metadata.{key}",
                           code="string_above_max_length")


def create_app(clock: EmulatorClock) -> OpenAIEmulator:
    """Factory named in the emulate() table."""
    return OpenAIEmulator(clock)
