"""The Bedrock adapter: batch inference jobs (CreateModelInvocationJob) through ``boto3``.

A shard is uploaded to S3 as one ``.jsonl`` file, a job reads it and writes
``<file>.jsonl.out`` (plus ``manifest.json.out``) under ``<output prefix>/<job id>/``. The pure
half lives in :mod:`.codec`; boto3 is imported the first time a client is needed, so
``bk.encode`` / ``bk.decode`` work without it.

Options (each also read from an environment variable, so a CLI user needs no code):

* ``role_arn`` / ``BATCHKIT_BEDROCK_ROLE_ARN``: the IAM service role Bedrock assumes to read
  and write the bucket (required; the sandbox uses a dummy);
* ``bucket`` / ``BATCHKIT_BEDROCK_BUCKET``: the S3 bucket for input and output (required; the
  sandbox uses ``batchkit-sandbox``), ``prefix`` (default ``batchkit``) under it;
* ``region``, ``profile``, ``endpoint_url``, ``s3_endpoint_url``, ``runtime_endpoint_url`` (the
  ``bedrock-runtime`` endpoint of real-time mode): otherwise the usual AWS chain
  (``AWS_REGION``, ``AWS_PROFILE``, ``~/.aws``, instance roles) decides;
* ``min_records`` / ``BATCHKIT_BEDROCK_MIN_RECORDS`` (default 100) and ``max_records``
  (default 50,000): the per-model record quotas; ``timeout_hours`` (24-168):
  ``timeoutDurationInHours``; ``model_family`` for opaque model ARNs; ``max_tokens``;
  ``find_skew_seconds`` (see :meth:`BedrockAdapter.find_by_key`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..._exceptions import (
    ConfigError,
    InvalidRequestError,
    MissingCredentialsError,
    MissingDependencyError,
    ProviderError,
)
from ..._requests import Request
from ..._results import Result
from ..._state import JobState
from .._credentials import SANDBOX_KEY, redact, register_aws_session
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
    check_request,
    decode_line,
    encode_record,
    family_of,
    job_name,
    map_status,
    vendor_id,
    vendor_ids,
)
from .realtime import BedrockRealtime

__all__ = ["BedrockAdapter"]

MIN_RECORDS = 100
"""Service Quotas "Minimum number of records per batch inference job" (per model; 100 for the
models batchkit knows). Below it the job fails validation, so the planner refuses first."""
MAX_RECORDS = 50_000
""""Records per batch inference job" / "Records per input file" default quota."""
_MAX_BYTES = 1_000_000_000
""""Batch inference input file size" 1 GB, read as decimal (the smaller reading)."""
_SANDBOX_ROLE = "arn:aws:iam::123456789012:role/batchkit-sandbox"
SANDBOX_BUCKET = "batchkit-sandbox"
_OUTPUT_SUFFIX = ".jsonl.out"
_LIST_PAGE = 1000
"""The largest ``maxResults`` ListModelInvocationJobs takes."""
"""Result files; ``manifest.json.out`` (counts only) sits beside them and is not a result."""
_ACCESS_KEY = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
_BAD_CREDENTIALS = frozenset({
    "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException",
    "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId",
})


class BedrockAdapter(BedrockRealtime, Adapter):
    """Bedrock batch inference: one S3 file and one job per shard; chat or embeddings by model."""

    name = "bedrock"
    capabilities = CAPABILITIES
    row_id_key = "recordId"
    """A ``.jsonl.out`` line opens with its ``recordId`` (the documented order) or, in files
    written the other way round, closes with it after the echoed ``modelInput``."""
    option_names = frozenset({
        "endpoint_url", "max_records", "max_tokens", "min_records", "model_family", "prefix",
        "profile", "region", "role_arn", "bucket", "s3_endpoint_url", "timeout_hours",
        "runtime_endpoint_url",
    })
    credential_env = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "BATCHKIT_BEDROCK_ROLE_ARN",
                      "BATCHKIT_BEDROCK_BUCKET")

    def __init__(self, model: str, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(model, options)
        self.family = family_of(model, self.options.get("model_family"))
        self._clients: tuple[Any, Any] | None = None
        self._session: Any = None
        self._runtime: Any = None
        """The session the clients came from, and real time's runtime client (:mod:`.realtime`)."""

    # -- pure half ---------------------------------------------------------------------------

    def limits(self, group: str) -> Limits:
        """At most 50,000 records and 1 GB per job, and at least ``min_records`` (100)."""
        return Limits(
            max_requests=int(self.options.get("max_records") or MAX_RECORDS),
            max_bytes=_MAX_BYTES,
            min_requests=self._option_int("min_records", "BATCHKIT_BEDROCK_MIN_RECORDS",
                                          MIN_RECORDS),
        )

    def check(self, request: Request) -> None:
        check_request(request, self.family, self.model)

    def vendor_id(self, custom_id: str) -> str:
        return vendor_id(custom_id)

    def vendor_ids(self, raw_ids: list[bytes]) -> list[bytes]:
        """:meth:`vendor_id` of many UTF-8 ids at once (what a conversion's splice asks)."""
        return vendor_ids(raw_ids)

    def encode(self, request: Request, vendor_id: str) -> bytes:
        if self.family is None:  # check() refuses these first
            raise InvalidRequestError(f"bedrock model {self.model!r} has no known family",
                                      custom_id=request.custom_id)
        return encode_record(request, vendor_id, self.family, self.options)

    def decode(self, line: bytes) -> Result:
        return decode_line(line, self.family)

    # -- I/O half ----------------------------------------------------------------------------

    def submit(self, shard: ShardInput) -> str:
        """Upload the payload (streamed; multipart above 8 MB) and create the job.

        The shard key, as ``jobName`` and ``clientRequestToken``, makes the create idempotent:
        Bedrock ignores a repeated token, so botocore's retries cannot start a second job, and
        ``find_by_key`` finds the job by name after a crash.
        """
        bucket, prefix = self._location()
        role_arn = self._role_arn()  # both settings are checked before anything is uploaded
        folder = f"{prefix}{shard.job_id}/shard-{shard.index:04d}"
        with self._call("upload the batch file") as (s3, _):
            s3.upload_file(str(shard.payload_path), bucket, f"{folder}.jsonl")
        name = job_name(shard.key)
        extra: dict[str, Any] = {}
        if self.options.get("timeout_hours"):
            extra["timeoutDurationInHours"] = int(self.options["timeout_hours"])
        with self._call("create the batch job") as (_, bedrock):
            created = bedrock.create_model_invocation_job(
                jobName=name,
                clientRequestToken=name,
                roleArn=role_arn,
                modelId=self.model,
                inputDataConfig={"s3InputDataConfig": {
                    "s3Uri": f"s3://{bucket}/{folder}.jsonl", "s3InputFormat": "JSONL"}},
                outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{bucket}/{folder}/"}},
                **extra,
            )
        arn = created.get("jobArn") or self._find_job(name, None, frozenset())
        if not arn:  # botocore parses a garbled answer into what it can: no ARN, no error
            raise ProviderError(f"Bedrock's answer to creating job {name} had no jobArn and "
                                "no job of that name exists yet; resuming will look again")
        return str(arn)

    def poll(self, remote_id: str) -> RemoteStatus:
        with self._call("read the batch job") as (_, bedrock):
            job = bedrock.get_model_invocation_job(jobIdentifier=remote_id)
        if "status" not in job:  # a garbled answer botocore parsed into nothing
            raise ProviderError(f"Bedrock's answer about job {remote_id} had no status; it "
                                "will be read again", transient=True)
        return map_status(_jsonable(job))

    def poll_many(
        self, remote_ids: Sequence[str], *, job_id: str, since: float
    ) -> dict[str, RemoteStatus]:
        """``ListModelInvocationJobs`` narrowed on the server to jobs submitted since the job
        was journaled, newest first, up to 1,000 a page, instead of one get per shard: a
        summary carries every field GetModelInvocationJob does (botocore's model)."""
        query = {"submitTimeAfter": datetime.fromtimestamp(self._listing_cutoff(since),
                                                           timezone.utc),
                 "sortOrder": "Descending", "maxResults": _LIST_PAGE}
        with self._call("list batch jobs") as (_, bedrock):
            pages = bedrock.get_paginator("list_model_invocation_jobs").paginate(**query)
            return scan_listing(
                (page.get("invocationJobSummaries", []) for page in pages), remote_ids,
                batch_id=lambda job: str(job["jobArn"]),
                status=lambda job: map_status(_jsonable(job)),
            )

    def cancel(self, remote_id: str) -> None:
        """Stop the job. A job that already ended (or is stopping) cannot be stopped; that is
        not an error here: the next poll shows how it ended."""
        try:
            with self._call("stop the batch job") as (_, bedrock):
                bedrock.stop_model_invocation_job(jobIdentifier=remote_id)
        except ProviderError:
            state = self.poll(remote_id).state
            if not (state.is_terminal or state is JobState.CANCELLING):
                raise

    def fetch_results(self, remote_id: str, status: RemoteStatus, dest: Path) -> list[Path]:
        """Download every ``*.jsonl.out`` under the job's output folder to ``dest``, streamed.

        Each file is written to ``*.part`` and renamed when complete, so a crash mid-download
        never leaves a truncated file that looks finished. A job that wrote nothing (failed at
        validation, expired) has no files: every request then gets its stand-in result. Files
        are private to the user and named after the job id and object name made safe (the
        vendor's text is never a path); boto3 streams into the file opened here rather than
        creating one itself with the default permissions.
        """
        raw = status.raw if "outputDataConfig" in status.raw else self.poll(remote_id).raw
        uri = raw["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"]
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        job_id = remote_id.rsplit("/", 1)[-1]
        folder = f"{prefix.rstrip('/')}/{job_id}/" if prefix.strip("/") else f"{job_id}/"
        dest.mkdir(parents=True, exist_ok=True)
        paths = []
        with self._call("download the results") as (s3, _):
            keys = sorted(
                item["Key"]
                for page in s3.get_paginator("list_objects_v2").paginate(
                    Bucket=bucket, Prefix=folder)
                for item in page.get("Contents", [])
                if item["Key"].endswith(_OUTPUT_SUFFIX)
            )
            for number, key in enumerate(keys):
                stem = Path(key).name.removesuffix(_OUTPUT_SUFFIX)
                path = result_file(dest, f"{job_id}-{number}-{stem}", ".jsonl")
                part = path.with_name(path.name + ".part")
                with open_private(part) as fh:
                    s3.download_fileobj(bucket, key, fh)
                part.replace(path)
                paths.append(path)
        return paths

    def find_by_key(self, shard: ShardInput) -> str | None:
        """The job created for ``shard`` before a crash: listed by name, matched exactly.

        ``ListModelInvocationJobs`` filters by ``nameContains`` (and by submit time, from the
        journal time less ``find_skew_seconds``, default 300); the summaries carry ``jobName``
        and ``clientRequestToken``, both the shard key's :func:`job_name`, so a match is exact.
        """
        since = None
        if shard.journaled_at:
            since = self._listing_cutoff(shard.journaled_at)
        return self._find_job(job_name(shard.key), since, shard.taken)

    def _find_job(self, name: str, since: float | None, taken: frozenset[str]) -> str | None:
        query: dict[str, Any] = {"nameContains": name, "sortOrder": "Descending"}
        if since is not None:
            query["submitTimeAfter"] = datetime.fromtimestamp(since, timezone.utc)
        with self._call("list batch jobs") as (_, bedrock):
            for page in bedrock.get_paginator("list_model_invocation_jobs").paginate(**query):
                for job in page.get("invocationJobSummaries", []):
                    if (job.get("jobName") == name or job.get("clientRequestToken") == name) \
                            and job["jobArn"] not in taken:
                        return str(job["jobArn"])
        return None

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None
        if self._clients is not None:
            for client in self._clients:
                client.close()
            self._clients = None

    # -- helpers -----------------------------------------------------------------------------

    def _option_int(self, option: str, env: str, default: int) -> int:
        value = self.options.get(option)
        if value is None:
            value = os.environ.get(env) or default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"bedrock option {option} must be a whole number, not "
                              f"{value!r}") from None

    def _setting(self, option: str, env: str, sandbox_default: str, what: str) -> str:
        value = self.options.get(option) or os.environ.get(env)
        if not value and sandbox_url(self.name):
            value = sandbox_default
        if not value:
            raise ConfigError(f"bedrock needs {what}: pass option {option}=... or set {env}")
        return str(value)

    def _role_arn(self) -> str:
        return self._setting("role_arn", "BATCHKIT_BEDROCK_ROLE_ARN", _SANDBOX_ROLE,
                             "the ARN of an IAM service role for batch inference")

    def _location(self) -> tuple[str, str]:
        """``(bucket, key prefix ending in '/' or empty)`` for this adapter's files."""
        bucket = self._setting("bucket", "BATCHKIT_BEDROCK_BUCKET", SANDBOX_BUCKET,
                               "an S3 bucket for batch input and output")
        prefix = str(self.options.get("prefix", "batchkit")).strip("/")
        return bucket, f"{prefix}/" if prefix else ""

    def _sdk(self) -> tuple[Any, Any]:
        """``(s3, bedrock)`` clients, built once. Sandbox mode sends dummy keys to the emulator
        and never consults the AWS credential chain."""
        if self._clients is not None:
            return self._clients
        try:
            import boto3  # type: ignore[import-untyped]
            import botocore.exceptions as aws  # type: ignore[import-untyped]
            from botocore.config import Config  # type: ignore[import-untyped]
        except ImportError:
            raise MissingDependencyError(
                'the bedrock provider needs boto3: pip install "batchkit[aws]"'
            ) from None
        # Seconds to wait for any one response (option "timeout"; botocore's default is 60).
        wait = float(self.options.get("timeout") or 60)
        config = Config(retries={"mode": "standard"}, user_agent_extra="batchkit",
                        connect_timeout=wait, read_timeout=wait)
        sandbox = sandbox_url(self.name)
        try:
            if sandbox:
                session = boto3.Session(aws_access_key_id=SANDBOX_KEY,
                                        aws_secret_access_key=SANDBOX_KEY,
                                        region_name=self.options.get("region") or "us-east-1")
                endpoints = (self.options.get("s3_endpoint_url") or sandbox_url("s3"),
                             self.options.get("endpoint_url") or sandbox)
            else:
                session = boto3.Session(profile_name=self.options.get("profile"),
                                        region_name=self.options.get("region"))
                register_aws_session(session)
                endpoints = (self.options.get("s3_endpoint_url"),
                             self.options.get("endpoint_url"))
            self._session = session
            self._clients = (
                session.client("s3", endpoint_url=endpoints[0], config=config),
                session.client("bedrock", endpoint_url=endpoints[1], config=config),
            )
            for client in self._clients:
                client.meta.events.register("after-call", _refuse_cut_answer)
        except aws.NoRegionError:
            raise ConfigError(
                "no AWS region for bedrock: set AWS_REGION or pass option region=..."
            ) from None
        except aws.BotoCoreError as exc:  # a missing profile, a broken ~/.aws/config
            raise ConfigError(f"bedrock could not set up AWS clients: {type(exc).__name__}: "
                              f"{_clean(str(exc))}") from None
        return self._clients

    @contextmanager
    def _call(self, action: str) -> Iterator[tuple[Any, Any]]:
        """The clients, with AWS errors re-raised as batchkit's. ``from None``: the chained
        botocore exception would print the vendor's unredacted message in every traceback."""
        clients = self._sdk()
        import botocore.exceptions as aws  # present: _sdk() imported it
        from boto3.exceptions import Boto3Error  # type: ignore[import-untyped]

        try:
            yield clients
        except aws.ClientError as exc:
            raise _client_error(exc, action) from None
        except CutAnswer as exc:
            raise ProviderError(f"Bedrock could not {action}: {exc}; it will be read again",
                                transient=True) from None
        except (aws.NoCredentialsError, aws.PartialCredentialsError):
            raise MissingCredentialsError(
                f"no AWS credentials to {action}: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or configure ~/.aws"
            ) from None
        except (aws.BotoCoreError, Boto3Error) as exc:
            cause = exc.__context__
            if isinstance(cause, aws.ClientError):
                raise _client_error(cause, action) from None
            if isinstance(cause, aws.NoCredentialsError):
                raise MissingCredentialsError(
                    f"no AWS credentials to {action}: set AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or configure ~/.aws"
                ) from None
            # A lost connection, a timeout or a body cut off may work on a later try.
            lost = (aws.ConnectionError, aws.HTTPClientError, aws.IncompleteReadError)
            raise ProviderError(f"Bedrock could not {action}: {type(exc).__name__}: "
                                f"{_clean(str(exc))}", transient=isinstance(exc, lost)) from None


class CutAnswer(Exception):
    """An answer whose body is shorter (or longer) than its ``Content-Length``."""


def _refuse_cut_answer(http_response: Any, model: Any, **_: Any) -> None:
    """botocore parses a body cut off mid-JSON into whatever it can, without an error: a job
    with no status, a listing with no jobs (which would make a resubmit look safe). Checked
    on every whole (non-streamed) answer; a streamed download checks its own length."""
    if model.has_streaming_output or model.http.get("method") == "HEAD":  # no body to check
        return
    declared = http_response.headers.get("content-length")
    got = len(http_response.content)
    if declared is not None and declared.isdigit() and got != int(declared):
        raise CutAnswer(f"the answer to {model.name} was cut off ({got} of {declared} bytes)")


def _client_error(exc: Any, action: str) -> BaseException:
    """A botocore ``ClientError`` as batchkit's error: bad credentials apart, the rest with the
    vendor's code, message and request id."""
    error = exc.response.get("Error", {})
    meta = exc.response.get("ResponseMetadata", {})
    code = str(error.get("Code") or "Unknown")
    status = meta.get("HTTPStatusCode")
    if code in _BAD_CREDENTIALS:
        return MissingCredentialsError(
            f"AWS refused the credentials while trying to {action} ({code}): check "
            "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE")
    request_id = f" (request id {meta['RequestId']})" if meta.get("RequestId") else ""
    return ProviderError(
        f"Bedrock could not {action}: HTTP {status} [{code}]: "
        f"{_clean(str(error.get('Message') or ''))}{request_id}",
        status_code=status if isinstance(status, int) else None,
    )


def _clean(text: str) -> str:
    """Mask access key ids: AWS echoes them in some error messages."""
    return redact(text, None, _ACCESS_KEY, "AKIA***")


def _jsonable(value: Any) -> Any:
    """A boto3 response as JSON-ready data: datetimes as ISO 8601, no ``ResponseMetadata``."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
