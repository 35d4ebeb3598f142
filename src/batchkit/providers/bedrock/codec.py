"""The Bedrock batch inference codec: record lines, output lines, job status. No I/O.

A Bedrock batch job reads one JSONL file from S3 whose lines are
``{"recordId", "modelInput"}``; ``modelInput`` is the InvokeModel request body *of the model's
own family*, so the codec first works out the family from the model id (:mod:`.families`: Claude,
Nova, Titan Text, Titan and Cohere embeddings, Llama, Mistral, DeepSeek), then lets it encode.

Output lines are ``{"recordId", "modelInput", "modelOutput"}`` or, for a failed record,
``{"recordId", "modelInput", "error": {"errorCode", "errorMessage"}}`` (:mod:`.results`).

Facts: botocore's ``bedrock`` / ``bedrock-runtime`` service models, the Bedrock user guide pages
https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-data.html and
batch-inference-results.html, each family's parameter page (see its module); see providers.md.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, NoReturn

import orjson

from ..._exceptions import InvalidRequestError, ProviderError
from ..._requests import Request
from ..._state import JobState
from .._capabilities import check_capabilities, vendor_params
from .._ids import HASH_CHARS, escaped_id
from ..base import LineError, RemoteStatus
from .families import (
    ANTHROPIC_VERSION,
    CLAUDE,
    FAMILIES,
    NOVA,
    TITAN_EMBED_V1,
    TITAN_EMBED_V2,
    Family,
    family_of,
    known_prefixes,
)
from .results import decode_line

__all__ = [
    "ANTHROPIC_VERSION",
    "CLAUDE",
    "FAMILIES",
    "NOVA",
    "STATUS_MAP",
    "TITAN_EMBED_V1",
    "TITAN_EMBED_V2",
    "Family",
    "check_request",
    "decode_line",
    "encode_record",
    "family_of",
    "job_name",
    "map_status",
    "vendor_id",
    "vendor_ids",
]


# -- ids -------------------------------------------------------------------------------------

_RECORD_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
"""The documented recordId is an "alphanumeric string": ids like that are sent unchanged."""
_ESCAPE = "bkx"
_SLUG_CHARS = 16
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")


def vendor_id(custom_id: str) -> str:
    """An alphanumeric ``recordId`` for ``custom_id``, deterministic and collision-free.

    Alphanumeric ids (not starting with ``bkx``) stay as they are; any other id becomes ``bkx``,
    up to 16 of its letters and digits, and 32 hex digits of its SHA-256 (what makes it unique).
    """
    return escaped_id(custom_id, accepted=_RECORD_ID.match, escape=_ESCAPE, separator="",
                      slug=lambda cid: _NOT_ALPHANUMERIC.sub("", cid)[:_SLUG_CHARS])


_NOT_ALPHANUMERIC_BYTES = bytes(b for b in range(256) if not (b < 0x80 and chr(b).isalnum()))


def vendor_ids(raw_ids: list[bytes]) -> list[bytes]:
    """:func:`vendor_id` of many ids at once, each given and returned as its UTF-8 bytes.

    Why: converting a file to Bedrock rewrites most ids (any ``-`` or ``_`` makes one), and
    per id the str function's regex and calls cost more than the SHA-256 itself. Here the test
    is ``bytes.isalnum`` (ASCII letters and digits only) and the slug a ``translate`` that
    drops every other byte, which keeps what the str slug keeps: a non-ASCII character is bytes
    of 0x80 and up, all dropped. The same ids as :func:`vendor_id` (a test holds them equal).
    """
    sha256 = hashlib.sha256
    drop = _NOT_ALPHANUMERIC_BYTES
    return [raw if raw.isalnum() and len(raw) <= 64 and raw[:3] != b"bkx" else
            b"bkx" + raw.translate(None, drop)[:_SLUG_CHARS]
            + sha256(raw).hexdigest()[:HASH_CHARS].encode() for raw in raw_ids]


def job_name(key: str) -> str:
    """The ``jobName`` and ``clientRequestToken`` for a shard key.

    Both allow letters, digits and hyphens only (botocore's patterns), so other characters
    become hyphens; 8 hex digits of the key's hash keep two keys that differ only there apart.
    """
    slug = re.sub(r"[^A-Za-z0-9]+", "-", key).strip("-")[:54] or "bk"
    return f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


# -- check -----------------------------------------------------------------------------------


def check_request(request: Request, family: Family | None, model: str) -> None:
    """Raise ``InvalidRequestError`` for what the model's family would reject or lose."""
    cid = request.custom_id

    def fail(rule: str) -> NoReturn:
        raise InvalidRequestError(rule, custom_id=cid)

    if family is None:
        fail(f"bedrock model {model!r} is not in a family batchkit can encode ({known_prefixes()})"
             "; for an inference-profile or custom-model ARN set the option model_family to one "
             f"of {', '.join(FAMILIES)}")
    if family.kind != request.kind:
        wanted = "EmbedRequests" if family.kind == "embed" else "ChatRequests"
        fail(f"bedrock model {model!r} ({family.label}) takes {wanted} only")
    scoped = request.params.get("bedrock")
    given = {*request.params, *(scoped if isinstance(scoped, Mapping) else ())}
    if "stream" in given:
        fail("batch jobs reject 'stream'; remove it from params")
    if "model" in given and family.kind == "chat":
        fail("params must not set 'model'; choose it in the provider string")
    request_params(request, family)
    family.check(request, fail)
    check_capabilities(request, f"bedrock ({family.label})", family.capabilities)


def request_params(request: Request, family: Family) -> dict[str, Any]:
    """The request's raw ``params`` for a record: unscoped fields must be fields of the model
    family's own body; ``params={"bedrock": {...}}`` reaches Bedrock's records alone."""
    if not request.params:
        return {}
    from ..._registry import available_providers

    vendors = [name for name, _, _ in available_providers()]
    return vendor_params(request, "bedrock", vendors, family.body_fields)


# -- encode ----------------------------------------------------------------------------------


def encode_record(
    request: Request, record_id: str, family: Family, options: Mapping[str, Any]
) -> bytes:
    """One input line (no newline): ``{"recordId", "modelInput"}``, ``params`` merged last."""
    body = family.encode(request, options)
    body.update(request_params(request, family))
    return orjson.dumps({"recordId": record_id, "modelInput": body})


# -- status ----------------------------------------------------------------------------------

STATUS_MAP: Mapping[str, JobState] = {
    "Submitted": JobState.VALIDATING,
    "Validating": JobState.VALIDATING,
    "Scheduled": JobState.QUEUED,
    "InProgress": JobState.RUNNING,
    "Completed": JobState.COMPLETED,
    "PartiallyCompleted": JobState.EXPIRED,
    "Failed": JobState.FAILED,
    "Stopping": JobState.CANCELLING,
    "Stopped": JobState.CANCELLED,
    "Expired": JobState.EXPIRED,
}
"""Every ``ModelInvocationJobStatus`` (botocore 1.44) -> JobState. ``Submitted`` is validating
(queued *for validation*; the vendor has it, so not pending); ``PartiallyCompleted`` ("not all
of your records could be processed in time") is expired: processed records have results, the
rest are ``expired``. ``Expired`` means the job never started before its timeout."""


def map_status(job: Mapping[str, Any]) -> RemoteStatus:
    """A GetModelInvocationJob response (JSON-ready dict) -> RemoteStatus. An unknown status
    raises ``ProviderError`` rather than guessing whether the job is done."""
    status = str(job.get("status"))
    state = STATUS_MAP.get(status)
    if state is None:
        raise ProviderError(
            f"Bedrock job {job.get('jobArn')!r} has status {status!r}, which batchkit does not "
            f"know (known: {', '.join(STATUS_MAP)}); please upgrade or report it"
        )
    errors: tuple[LineError, ...] = ()
    if state is JobState.FAILED:
        errors = (LineError(None, "batch_failed", str(job.get("message") or "job failed")),)

    def count(name: str) -> int | None:
        value = job.get(name)
        return int(value) if value is not None else None

    return RemoteStatus(
        state=state, vendor_status=status, total=count("totalRecordCount"),
        succeeded=count("successRecordCount"), failed=count("errorRecordCount"),
        errors=errors, raw=dict(job),
    )
