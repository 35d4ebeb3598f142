"""The Cohere emulator (Datasets, Embed Jobs, Batches), mounted at ``/cohere``.

Why: batchkit's Cohere adapter drives the official ``cohere`` SDK, so tests point that SDK at
this app (``base_url=f"{url}/cohere"``) and everything between the adapter and the wire is real.
The app answers as Cohere does: bearer auth, ``{"message"}`` error bodies, dataset uploads as
multipart ``data`` with the options in the query string (checked against the spec's
``/v1/datasets`` parameters), asynchronous validation, embed jobs and batches whose create bodies
are checked against the spec's ``CreateEmbedJobRequest`` and ``Batch``, output datasets whose
parts download as Avro from signed-looking storage URLs (no API key, as with Cohere's storage),
and ``/v1/tokenize`` (body checked against the spec's ``TokenizeRequest``); real time's
``/v2/embed`` and ``/v2/chat`` are in :mod:`.realtime`.
Tests arm faults and read counters on the app object (``handle.apps["cohere"]``).
"""

from __future__ import annotations

import re
import secrets
import uuid
import zlib
from collections import Counter
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
from batchkit.testing.emulators._app import VendorApp, VendorError, bearer_token, retry_headers
from batchkit.testing.emulators.cohere import realtime
from batchkit.testing.emulators.cohere.datasets import (
    CHAT_INPUT,
    CHAT_RESULT_SCHEMA,
    EMBED_INPUT,
    EMBEDDING_TYPES,
    INPUT_TYPES,
    DatasetInvalid,
    EmulatedDataset,
    ValidationPhases,
    embed_result_schema,
    fields_schema,
    input_schema,
    parse_upload,
    stored_row,
    typed_query,
    validate_chat_input,
    validate_embed_input,
)
from batchkit.testing.emulators.cohere.replies import (
    EMBED_DIMENSIONS,
    ChatResponder,
    default_chat_responder,
    retryable_record,
)
from batchkit.testing.emulators.cohere.state import ChatBatch, EmbedJob, JobPhases

MAX_NAME = 50
"""Dataset names must be shorter than this (Cohere's datasets guide)."""
STORAGE = "_storage"


class ApiError(VendorError):
    """An HTTP error answered with Cohere's ``{"message"}`` body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, {"message": message}, message)


class CohereEmulator(VendorApp):
    """The Cohere app. Knobs: ``validation_phases``, ``job_phases``, ``rows_per_part``,
    ``chat_responder``, ``api_keys`` (None accepts any key); faults and counters below."""

    name = "cohere"

    def __init__(self, clock: EmulatorClock) -> None:
        super().__init__(clock)
        self.validation_phases = ValidationPhases()
        self.job_phases = JobPhases()
        self.rows_per_part = 1000
        self.chat_responder: ChatResponder = default_chat_responder
        self.datasets: dict[str, EmulatedDataset] = {}
        self.embed_jobs: dict[str, EmbedJob] = {}
        self.batches: dict[str, ChatBatch] = {}
        self.record_faults: dict[str, str] = {}
        self._validation_faults: list[str] = []
        self._job_faults: list[str] = []
        self._creates: Counter[str] = Counter()
        self.tokenized: list[int] = []
        """Token counts ``/v1/tokenize`` answered, in order, so tests can follow them."""
        self.realtime = realtime.SyncEndpoints(lambda: self.chat_responder)

    # ---- fault and counter API for tests -------------------------------------------------

    def fail_validation(self, message: str) -> None:
        """The next uploaded dataset fails validation with ``validation_error`` = ``message``."""
        self._validation_faults.append(message)

    def fail_job(self, reason: str) -> None:
        """The next embed job or batch created ends ``failed`` (a batch with ``status_reason``)."""
        self._job_faults.append(reason)

    def fault(self, custom_id: str, message: str) -> None:
        """The batch record ``custom_id`` fails with ``error`` = ``message`` in later batches."""
        self.record_faults[custom_id] = message

    def jobs_created_with(self, name: str) -> int:
        """How many embed jobs and batches were created under ``name`` (batchkit's shard key)."""
        return self._creates[name]

    def uploads_named(self, name: str) -> int:
        return sum(1 for d in self.datasets.values() if d.name == name)

    def fault_response(self, status: int, retry_after: float | None) -> Response:
        headers = retry_headers(retry_after, "retry-after")
        message = {400: "invalid request",
                   429: "You are using a Trial key, which is limited to 40 API calls / minute."
                   }.get(status, "internal server error")
        return json_response({"message": message}, status, headers)

    # ---- HTTP --------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """``/v2/embed`` and ``/v2/chat`` (:mod:`.realtime`) outside the lock: calls overlap."""
        return self.realtime.serve(request, self._authenticate) or super().handle(request)

    def _authenticate(self, request: Request) -> None:
        """A bearer key, except on a signed storage URL: there the URL is the credential."""
        if request.path.strip("/").split("/")[0] == STORAGE:
            return
        token = bearer_token(request)
        if not token:
            raise ApiError(401, "no api key supplied")
        if self._refuses(token):
            raise ApiError(401, "invalid api token")

    def _route(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if parts[0] == STORAGE:
            return self._download(parts[1:], request)
        method, head, rest = request.method, parts[:2], parts[2:]
        if head == ["v1", "datasets"]:
            if not rest:
                return self._create_dataset(request) if method == "POST" else \
                    self._list_datasets(request)
            if rest == ["usage"] and method == "GET":
                used = sum(len(p) for d in self.datasets.values() for p in d.parts)
                return json_response({"organization_usage": used})
            if len(rest) == 1 and method == "GET":
                return json_response({"dataset": self._dataset_json(rest[0], request)})
            if len(rest) == 1 and method == "DELETE":
                self._dataset(rest[0])
                del self.datasets[rest[0]]
                return json_response({})
        if head == ["v1", "embed-jobs"]:
            if not rest:
                # A listing polls what it shows: in auto mode each job moves one step.
                return self._create_embed_job(request) if method == "POST" else json_response(
                    {"embed_jobs": [self._sync_job(j, True).as_json()
                                    for j in self.embed_jobs.values()]})
            job = self._sync_job(self._embed_job(rest[0]), method == "GET")
            if len(rest) == 1 and method == "GET":
                return json_response(job.as_json())
            if rest[1:] == ["cancel"] and method == "POST":
                job.cancel(self.clock.now())
                return json_response({})
        if head == ["v1", "tokenize"] and not rest and method == "POST":
            return self._tokenize(request)
        if head == ["v2", "batches"]:
            if not rest:
                return self._create_batch(request) if method == "POST" else \
                    self._list_batches(request)
            batch_id, _, action = rest[0].partition(":")
            batch = self._sync_batch(self._batch(batch_id), method == "GET")
            if len(rest) == 1 and method == "GET" and not action:
                return json_response({"batch": batch.as_json()})
            if len(rest) == 1 and method == "POST" and action == "cancel":
                batch.cancel(self.clock.now())
                return json_response({})
        raise ApiError(404, f"path not found: {method} {request.path}")

    # ---- datasets ----------------------------------------------------------------------------

    def _create_dataset(self, request: Request) -> Response:
        params = typed_query(request.query)
        problems = _spec.validate("cohere", "CreateDatasetQuery", params)
        if problems:
            raise ApiError(400, f"invalid request: {problems[0]}")
        try:
            data = request.form().get("data")
        except MultipartError as exc:
            raise ApiError(400, f"invalid request: {exc}") from None
        if data is None:
            raise ApiError(400, "invalid request: a file is required in the 'data' field")
        name, kind = params["name"], params["type"]
        if len(name) >= MAX_NAME:
            raise ApiError(400, f"invalid request: name must be under {MAX_NAME} characters")
        if kind not in INPUT_TYPES:
            raise ApiError(400, f"invalid request: the emulator takes {sorted(INPUT_TYPES)} "
                           f"datasets, not {kind!r}")
        keep, optional = params.get("keep_fields", []), params.get("optional_fields", [])
        dataset = EmulatedDataset(
            id=f"{_slug(name)}-{_suffix()}", name=name, dataset_type=kind,
            created_at=self.clock.now(), keep_fields=keep, optional_fields=optional,
            phases=ValidationPhases(**vars(self.validation_phases)),
        )
        try:
            rows = parse_upload(data.filename, data.data, params.get("csv_delimiter"))
            if kind == EMBED_INPUT:
                dataset.rows, dataset.warnings = validate_embed_input(
                    rows, keep, optional, bool(params.get("skip_malformed_input")))
                dataset.seal([stored_row(r, keep, optional) for r in dataset.rows],
                             input_schema(fields_schema(dataset.rows, keep, optional)),
                             self.rows_per_part)
            else:
                dataset.rows = validate_chat_input(rows)
        except DatasetInvalid as exc:
            dataset.problem = str(exc)
        if self._validation_faults:
            dataset.problem = self._validation_faults.pop(0)
        self.datasets[dataset.id] = dataset
        return json_response({"id": dataset.id})

    def _list_datasets(self, request: Request) -> Response:
        kind, status = request.query_value("datasetType"), request.query_value("validationStatus")
        before, after = _when(request, "before"), _when(request, "after")
        limit, offset = _number(request, "limit", 100), _number(request, "offset", 0)
        now = self.clock.now()
        chosen = [
            d for d in reversed(self.datasets.values())
            if (kind is None or d.dataset_type == kind)
            and (status is None or d.validation_status(now) == status)
            and (before is None or d.created_at < before)
            and (after is None or d.created_at > after)
        ]
        storage = _storage_url(request, self.name)
        return json_response({"datasets": [d.as_json(now, storage)
                                           for d in chosen[offset:offset + limit]]})

    def _dataset(self, dataset_id: str) -> EmulatedDataset:
        dataset = self.datasets.get(dataset_id)
        if dataset is None:
            raise ApiError(404, f"dataset {dataset_id!r} not found")
        return dataset

    def _dataset_json(self, dataset_id: str, request: Request) -> dict[str, Any]:
        """A GET is a poll: in auto mode validation moves one step."""
        dataset = self._dataset(dataset_id)
        self.clock.reach(dataset.next_due(self.clock.now()))
        return dataset.as_json(self.clock.now(), _storage_url(request, self.name))

    def _validated_input(self, dataset_id: str, kind: str, status: int) -> EmulatedDataset:
        dataset = self.datasets.get(dataset_id)
        if dataset is None:
            raise ApiError(status, f"dataset {dataset_id!r} not found")
        if dataset.dataset_type != kind:
            raise ApiError(400, f"dataset {dataset_id!r} is of type {dataset.dataset_type!r}, "
                           f"not {kind!r}")
        state = dataset.validation_status(self.clock.now())
        if state != "validated":
            raise ApiError(400, f"dataset {dataset_id!r} has validation status {state!r}; it "
                           "must be validated")
        return dataset

    def _download(self, parts: list[str], request: Request) -> Response:
        """A part's Avro bytes, as a storage bucket serves them (no API key, signed URL)."""
        dataset = self.datasets.get(parts[0]) if len(parts) == 2 else None
        index = parts[1].removesuffix(".avro") if dataset is not None else ""
        if dataset is None or not index.isdigit() or int(index) >= len(dataset.parts):
            return Response(404, b"NoSuchKey", "text/plain")
        if request.query_value("X-Goog-Signature") != dataset.signature(int(index)):
            return Response(403, b"SignatureDoesNotMatch", "text/plain")
        return bytes_response(dataset.parts[int(index)], "application/octet-stream")

    # ---- embed jobs --------------------------------------------------------------------------

    def _tokenize(self, request: Request) -> Response:
        """``POST /v1/tokenize``, checked against the spec's body. The tokenizer is a stand-in:
        four-character pieces, the same figure the embed jobs bill (``estimate_tokens``)."""
        body = _json_object(request)
        problems = _spec.validate("cohere", "TokenizeRequest", body)
        unknown = sorted(set(body) - _spec.property_names("cohere", "TokenizeRequest"))
        if problems or unknown:
            raise ApiError(400, f"invalid request: {problems[0] if problems else unknown[0]}"
                           + ("" if problems else ": unknown field"))
        text = body["text"]
        pieces = [text[i:i + 4] for i in range(0, len(text), 4)]
        self.tokenized.append(len(pieces))
        return json_response({"tokens": [zlib.crc32(p.encode()) % 100_000 for p in pieces],
                              "token_strings": pieces, "meta": {"api_version": {"version": "1"}}})

    def _create_embed_job(self, request: Request) -> Response:
        body = _json_object(request)
        problems = _spec.validate("cohere", "CreateEmbedJobRequest", body)
        unknown = sorted(set(body) - _spec.property_names("cohere", "CreateEmbedJobRequest"))
        if problems or unknown:
            raise ApiError(400, f"invalid request: {problems[0] if problems else unknown[0]}"
                           + ("" if problems else ": unknown field"))
        if body["model"] not in EMBED_DIMENSIONS:
            raise ApiError(404, f"model '{body['model']}' not found")
        types = body.get("embedding_types") or ["float"]
        if any(t not in EMBEDDING_TYPES for t in types):
            raise ApiError(400, f"invalid request: embed jobs return {list(EMBEDDING_TYPES)}")
        dataset = self._validated_input(body["dataset_id"], EMBED_INPUT, 404)
        job = EmbedJob(
            id=str(uuid.uuid4()), name=body.get("name"), model=body["model"], dataset=dataset,
            input_type=body["input_type"], embedding_types=list(types),
            truncate=body.get("truncate", "END"), created_at=self.clock.now(),
            phases=JobPhases(**vars(self.job_phases)),
            failure=self._job_faults.pop(0) if self._job_faults else None,
        )
        self.embed_jobs[job.id] = job
        self._creates[job.name or ""] += 1
        return json_response({"job_id": job.id, "meta": {"api_version": {"version": "1"}}})

    def _embed_job(self, job_id: str) -> EmbedJob:
        job = self.embed_jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"embed job {job_id!r} not found")
        return job

    def _sync_job(self, job: EmbedJob, polled: bool) -> EmbedJob:
        if polled:
            self.clock.reach(job.next_due())
        if job.advance(self.clock.now()):
            data = job.dataset
            job.output = self._output(f"{job.name or 'embed-job'}-output", "embed-result")
            job.output.seal(job.records(), embed_result_schema(
                fields_schema(data.rows, data.keep_fields, data.optional_fields)),
                self.rows_per_part)
        return job

    def _output(self, name: str, kind: str) -> EmulatedDataset:
        dataset = EmulatedDataset(id=f"{_slug(name)}-{_suffix()}", name=name, dataset_type=kind,
                                  created_at=self.clock.now())
        self.datasets[dataset.id] = dataset
        return dataset

    # ---- batches -----------------------------------------------------------------------------

    def _create_batch(self, request: Request) -> Response:
        body = _json_object(request)
        problems = _spec.validate("cohere", "Batch", body)
        if problems:
            raise ApiError(400, f"invalid request: {problems[0]}")
        dataset = self._validated_input(body["input_dataset_id"], CHAT_INPUT, 404)
        batch = ChatBatch(
            id=str(uuid.uuid4()), name=body["name"], model=body["model"], dataset=dataset,
            created_at=self.clock.now(), phases=JobPhases(**vars(self.job_phases)),
            record_faults=self.retryable_items.overlay(self.record_faults, retryable_record),
            failure=self._job_faults.pop(0) if self._job_faults else None,
        )
        self.batches[batch.id] = batch
        self._creates[batch.name] += 1
        return json_response({"batch": batch.as_json()})

    def _batch(self, batch_id: str) -> ChatBatch:
        batch = self.batches.get(batch_id)
        if batch is None:
            raise ApiError(404, f"batch {batch_id!r} not found")
        return batch

    def _sync_batch(self, batch: ChatBatch, polled: bool) -> ChatBatch:
        if polled:
            self.clock.reach(batch.next_due())
        if batch.advance(self.clock.now(), self.chat_responder):
            batch.output = self._output(f"{batch.name}-output", "batch-chat-v2-output")
            batch.output.seal(batch.results, CHAT_RESULT_SCHEMA, self.rows_per_part)
        return batch

    def _list_batches(self, request: Request) -> Response:
        size = min(_number(request, "page_size", 50) or 50, 1000)
        token = request.query_value("page_token") or "0"
        if not token.isdigit():
            raise ApiError(400, f"invalid page_token {token!r}")
        order = request.query_value("order_by") or "created_at"
        batches = [self._sync_batch(b, False) for b in self.batches.values()]
        batches.sort(key=lambda b: b.updated_at if order == "updated_at" else b.created_at,
                     reverse=True)
        start = int(token)
        page = batches[start:start + size]
        for batch in page:  # a listing polls what it shows: auto mode moves each one step
            self._sync_batch(batch, True)
        out: dict[str, Any] = {"batches": [b.as_json() for b in page]}
        if start + size < len(batches):
            out["next_page_token"] = str(start + size)
        return json_response(out)


def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        raise ApiError(400, "invalid request: the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid request: the body must be a JSON object")
    return body


def _number(request: Request, name: str, default: int) -> int:
    raw = request.query_value(name)
    if raw is None:
        return default
    try:
        return int(float(raw))
    except ValueError:
        raise ApiError(400, f"invalid request: {name} must be a number, not {raw!r}") from None


def _when(request: Request, name: str) -> float | None:
    raw = request.query_value(name)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ApiError(400, f"invalid request: {name} must be a date-time, not {raw!r}") from None


def _storage_url(request: Request, mount: str) -> str:
    return f"http://{request.header('Host') or '127.0.0.1'}/{mount}/{STORAGE}"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "dataset"


def _suffix() -> str:
    return "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(6))


def create_app(clock: EmulatorClock) -> CohereEmulator:
    """Factory named in the emulate() table."""
    return CohereEmulator(clock)

