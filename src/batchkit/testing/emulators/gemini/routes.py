"""The Gemini Developer API batch emulator, mounted at ``/gemini``.

Why: batchkit's ``gemini`` adapter drives the official ``google-genai`` SDK, so tests point that
SDK at this app (``http_options.base_url=f"{url}/gemini"``) and everything between the adapter and
the wire is real. The app speaks the endpoints the SDK calls:

* ``POST v1beta/models/{model}:batchGenerateContent`` and ``:asyncBatchEmbedContent`` (inline
  ``inputConfig.requests.requests[]`` or ``inputConfig.fileName``; google-genai 2.34 spells the
  embedding file source ``file_name``, which proto JSON also accepts);
* ``POST v1beta/models/{model}:countTokens`` (``contents`` or ``generateContentRequest``);
* ``GET v1beta/batches`` (``pageSize``/``pageToken``, newest first), ``GET|DELETE
  v1beta/batches/{id}``, ``POST v1beta/batches/{id}:cancel``;
* the Files API's resumable upload (``POST upload/v1beta/files`` with ``X-Goog-Upload-Protocol:
  resumable``, then ``upload``/``upload, finalize`` chunks at ``x-goog-upload-url``),
  ``GET v1beta/files/{id}`` and ``GET v1beta/files/{id}:download?alt=media``.

Requests are checked with google-genai's own types (see :mod:`.replies`); errors use
Google's body ``{"error": {"code", "message", "status"}}``. Tests arm faults with :meth:`arm`
(expiry with partial results, a failed batch, inline count mismatches and keyless inline
responses) and :meth:`fault` (one row's error), and read counters such as
:meth:`batches_with_display_name`.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from typing import Any

from batchkit.testing._clock import EmulatorClock
from batchkit.testing._server import (
    Request,
    Response,
    json_response,
)
from batchkit.testing._text import estimate_tokens
from batchkit.testing.emulators._app import VendorApp, VendorError, retry_headers
from batchkit.testing.emulators.gemini.realtime import REALTIME_VERBS, SyncEndpoints
from batchkit.testing.emulators.gemini.replies import (
    Responder,
    embed_problem,
    embed_reply,
    generate_problem,
    generate_reply,
    prompt_text,
    row_error,
)
from batchkit.testing.emulators.gemini.state import (
    BatchFaults,
    EmulatedBatch,
    Kind,
    Phases,
    Row,
    StoredFile,
    UploadSession,
)

MAX_INLINE_BYTES = 20 * 1024 * 1024
_COUNT_FIELDS = {"contents", "generateContentRequest", "generate_content_request"}
MAX_FILE_BYTES = 2 * 1024 * 1024 * 1024
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
           404: "NOT_FOUND", 409: "ALREADY_EXISTS", 413: "INVALID_ARGUMENT",
           429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
_RPC_NAMES = {"CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4,
              "NOT_FOUND": 5, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8, "INTERNAL": 13,
              "UNAVAILABLE": 14}


class ApiError(VendorError):
    """An HTTP error answered with Google's error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, {"error": {"code": status, "message": message,
                                            "status": _STATUS.get(status, "UNKNOWN")}}, message)


class GeminiEmulator(VendorApp):
    """The Gemini app. Knobs: ``phases``, ``responder``, ``api_keys`` (None accepts any key)."""

    name = "gemini"

    def __init__(self, clock: EmulatorClock, *, responder: Responder | None = None) -> None:
        super().__init__(clock)
        self.responder: Responder = responder or generate_reply
        self.realtime = SyncEndpoints(
            lambda model, request, key: self.responder(model, request, key))
        """``:generateContent`` and ``:batchEmbedContents``, which real-time mode calls."""
        self.phases = Phases()
        self.batches: dict[str, EmulatedBatch] = {}
        self.files: dict[str, StoredFile] = {}
        self.creates = 0
        self.inline_creates = 0
        self.row_faults: dict[str, dict[str, Any]] = {}
        self._armed: list[BatchFaults] = []
        self._display_names: Counter[str] = Counter()
        self._uploads: dict[str, UploadSession] = {}
        self.counted: list[int] = []
        """Every figure ``countTokens`` answered, in order, so tests can follow them."""

    # ---- fault and counter API for tests -----------------------------------------------------

    def fault(self, key: str, status: str = "INTERNAL",
              message: str = "An internal error has occurred.") -> None:
        """Make the row with ``key`` end with this ``google.rpc.Status`` in later batches."""
        self.row_faults[key] = row_error(_RPC_NAMES[status], message)

    def arm(self, **faults: Any) -> None:
        """Arm :class:`BatchFaults` for the next batch created (one call per batch)."""
        self._armed.append(BatchFaults(**faults))

    def batches_with_display_name(self, display_name: str) -> int:
        """How many batches were ever created with ``display_name``."""
        return self._display_names[display_name]

    def fault_response(self, status: int, retry_after: float | None) -> Response:
        message = ("The service is currently unavailable." if status >= 500 else
                   "Resource has been exhausted (e.g. check quota)." if status == 429 else
                   "Request contains an invalid argument.")
        response = ApiError(status, message).response()
        response.headers.update(retry_headers(retry_after))
        return response

    # ---- HTTP --------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Real-time calls are answered outside the app's lock: each takes its latency in its
        own server thread, as calls to the vendor overlap."""
        parts = request.path.strip("/").split("/")
        model, _, verb = parts[-1].partition(":")
        if request.method != "POST" or parts[:2] != ["v1beta", "models"] or len(parts) != 3 \
                or verb not in REALTIME_VERBS:
            return super().handle(request)
        try:
            self._authenticate(request)
        except VendorError as failure:
            return failure.response()
        return self.realtime.handle(request, model, verb)

    def _authenticate(self, request: Request) -> None:
        """The API key from ``x-goog-api-key`` (or ``?key=``). An upload session's own URL
        needs none: its ``upload_id`` is the credential, and the SDK sends no key there."""
        if request.query_value("upload_id") in self._uploads:
            return
        key = (request.header("x-goog-api-key") or request.query_value("key") or "").strip()
        if not key:
            raise ApiError(403, "Method doesn't allow unregistered callers (callers without "
                           "established identity). Please use API Key or other form of API "
                           "consumer identity to call this API.")
        if self._refuses(key):
            raise ApiError(400, "API key not valid. Please pass a valid API key.")

    def _route(self, request: Request) -> Response:
        path, method = request.path.strip("/"), request.method
        if path.startswith("download/"):
            path = path.removeprefix("download/")
        if path == "upload/v1beta/files" and method == "POST":
            if request.query_value("upload_id"):
                return self._upload_chunk(request)
            return self._upload_start(request)
        parts = path.split("/")
        if parts[0] != "v1beta" or len(parts) < 2:
            raise ApiError(404, f"Not found: {method} /{path}")
        if parts[1] == "models" and len(parts) == 3 and method == "POST":
            model, _, verb = parts[2].partition(":")
            if verb == "batchGenerateContent":
                return self._create(request, f"models/{model}", "generate")
            if verb == "asyncBatchEmbedContent":
                return self._create(request, f"models/{model}", "embed")
            if verb == "countTokens":
                return self._count_tokens(request)
        if parts[1] == "batches":
            if len(parts) == 2 and method == "GET":
                return self._list(request)
            if len(parts) == 3:
                batch_id, _, verb = parts[2].partition(":")
                if verb == "cancel" and method == "POST":
                    return self._cancel(batch_id)
                if not verb and method == "GET":
                    return json_response(self._sync(self._batch(batch_id), polled=True)
                                         .as_operation())
                if not verb and method == "DELETE":
                    return self._delete(batch_id)
        if parts[1] == "files" and len(parts) == 3 and method == "GET":
            file_id, _, verb = parts[2].partition(":")
            stored = self._file(file_id)
            if verb == "download" and request.query_value("alt") == "media":
                return Response(200, stored.data, "application/octet-stream")
            if not verb:
                return json_response(stored.as_json(self._host(request)))
        raise ApiError(404, f"Not found: {method} /{path}")

    @staticmethod
    def _host(request: Request) -> str:
        return request.header("Host") or "127.0.0.1"

    # ---- files -------------------------------------------------------------------------------

    def _upload_start(self, request: Request) -> Response:
        if (request.header("X-Goog-Upload-Protocol") or "") != "resumable" or \
                (request.header("X-Goog-Upload-Command") or "") != "start":
            raise ApiError(400, "Only the resumable upload protocol is emulated.")
        try:
            body = request.json() or {}
            declared = body.get("file") or {}
            size = int(request.header("X-Goog-Upload-Header-Content-Length") or -1)
        except (ValueError, AttributeError):
            raise ApiError(400, "Invalid JSON payload received.") from None
        if size < 0:
            raise ApiError(400, "X-Goog-Upload-Header-Content-Length is required.")
        if size > MAX_FILE_BYTES:
            raise ApiError(400, f"File size {size} exceeds the maximum of {MAX_FILE_BYTES}.")
        mime = declared.get("mimeType") or request.header("X-Goog-Upload-Header-Content-Type")
        upload_id = secrets.token_hex(12)
        self._uploads[upload_id] = UploadSession(str(declared.get("displayName") or ""),
                                                 str(mime or "application/octet-stream"), size)
        url = (f"http://{self._host(request)}/{self.name}/upload/v1beta/files"
               f"?upload_id={upload_id}&upload_protocol=resumable")
        return Response(200, b"", "text/plain", {"x-goog-upload-url": url,
                                                 "x-goog-upload-status": "active"})

    def _upload_chunk(self, request: Request) -> Response:
        """One chunk of a resumable upload. Errors carry ``x-goog-upload-status: final`` as
        Google's upload server sends it: without that header google-genai re-sends the chunk
        (three times, sleeping between), taking the answer for a transport hiccup."""
        try:
            return self._take_chunk(request)
        except ApiError as failure:
            response = failure.response()
            response.headers["x-goog-upload-status"] = "final"
            return response

    def _take_chunk(self, request: Request) -> Response:
        session = self._uploads.get(request.query_value("upload_id") or "")
        if session is None:
            raise ApiError(404, "No such upload session.")
        command = request.header("X-Goog-Upload-Command") or ""
        offset = int(request.header("X-Goog-Upload-Offset") or -1)
        if offset != len(session.data):
            raise ApiError(400, f"Upload offset {offset} does not match {len(session.data)}.")
        session.data.extend(request.body)
        if "finalize" not in command:
            return Response(200, b"", "text/plain", {"x-goog-upload-status": "active"})
        if len(session.data) != session.size:
            raise ApiError(400, f"Uploaded {len(session.data)} bytes, declared {session.size}.")
        del self._uploads[request.query_value("upload_id") or ""]
        stored = self._store_file(session.display_name, session.mime_type,
                                  bytes(session.data), "UPLOADED")
        response = json_response({"file": stored.as_json(self._host(request))})
        response.headers["x-goog-upload-status"] = "final"
        return response

    def _store_file(self, display_name: str, mime: str, data: bytes, source: str) -> StoredFile:
        stored = StoredFile(secrets.token_hex(8), display_name, mime, data, self.clock.now(),
                            source)
        self.files[stored.id] = stored
        return stored

    def _file(self, file_id: str) -> StoredFile:
        stored = self.files.get(file_id)
        if stored is None:
            raise ApiError(403, f"You do not have permission to access the File {file_id} or "
                           "it may not exist.")
        return stored

    # ---- token counting ----------------------------------------------------------------------

    def _count_tokens(self, request: Request) -> Response:
        """``models.countTokens``: ``contents``, or a whole ``generateContentRequest`` (whose
        contents then win), checked like a batch row but answered at once: HTTP 400 for a bad
        body, else ``{"totalTokens"}`` from :func:`count_tokens`."""
        try:
            body = request.json()
        except ValueError:
            raise ApiError(400, "Invalid JSON payload received.") from None
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid JSON payload received. Expected an object.")
        for name in body:
            if name not in _COUNT_FIELDS:
                raise ApiError(400, f'Invalid JSON payload received. Unknown name "{name}": '
                               "Cannot find field.")
        whole = body.get("generateContentRequest", body.get("generate_content_request"))
        checked, problem = generate_problem(whole if whole is not None else
                                            {"contents": body.get("contents")})
        if problem is not None:
            raise ApiError(400, problem)
        tokens = count_tokens(checked)
        self.counted.append(tokens)
        return json_response({"totalTokens": tokens})

    # ---- batches -----------------------------------------------------------------------------

    def _create(self, request: Request, model: str, kind: Kind) -> Response:
        if len(request.body) > MAX_INLINE_BYTES:
            raise ApiError(400, f"Request payload size exceeds the limit: {MAX_INLINE_BYTES} "
                           "bytes.")
        try:
            body = request.json()
        except ValueError:
            raise ApiError(400, "Invalid JSON payload received.") from None
        batch = body.get("batch") if isinstance(body, dict) else None
        if not isinstance(batch, dict):
            raise ApiError(400, "* BatchGenerateContentRequest.batch: batch is required")
        display_name = batch.get("displayName") or batch.get("display_name")
        if not isinstance(display_name, str) or not display_name:
            raise ApiError(400, "* batch.display_name: display_name is required")
        source = batch.get("inputConfig") or batch.get("input_config") or {}
        file_name = source.get("fileName") or source.get("file_name")
        inline = (source.get("requests") or {}).get("requests")
        if (file_name is None) == (inline is None):
            raise ApiError(400, "* batch.input_config: exactly one of file_name and requests "
                           "must be set")
        if file_name is not None:
            rows = self._file_rows(str(file_name), kind, model)
        else:
            if not isinstance(inline, list) or not inline:
                raise ApiError(400, "* batch.input_config.requests: requests must not be empty")
            rows = [self._row(item, kind, model, inline=True) for item in inline]
            self.inline_creates += 1
        batch_id = secrets.token_hex(10)
        now = self.clock.now()
        emulated = EmulatedBatch(
            id=batch_id, kind=kind, model=model, display_name=display_name, created_at=now,
            rows=rows, phases=Phases(**vars(self.phases)),
            faults=self._armed.pop(0) if self._armed else BatchFaults(),
            row_faults=self.retryable_items.overlay(self.row_faults, _retryable_row),
            input_file=file_name, updated_at=now,
        )
        self.batches[batch_id] = emulated
        self.creates += 1
        self._display_names[display_name] += 1
        return json_response(emulated.as_operation())

    def _file_rows(self, file_name: str, kind: Kind, model: str) -> list[Row]:
        stored = self._file(file_name.removeprefix("files/"))
        rows = []
        for number, raw in enumerate(stored.data.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                item = json.loads(raw)
            except ValueError:
                raise ApiError(400, f"Invalid JSON in the input file at line {number}.") from None
            if not isinstance(item, dict) or "request" not in item:
                raise ApiError(400, f"Line {number} of the input file has no 'request'.")
            rows.append(self._row(item, kind, model, inline=False))
        if not rows:
            raise ApiError(400, "The input file contains no requests.")
        return rows

    def _row(self, item: Any, kind: Kind, model: str, *, inline: bool) -> Row:
        if not isinstance(item, dict):
            return Row(None, {}, "Invalid JSON payload received. Expected an object.")
        metadata = item.get("metadata") if inline else None
        key = (metadata or {}).get("key") if inline else item.get("key")
        if kind == "generate":
            request, problem = generate_problem(item.get("request"), model)
        else:
            request, problem = embed_problem(item.get("request"))
        return Row(str(key) if key is not None else None, request, problem,
                   metadata if isinstance(metadata, dict) else None)

    def _run(self, batch: EmulatedBatch, row: Row) -> dict[str, Any]:
        if batch.kind == "embed":
            return embed_reply(batch.model, row.request)
        reply: dict[str, Any] = json.loads(json.dumps(
            self.responder(batch.model, row.request, row.key or "")))
        return reply

    def _sync(self, batch: EmulatedBatch, *, polled: bool) -> EmulatedBatch:
        """Bring ``batch`` up to the clock (in auto mode a poll first jumps to its next step);
        a batch that just ended writes its responses file if its input was a file."""
        if polled:
            self.clock.reach(batch.next_due())
        if batch.advance(self.clock.now(), lambda row: self._run(batch, row)):
            self._write_output(batch)
        return batch

    def _write_output(self, batch: EmulatedBatch) -> None:
        if batch.input_file is None or batch.state == "BATCH_STATE_FAILED":
            return
        data = "".join(json.dumps(line) + "\n" for line in batch.output_lines()).encode()
        stored = self._store_file(f"batch-{batch.id}", "application/jsonl", data, "GENERATED")
        batch.output_file = f"files/{stored.id}"

    def _batch(self, batch_id: str) -> EmulatedBatch:
        batch = self.batches.get(batch_id)
        if batch is None:
            raise ApiError(404, f"Batch batches/{batch_id} not found.")
        return batch

    def _list(self, request: Request) -> Response:
        raw_size = request.query_value("pageSize") or "50"
        if not raw_size.isdigit() or not 0 < int(raw_size) <= 1000:
            raise ApiError(400, f"Invalid page_size: {raw_size}")
        size = int(raw_size)
        token = request.query_value("pageToken")
        newest_first = list(reversed(self.batches.values()))
        start = int(token) if token and token.isdigit() else 0
        page = newest_first[start:start + size]
        # A listing polls what it shows: in auto mode each batch moves one step.
        body: dict[str, Any] = {"operations": [self._sync(b, polled=True).as_operation()
                                               for b in page]}
        if start + size < len(newest_first):
            body["nextPageToken"] = str(start + size)
        return json_response(body)

    def _cancel(self, batch_id: str) -> Response:
        batch = self._sync(self._batch(batch_id), polled=False)
        if batch.cancel(self.clock.now(), lambda row: self._run(batch, row)):
            self._write_output(batch)
        return json_response({})

    def _delete(self, batch_id: str) -> Response:
        self._batch(batch_id)
        del self.batches[batch_id]
        return json_response({})


def count_tokens(request: dict[str, Any]) -> int:
    """The emulator's deterministic stand-in for Gemini's tokenizer: about four characters per
    token of the system instruction and contents (Google's rule of thumb), plus the tools."""
    tools = request.get("tools")
    return estimate_tokens(prompt_text(request)) + (estimate_tokens(json.dumps(tools))
                                                    if tools else 0)


def create_app(clock: EmulatorClock) -> GeminiEmulator:
    """Factory named in the emulate() table."""
    return GeminiEmulator(clock)


def _retryable_row(status: int) -> dict[str, Any]:
    """A retryable row fault as a Gemini result line carries it (a ``google.rpc.Status``)."""
    name = {429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}.get(status, "INTERNAL")
    return row_error(_RPC_NAMES[name], "Please retry; the request could not be served now.")
