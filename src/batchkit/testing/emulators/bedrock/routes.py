"""The Bedrock batch inference emulator, mounted at ``/bedrock`` beside the S3 app at ``/s3``.

Why: batchkit's Bedrock adapter drives ``boto3``, so tests point its ``bedrock`` client at
``<url>/bedrock`` and its ``s3`` client at ``<url>/s3`` (botocore keeps an endpoint's path
prefix) and everything between the adapter and the wire is real. moto does not emulate these
operations (its coverage lists them unimplemented), hence this app.

The control plane is CreateModelInvocationJob, GetModelInvocationJob, ListModelInvocationJobs
and StopModelInvocationJob, rest-json as in botocore's ``bedrock`` model: every request is
checked against the operation's input shape (:mod:`.._aws`) and bad input answers
``ValidationException`` (HTTP 400, ``x-amzn-ErrorType`` header, ``{"message"}`` body), which
boto3 raises as its ``ClientError``. ``clientRequestToken`` is honoured: a repeated token
answers the first job's ARN and creates nothing. Jobs read their input from, and write their
output to, the S3 app (:mod:`.state`).

Faults for tests, on the app object (``handle.apps["bedrock"]``): :meth:`fault_record`,
:meth:`drop_record`, :meth:`fail_next_job`, :meth:`expire_next_job`, :meth:`time_out_next_job`;
quotas ``min_records`` / ``max_records``; counters ``creates`` and :meth:`jobs_named`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from typing import Any
from urllib.parse import unquote

from batchkit.testing._clock import EmulatorClock
from batchkit.testing._server import (
    EndpointFaults,
    Request,
    Response,
    RetryableItemFaults,
    json_response,
)
from batchkit.testing.emulators._aws import AwsError, ShapeChecker, request_id, request_params
from batchkit.testing.emulators.bedrock.realtime import SyncEndpoints
from batchkit.testing.emulators.bedrock.replies import Responder, default_responder, family
from batchkit.testing.emulators.bedrock.state import (
    ACTIVE,
    EmulatedJob,
    JobFault,
    Phases,
    Quotas,
    RecordFault,
)
from batchkit.testing.emulators.s3.routes import S3Emulator

ACCOUNT = "123456789012"
REGION = "us-east-1"
SANDBOX_BUCKET = "batchkit-sandbox"
DEFAULT_TIMEOUT_HOURS = 72
"""An assumption: the service model documents no default for ``timeoutDurationInHours``."""
_FAULT_CODES = {429: "ThrottlingException", 500: "InternalServerException",
                503: "ServiceUnavailableException"}


class BedrockEmulator:
    """The Bedrock app; ``s3`` is the S3 app its jobs read and write."""

    name = "bedrock"

    def __init__(self, clock: EmulatorClock, s3: S3Emulator, *,
                 responder: Responder | None = None) -> None:
        self.clock = clock
        self.s3 = s3
        self.responder: Responder = responder or default_responder
        self.phases = Phases()
        self.min_records = Quotas.min_records
        self.max_records = Quotas.max_records
        self.endpoint_faults = EndpointFaults()
        self.retryable_items = RetryableItemFaults()
        self.jobs: dict[str, EmulatedJob] = {}
        self.creates = 0
        self._record_faults: dict[str, RecordFault] = {}
        self._next_fault: JobFault | None = None
        self._tokens: dict[str, str] = {}
        self._checker = ShapeChecker("bedrock")
        self._lock = threading.RLock()
        self.realtime = SyncEndpoints(lambda: self.responder)

    # ---- fault and counter API for tests -------------------------------------------------

    def fault_record(self, record_id: str, code: int = 500,
                     message: str = "Internal server error") -> None:
        """Records ``record_id`` of jobs created afterwards end as error rows."""
        self._record_faults[record_id] = RecordFault(code, message)

    def drop_record(self, record_id: str) -> None:
        """Records ``record_id`` of jobs created afterwards get no output row at all."""
        self._record_faults[record_id] = RecordFault(None)

    def fail_next_job(self, message: str = "Internal failure while validating the job") -> None:
        self._next_fault = JobFault("Failed", message)

    def expire_next_job(self) -> None:
        """The next job is never scheduled to run before its timeout: it ends ``Expired``."""
        self._next_fault = JobFault("Expired")

    def time_out_next_job(self, processed: int) -> None:
        """The next job runs ``processed`` records before its timeout: ``PartiallyCompleted``."""
        self._next_fault = JobFault("PartiallyCompleted", processed=processed)

    def jobs_named(self, name: str) -> int:
        """How many jobs exist with ``jobName`` ``name`` (a resubmitted shard shows as two)."""
        return sum(1 for job in self.jobs.values() if job.name == name)

    def fault_response(self, status: int, retry_after: float | None) -> Response:
        code = _FAULT_CODES.get(status, "InternalServerException")
        response = _error(AwsError(code, "Rate exceeded" if status == 429 else
                                   "Internal server error", status))
        if retry_after is not None:
            response.headers["Retry-After"] = f"{retry_after:g}"
        return response

    # ---- HTTP --------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        try:
            if not (request.header("Authorization") or "").startswith("AWS4-HMAC-SHA256 "):
                raise AwsError("MissingAuthenticationTokenException",
                               "Missing Authentication Token", 403)
            parts = [unquote(p) for p in request.path.strip("/").split("/")]
            if len(parts) == 3 and parts[0] == "model" and parts[2] == "invoke" \
                    and request.method == "POST":  # bedrock-runtime; no lock: calls overlap
                return self.realtime.handle(request, parts[1])
            with self._lock:
                return self._route(request)
        except AwsError as error:
            return _error(error)

    def _route(self, request: Request) -> Response:
        parts = [unquote(p) for p in request.path.strip("/").split("/")]
        method = request.method
        if parts == ["model-invocation-job"] and method == "POST":
            return self._create(request)
        if parts == ["model-invocation-jobs"] and method == "GET":
            return self._list(request)
        if len(parts) == 2 and parts[0] == "model-invocation-job" and method == "GET":
            return json_response(self._get(request, parts[1]).describe())
        if len(parts) == 3 and parts[0] == "model-invocation-job" and parts[2] == "stop" \
                and method == "POST":
            return self._stop(request, parts[1])
        raise AwsError("UnknownOperationException", f"{method} {request.path}", 404)

    def _create(self, request: Request) -> Response:
        try:
            body = request.json() or {}
        except ValueError:
            raise AwsError("SerializationException", "Could not parse the request body",
                           400) from None
        self._checker.check_input("CreateModelInvocationJob", body)
        token = body.get("clientRequestToken")
        if token and token in self._tokens:  # "Amazon Bedrock ignores the request"
            return json_response({"jobArn": self._tokens[token]})
        if family(body["modelId"]) is None:
            raise AwsError("ValidationException", f"The provided model identifier "
                           f"{body['modelId']} does not support batch inference.", 400)
        job_id = hashlib.sha256(f"{token}|{self.creates}|{request_id()}".encode()) \
            .hexdigest()[:12]
        arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-invocation-job/{job_id}"
        now = self.clock.now()
        fault, self._next_fault = self._next_fault, None
        self.jobs[job_id] = EmulatedJob(
            arn=arn, name=body["jobName"], token=token or "", model_id=body["modelId"],
            role_arn=body["roleArn"],
            input_uri=body["inputDataConfig"]["s3InputDataConfig"]["s3Uri"],
            output_uri=body["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"],
            submitted_at=now, modified_at=now,
            timeout_hours=int(body.get("timeoutDurationInHours") or DEFAULT_TIMEOUT_HOURS),
            phases=Phases(**vars(self.phases)), fault=fault,
            record_faults=self.retryable_items.overlay(self._record_faults, _retryable_record),
            quotas=Quotas(self.min_records, self.max_records),
        )
        if token:
            self._tokens[token] = arn
        self.creates += 1
        return json_response({"jobArn": arn})

    def _job(self, request: Request, identifier: str, operation: str) -> EmulatedJob:
        params = request_params(self._checker.operation(operation), request,
                                {"jobIdentifier": identifier})
        self._checker.check_input(operation, params)
        job = self.jobs.get(identifier.rsplit("/", 1)[-1])
        if job is None or (identifier.startswith("arn:") and identifier != job.arn):
            raise AwsError("ResourceNotFoundException",
                           f"The specified job {identifier} could not be found.", 404)
        return job

    def _get(self, request: Request, identifier: str) -> EmulatedJob:
        """A poll: in auto mode the clock first jumps to the job's next status step."""
        job = self._job(request, identifier, "GetModelInvocationJob")
        self.clock.reach(job.next_due())
        job.advance(self.clock.now(), self.s3, self.responder)
        return job

    def _stop(self, request: Request, identifier: str) -> Response:
        job = self._job(request, identifier, "StopModelInvocationJob")
        job.advance(self.clock.now(), self.s3, self.responder)
        if job.status not in ACTIVE:
            raise AwsError("ConflictException", f"The job {job.arn} is {job.status} and "
                           "cannot be stopped.", self._checker.error_status("ConflictException"))
        job.stop(self.clock.now(), self.responder)
        return json_response({})

    def _list(self, request: Request) -> Response:
        operation = self._checker.operation("ListModelInvocationJobs")
        params = request_params(operation, request, {})
        self._checker.check_input("ListModelInvocationJobs", params)
        now = self.clock.now()
        jobs = list(self.jobs.values())
        for job in jobs:
            job.advance(now, self.s3, self.responder)
        after, before = params.get("submitTimeAfter"), params.get("submitTimeBefore")
        jobs = [j for j in jobs
                if params.get("nameContains", "") in j.name
                and params.get("statusEquals", j.status) == j.status
                and (after is None or j.submitted_at > _epoch(after))
                and (before is None or j.submitted_at < _epoch(before))]
        jobs.sort(key=lambda j: j.submitted_at,
                  reverse=params.get("sortOrder", "Descending") == "Descending")
        start = int(base64.urlsafe_b64decode(params["nextToken"]).decode()) \
            if params.get("nextToken") else 0
        limit = int(params.get("maxResults") or 1000)
        page = jobs[start:start + limit]
        for job in page:  # a listing polls what it shows: auto mode moves each one step
            self.clock.reach(job.next_due())
            job.advance(self.clock.now(), self.s3, self.responder)
        body: dict[str, Any] = {"invocationJobSummaries": [j.describe() for j in page]}
        if start + limit < len(jobs):
            body["nextToken"] = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
        return json_response(body)


def _epoch(stamp: str) -> float:
    from botocore.utils import parse_timestamp  # type: ignore[import-untyped]

    return float(parse_timestamp(stamp).timestamp())


def _error(error: AwsError) -> Response:
    """AWS's rest-json error: the code in ``x-amzn-ErrorType``, ``{"message"}`` as the body."""
    body = json.dumps({"message": error.message}).encode()
    return Response(error.status, body, "application/json", {
        "x-amzn-ErrorType": f"{error.code}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        "x-amzn-RequestId": request_id(),
    })


def create_app(clock: EmulatorClock) -> list[Any]:
    """Factory named in the emulate() table: the Bedrock app and the S3 app it uses."""
    s3 = S3Emulator(clock, buckets=(SANDBOX_BUCKET,))
    return [BedrockEmulator(clock, s3), s3]


def _retryable_record(status: int) -> RecordFault:
    """A retryable record fault as a Bedrock output row carries it (``errorCode`` and
    ``errorMessage``)."""
    return RecordFault(status, {429: "Too many requests, please wait before trying again.",
                                503: "Service unavailable"}.get(status, "Internal server error"))
