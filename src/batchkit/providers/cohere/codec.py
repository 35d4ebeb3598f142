"""Cohere's batch formats: Embed Jobs datasets and Batches API lines. Pure: no SDK, no I/O.

Cohere runs embeddings as **Embed Jobs** over an uploaded ``embed-input`` dataset and chat as
**Batches** (``/v2/batches``) over a ``batch-chat-v2-input`` dataset. Results come back as an
output dataset whose Avro records the adapter turns into JSON lines; this module reads those
(chat bodies and chat records themselves are spelt and read by :mod:`.chat`).

Why JSONL (not CSV) for ``embed-input``: metadata keeps its types (numbers, booleans), texts with
commas, quotes and newlines need no escaping rules, and one request is one line, which is what
the planner writes and counts. Each line is ``{"text", "batchkit_id", <metadata fields>}``: the
id travels as a kept field so results never depend on the output order (Cohere promises the
input order, but batchkit does not lean on a promise it can check for free).

Facts: Cohere's API reference (``CreateEmbedJobRequest``, ``EmbedJob``, ``Dataset``, ``Batch``,
``/v2/chat``; https://docs.cohere.com/reference/create-embed-job), the ``cohere`` SDK 7.3.1 and
the Embed Jobs guide, https://docs.cohere.com/docs/embed-jobs-api.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

import numpy as np
import orjson

from ..._exceptions import InvalidRequestError, ProviderError
from ..._requests import ChatRequest, EmbedRequest, ModerationRequest, Request
from ..._results import ErrorInfo, Result, Usage
from ..._state import JobState
from .._capabilities import NO_MODERATION
from .._lines import load_line
from ..base import LineError, RemoteStatus
from .chat import check_chat, decode_chat_record, encode_chat

__all__ = [
    "BATCH_STATUSES",
    "EMBEDDING_DTYPES",
    "EMBED_JOB_STATUSES",
    "ID_FIELD",
    "MODEL_DIMENSIONS",
    "check_chat",
    "check_embed",
    "check_request",
    "dataset_fields",
    "decode_line",
    "encode_chat",
    "encode_embed",
    "map_batch",
    "map_embed_job",
    "text_identity",
]

ID_FIELD = "batchkit_id"
"""The kept dataset field that carries each request's (vendor) id through an embed job."""
RESERVED_FIELDS = frozenset({"text", "embeddings", "meta", ID_FIELD})
"""Field names an output record uses itself, so metadata may not take them (``meta``: what a
real-time answer adds, its billed tokens or its error; see :mod:`.realtime`)."""
EMBEDDING_DTYPES: Mapping[str, type[np.generic]] = {
    "float": np.float32, "int8": np.int8, "uint8": np.uint8,
    "binary": np.int8, "ubinary": np.uint8,
}
"""The embedding types an embed job takes, and the numpy type of each (the binary ones are
bit-packed: one value per 8 dimensions, signed for ``binary``)."""
MODEL_DIMENSIONS: Mapping[str, int] = {
    "embed-english-v3.0": 1024, "embed-multilingual-v3.0": 1024,
    "embed-english-light-v3.0": 384, "embed-multilingual-light-v3.0": 384,
    "embed-v4.0": 1536,
}
"""Output sizes: the spec's ``CreateEmbedJobRequest.model`` list; embed-v4.0's default size from
Cohere's model docs (an embed job has no ``output_dimension``)."""
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
"""Dataset records are Avro records, and Avro field names follow this rule."""

EMBED_JOB_STATUSES: Mapping[str, JobState] = {
    "processing": JobState.RUNNING,
    "complete": JobState.COMPLETED,
    "cancelling": JobState.CANCELLING,
    "cancelled": JobState.CANCELLED,
    "failed": JobState.FAILED,
}
"""The five ``EmbedJob.status`` values of the spec and SDK."""
BATCH_STATUSES: Mapping[str, JobState] = {
    "BATCH_STATUS_UNSPECIFIED": JobState.QUEUED,
    "BATCH_STATUS_QUEUED": JobState.QUEUED,
    "BATCH_STATUS_IN_PROGRESS": JobState.RUNNING,
    "BATCH_STATUS_CANCELING": JobState.CANCELLING,
    "BATCH_STATUS_COMPLETED": JobState.COMPLETED,
    "BATCH_STATUS_FAILED": JobState.FAILED,
    "BATCH_STATUS_CANCELED": JobState.CANCELLED,
    "BATCH_STATUS_CANCELLED": JobState.CANCELLED,
}
"""``BatchStatus`` (spec). ``UNSPECIFIED`` is the enum's zero value, read as not started yet;
``CANCELLED`` (double L) is not in the enum but is what Cohere's own batch notebook polls for,
so it is accepted rather than stalling a job."""

# -- embeddings: check and encode ------------------------------------------------------------


def check_embed(
    request: EmbedRequest, model: str, *, keep_fields: Iterable[str] = (),
    send_metadata: bool = True,
) -> None:
    """Refuse what an embed-input dataset or an embed job cannot carry, before anything is sent."""
    cid = request.custom_id

    def fail(rule: str) -> NoReturn:
        raise InvalidRequestError(rule, custom_id=cid)

    if request.params:
        fail("Cohere embed jobs take no per-request params; set embedding_types and truncate "
             "as provider options")
    if request.dimensions is not None and request.dimensions != MODEL_DIMENSIONS.get(model):
        native = MODEL_DIMENSIONS.get(model)
        fail(f"Cohere embed jobs have no output dimension setting; {model} gives "
             + (f"{native} dimensions, not {request.dimensions}" if native else
                f"a size batchkit does not know, so dimensions={request.dimensions} cannot be "
                "promised") + " (leave dimensions unset)")
    for name in keep_fields:
        if request.metadata.get(name) is None:
            fail(f"metadata has no {name!r}, which the keep_fields option requires on every row")
    if not send_metadata:
        return
    for key in request.metadata:
        if key in RESERVED_FIELDS:
            fail(f"metadata key {key!r} is reserved in Cohere datasets; rename it")
        if not _FIELD_NAME.match(key):
            fail(f"metadata key {key!r} cannot be a Cohere dataset field (letters, digits and "
                 "'_', not starting with a digit); rename it or pass the option "
                 "send_metadata=False")


def encode_embed(request: EmbedRequest, vendor_id: str, *, send_metadata: bool = True) -> bytes:
    """One ``embed-input`` JSONL line. Metadata values that are lists or objects travel as JSON
    text (Avro fields are typed; batchkit restores the caller's own values in any case), and
    ``None`` values are left out, so the field is optional rather than null."""
    row: dict[str, Any] = {"text": request.text, ID_FIELD: vendor_id}
    if send_metadata:
        for key, value in request.metadata.items():
            if value is None:
                continue
            row[key] = orjson.dumps(value).decode() if isinstance(value, (list, dict)) else value
    return orjson.dumps(row)


def dataset_fields(
    rows: Iterable[Mapping[str, Any]], *, keep: Iterable[str] = (), optional: Iterable[str] = ()
) -> tuple[list[str], list[str]]:
    """``(keep_fields, optional_fields)`` for an embed-input dataset of ``rows``.

    A field on every row is kept (validation then guarantees it), one on only some rows is
    optional (Cohere skips it where missing). The caller may force fields either way: a forced
    ``keep`` field missing from a row raises ``InvalidRequestError`` naming the row, because
    Cohere would fail the whole dataset's validation for it after the upload.
    """
    forced_keep, forced_optional = list(keep), set(optional)
    counts: dict[str, int] = {}
    total = 0
    for line, row in enumerate(rows, start=1):
        total += 1
        for name in forced_keep:
            if row.get(name) is None:
                who = row.get(ID_FIELD)
                raise InvalidRequestError(
                    f"no {name!r}, which keep_fields requires on every row",
                    custom_id=who if isinstance(who, str) else None, line=line,
                )
        for name, value in row.items():
            if name != "text" and value is not None:
                counts[name] = counts.get(name, 0) + 1
    kept = {n for n, c in counts.items() if c == total and n not in forced_optional}
    kept.update(forced_keep)
    optional_fields = {n for n in counts if n not in kept} | (forced_optional - kept)
    return sorted(kept), sorted(optional_fields)


# -- both ------------------------------------------------------------------------------------


def check_request(request: Request, model: str, options: Mapping[str, Any]) -> None:
    """Dispatch to :func:`check_chat` / :func:`check_embed` with the adapter's options."""
    if isinstance(request, ModerationRequest):
        raise InvalidRequestError(f"cohere: {NO_MODERATION}", custom_id=request.custom_id)
    if isinstance(request, ChatRequest):
        check_chat(request)
    else:
        check_embed(request, model, keep_fields=options.get("keep_fields") or (),
                    send_metadata=bool(options.get("send_metadata", True)))


# -- decode ----------------------------------------------------------------------------------


def decode_line(line: bytes | str) -> Result:
    """One output-dataset record (as a JSON line) -> a Result whose ``custom_id`` is the vendor id.

    Embed-job records are ``{"text", "embeddings": {type: vector | null}, <kept fields>}``; batch
    records are ``{"custom_id", "body", "error"}``. Raises ``ValueError`` for anything else.
    """
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not a JSON line: {exc}") from None
    if isinstance(obj, dict) and "embeddings" in obj:
        return _embedding_record(obj)
    obj, cid = load_line(line, "Cohere batch output")
    return decode_chat_record(cid, obj)


IDENTITY_PREFIX = "text-sha256-"
"""Starts the key of an embed-job record that carries no ``batchkit_id``."""


def text_identity(text: str) -> str:
    """A stable key for an embed-job output record of a job batchkit did not write: Cohere
    keeps only the fields of the input dataset, so such a record has no id, and is found by
    the SHA-256 of its ``text`` (``CohereAdapter.row_keys`` makes the same key from a
    request)."""
    return IDENTITY_PREFIX + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _embedding_record(obj: dict[str, Any]) -> Result:
    cid = obj.get(ID_FIELD)
    if cid is None and isinstance(obj.get("text"), str):
        cid = text_identity(obj["text"])  # an embed job batchkit did not write
    if not isinstance(cid, str):
        raise ValueError(f"embed job record without a string {ID_FIELD!r} or 'text' field")
    found = obj["embeddings"]
    if not isinstance(found, dict):
        raise ValueError(f"record for {cid!r}: 'embeddings' is not an object")
    vectors: dict[str, np.ndarray] = {}
    for kind, values in found.items():
        if values is None:
            continue
        if kind not in EMBEDDING_DTYPES or not isinstance(values, list):
            raise ValueError(f"record for {cid!r}: unexpected embedding {kind!r}")
        vectors[kind] = np.asarray(values, dtype=EMBEDDING_DTYPES[kind])
    metadata = {k: v for k, v in obj.items() if k not in RESERVED_FIELDS and v is not None}
    raw = {k: v for k, v in obj.items() if k != "embeddings"}
    answer = obj.get("meta")  # a real-time answer's billed tokens, or its error
    meta: dict[str, Any] = answer if isinstance(answer, dict) else {}
    if not vectors:
        refused = meta.get("error")
        return Result(cid, "errored", metadata=metadata, raw=raw, error=ErrorInfo(
            "request_failed", str(refused)) if refused else ErrorInfo(
            "empty_embedding", "the output record holds no embedding of any type"))
    tokens = (meta.get("billed_units") or {}).get("input_tokens")
    usage = Usage(input_tokens=int(tokens)) if isinstance(tokens, (int, float)) else None
    return Result(cid, "succeeded", embedding=vectors.get("float"), embeddings_by_type=vectors,
                  metadata=metadata, usage=usage, raw=raw)


# -- status ----------------------------------------------------------------------------------


def _state(statuses: Mapping[str, JobState], status: Any, what: str, ident: Any) -> JobState:
    """Map a status; an unknown one raises: guessing could collect a job before it is done."""
    if not isinstance(status, str) or status not in statuses:
        raise ProviderError(
            f"{what} {ident!r} has status {status!r}, which batchkit does not know (known: "
            f"{', '.join(statuses)}); please upgrade or report it"
        )
    return statuses[status]


def map_embed_job(job: Mapping[str, Any]) -> RemoteStatus:
    """An ``EmbedJob`` (as a dict) -> RemoteStatus. Embed jobs report no counts."""
    status = job.get("status")
    state = _state(EMBED_JOB_STATUSES, status, "embed job", job.get("job_id"))
    errors: tuple[LineError, ...] = ()
    if state == JobState.FAILED:
        errors = (LineError(None, "embed_job_failed",
                            f"Cohere embed job {job.get('job_id')} failed"),)
    return RemoteStatus(state=state, vendor_status=str(status), errors=errors, raw=dict(job))


def map_batch(batch: Mapping[str, Any]) -> RemoteStatus:
    """A ``Batch`` (as a dict) -> RemoteStatus with its record counts."""
    status = batch.get("status") or "BATCH_STATUS_UNSPECIFIED"
    state = _state(BATCH_STATUSES, status, "batch", batch.get("id"))
    errors: tuple[LineError, ...] = ()
    if state == JobState.FAILED:
        errors = (LineError(None, "batch_failed",
                            str(batch.get("status_reason") or "Cohere failed the batch")),)
    return RemoteStatus(
        state=state, vendor_status=str(status), total=batch.get("num_records"),
        succeeded=batch.get("num_successful_records"), failed=batch.get("num_failed_records"),
        errors=errors, raw=dict(batch),
    )
