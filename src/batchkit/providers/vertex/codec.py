"""The Vertex AI batch prediction codec: input lines, output rows, ids and job states. No I/O.

The ``GenerateContentRequest`` / ``GenerateContentResponse`` mapping is shared with the Gemini
API adapter and lives in :mod:`..gemini.codec` and :mod:`..gemini.results`; this module owns
what is Vertex's own:

* **Chat lines** are ``{"request": GenerateContentRequest}``. Vertex keeps no id column for
  Cloud Storage input, but every output row echoes its ``request``, so the request id travels in
  the request's ``labels`` (``labels.batchkit_id``), which the echo keeps.
* **Embedding lines** are text-embedding instances ``{"content", "task_type"?, "batchkit_id"}``.
  The job names ``batchkit_id`` as ``instanceConfig.keyField``: Vertex strips the key field
  before the model sees the instance and writes it back as ``key`` in place of the echoed
  ``instance``. A row that echoes ``instance`` instead is read too.
* **Output rows**: ``{"status": "", "request", "response"}`` for chat and ``{"status": "",
  "key" | "instance", "predictions": [{"embeddings": {"values", "statistics"}}]}`` for
  embeddings. A failed row carries its error as text in ``status``
  (``'Bad Request: {"error": {...}}'``) and an empty response.
* **Ids** sent as label values must be lowercase letters, digits, ``_`` or ``-``, at most 63
  characters (the ``GenerateContentRequest.labels`` rule); :func:`vendor_id` maps any id to one.
* **States**: ``JOB_STATE_*`` through :func:`..gemini.results.map_job_state`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np
import orjson

from ..._exceptions import InvalidRequestError, ProviderError
from ..._requests import ChatRequest, EmbedRequest, Request
from ..._results import ErrorInfo, Result, Usage
from ..._state import JobState
from .._capabilities import NO_MODERATION
from .._ids import escaped_id
from ..base import LineError, RemoteStatus
from ..gemini.codec import (
    EMBED_TASK_TYPES,
    Dialect,
    chat_params,
    check_chat_request,
    check_embed_request,
    encode_generate_content_request,
)
from ..gemini.results import decode_generate_content_response, error_result, map_job_state

__all__ = [
    "ID_LABEL",
    "JOB_LABEL",
    "KEY_FIELD",
    "KEY_LABEL",
    "MAX_EMBEDDING_DIMENSIONS",
    "VERTEX",
    "check_request",
    "decode_line",
    "dimensions_of",
    "encode_request",
    "group_of",
    "identity_of",
    "is_embedding_model",
    "label_value",
    "map_status",
    "request_identity",
    "vendor_id",
]

ID_LABEL = "batchkit_id"
"""The request label (chat) that carries the request's vendor id."""
KEY_FIELD = "batchkit_id"
"""The instance field (embeddings) that carries it; named as the job's ``keyField``."""
KEY_LABEL = "batchkit_key"
"""The job label that carries the shard's idempotency key."""
JOB_LABEL = "batchkit_job"
"""The job label that carries the batchkit job id (to find a job's batches in the console)."""

MAX_EMBEDDING_DIMENSIONS = 768
"""The largest ``outputDimensionality`` of the text-embedding models (their full size)."""



@cache
def vertex_request_fields() -> frozenset[str]:
    """Vertex AI's ``GenerateContentRequest`` fields, from its SDK's proto
    (``aiplatform_v1.GenerateContentRequest``), by JSON and proto name; ``model`` and
    ``contents`` aside (batchkit writes them)."""
    from google.cloud.aiplatform_v1 import GenerateContentRequest

    fields = GenerateContentRequest.pb().DESCRIPTOR.fields
    names = {f.json_name for f in fields} | {f.name for f in fields}
    return frozenset(names - {"model", "contents"})


VERTEX = Dialect("vertex", call_ids=False, request_fields=vertex_request_fields)
"""Vertex AI's ``FunctionCall`` / ``FunctionResponse`` have no ``id`` (aiplatform_v1 proto)."""

_LABEL = re.compile(r"^[a-z0-9_-]{1,63}$")
_SLUG_CHARS = 26
_STATUS_JSON = re.compile(r"\{.*\}", re.DOTALL)


def vendor_id(custom_id: str) -> str:
    """A label value standing for ``custom_id``: deterministic and collision-free.

    An id that already is a valid label value (and does not start with the escape prefix) is
    sent unchanged; any other becomes ``bk--<slug>-<32 hex of its SHA-256>`` (63 characters at
    most). The shard's request index maps it back, so results return under the caller's ids.
    """
    return escaped_id(custom_id, accepted=_LABEL.match,
                      slug=lambda cid: re.sub(r"[^a-z0-9_]", "_", cid.lower())[:_SLUG_CHARS])


label_value = vendor_id
"""Job labels (the shard key, the job id) follow the same value rules."""


def is_embedding_model(model: str) -> bool:
    """Vertex's embedding models are the ``*embedding*`` ones (``text-embedding-005``,
    ``text-multilingual-embedding-002``); every other model takes ``GenerateContentRequest``."""
    return "embedding" in model.rsplit("/", 1)[-1]


def group_of(request: Request) -> str:
    """Chat, or embeddings by output dimension: a job has one ``modelParameters``, so
    embeddings asking for different dimensions cannot share a job."""
    if isinstance(request, EmbedRequest) and request.dimensions is not None:
        return f"embed-{request.dimensions}"
    return request.kind


def dimensions_of(group: str) -> int | None:
    """The ``outputDimensionality`` a shard of ``group`` asks for, if any."""
    _, _, dims = group.partition("embed-")
    return int(dims) if dims.isdigit() else None


# -- encode ----------------------------------------------------------------------------------


def check_request(request: Request, model: str) -> None:
    """Refuse, before sending, what the job could not run: a request kind the model does not
    take, explicit caching (batch does not support it), labels that would clash with the id
    label, and what :mod:`..gemini.codec` refuses."""
    embedding_model = is_embedding_model(model)
    if isinstance(request, ChatRequest):
        if embedding_model:
            raise InvalidRequestError(
                f"vertex model {model!r} is an embedding model; chat requests need a "
                "Gemini model (e.g. vertex:gemini-2.5-flash)", custom_id=request.custom_id)
        check_chat_request(request, VERTEX, model)
        params = chat_params(request, VERTEX)
        if "cachedContent" in params or "cached_content" in params:
            raise InvalidRequestError(
                "Vertex AI batch prediction does not support explicit context caching "
                "(params.cachedContent); implicit caching still applies",
                custom_id=request.custom_id)
        labels = params.get("labels", {})
        if not isinstance(labels, Mapping) or ID_LABEL in labels:
            raise InvalidRequestError(
                f"params.labels must be an object without the key {ID_LABEL!r}, which "
                "batchkit uses to carry the request id", custom_id=request.custom_id)
        return
    if not isinstance(request, EmbedRequest):
        raise InvalidRequestError(f"vertex: {NO_MODERATION}", custom_id=request.custom_id)
    if not embedding_model:
        raise InvalidRequestError(
            f"vertex model {model!r} does not embed; embedding requests need an embedding "
            "model (e.g. vertex:text-embedding-005)", custom_id=request.custom_id)
    if model.rsplit("/", 1)[-1].startswith("gemini-embedding"):
        raise InvalidRequestError(
            f"vertex model {model!r} has no batch prediction (Google lists every stable "
            "text-embedding model except gemini-embedding-001); use text-embedding-005",
            custom_id=request.custom_id)
    check_embed_request(request)
    if request.dimensions is not None and request.dimensions > MAX_EMBEDDING_DIMENSIONS:
        raise InvalidRequestError(
            f"dimensions must be at most {MAX_EMBEDDING_DIMENSIONS} for Vertex AI "
            f"text-embedding models, not {request.dimensions}", custom_id=request.custom_id)
    if KEY_FIELD in request.params:
        raise InvalidRequestError(f"params must not set {KEY_FIELD!r}, which batchkit uses to "
                                  "carry the request id", custom_id=request.custom_id)


def encode_request(request: Request, vid: str) -> bytes:
    """One input line (no newline) for ``request``, carrying ``vid``."""
    if isinstance(request, ChatRequest):
        body = encode_generate_content_request(request, VERTEX)
        body["labels"] = {**body.get("labels", {}), ID_LABEL: vid}
        return orjson.dumps({"request": body})
    assert isinstance(request, EmbedRequest)  # moderation: refused by the capability table
    instance: dict[str, Any] = {"content": request.text}
    if request.input_type is not None:
        instance["task_type"] = EMBED_TASK_TYPES[request.input_type]
    instance.update(request.params)
    instance[KEY_FIELD] = vid
    return orjson.dumps(instance)


# -- decode ----------------------------------------------------------------------------------


def decode_line(line: bytes) -> Result:
    """One ``predictions.jsonl`` row -> a Result under its vendor id.

    A row without batchkit's id (a job batchkit did not write) is filed under
    :func:`request_identity` of its echoed request. Raises ``ValueError`` for a row that is
    not a prediction row at all.

    Only an embedding row's ``key`` is read without decoding (``VertexAdapter.row_id_key``):
    a chat row's id is in ``request.labels``, after the echoed contents, or is the hash of
    the whole echo, and either takes decoding the row.
    """
    try:
        row = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not a JSON line: {exc}") from None
    if not isinstance(row, dict):
        raise ValueError("not a Vertex AI prediction row (not an object)")
    status = row.get("status")
    if "request" in row:
        vid = _chat_id(row["request"])
        if status:
            return error_result(vid, _status_error(str(status)), raw=row)
        return decode_generate_content_response(vid, row.get("response") or {}, raw=row)
    vid = _embed_id(row)
    if status:
        return error_result(vid, _status_error(str(status)), raw=row)
    return _embedding_result(vid, row)


def _chat_id(request: Any) -> str:
    """The row's ``labels.batchkit_id``; a row of a job batchkit did not write has none and is
    filed under its echoed request's :func:`request_identity` instead (never dropped)."""
    if not isinstance(request, dict):
        raise ValueError("a Vertex AI prediction row whose 'request' is not an object")
    labels = request.get("labels")
    vid = labels.get(ID_LABEL) if isinstance(labels, dict) else None
    return vid if isinstance(vid, str) else request_identity(request, ID_LABEL)


def _embed_id(row: dict[str, Any]) -> str:
    vid = row.get("key")
    instance = row.get("instance")
    if vid is None and isinstance(instance, dict):
        vid = instance.get(KEY_FIELD)
        if vid is None:
            return request_identity(instance, KEY_FIELD)
    if not isinstance(vid, str):
        raise ValueError("a Vertex AI prediction row with neither 'request', 'key' nor "
                         "'instance'")
    return vid


IDENTITY_PREFIX = "request-sha256-"
"""Starts the key of a row that carries no id (see :func:`request_identity`)."""


def request_identity(echo: Mapping[str, Any], id_field: str) -> str:
    """A stable key for a request echoed in an output row: the SHA-256 of its JSON with keys
    sorted, batchkit's own id field left out (``labels.batchkit_id`` or the instance's
    ``batchkit_id``), so the echo of a line batchkit wrote and of the same request written by
    anyone else give one key. Vertex writes no id into rows of Cloud Storage input; this is how
    such a row finds its request (``VertexAdapter.row_keys`` makes the same key from it).
    Fields set to null are left out: the echo spells an unset field (``"fileData": null``)
    where the line that was sent had none."""
    body = {k: _without_nulls(v) for k, v in echo.items() if k != id_field and v is not None}
    labels = body.get("labels")
    if isinstance(labels, dict):
        labels = {k: v for k, v in labels.items() if k != id_field}
        if labels:
            body["labels"] = labels
        else:
            del body["labels"]
    digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return IDENTITY_PREFIX + digest[:32]


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def identity_of(request: Request, vid: str) -> str:
    """:func:`request_identity` of the line :func:`encode_request` writes for ``request``."""
    line = orjson.loads(encode_request(request, vid))
    if isinstance(request, ChatRequest):
        return request_identity(line["request"], ID_LABEL)
    return request_identity(line, KEY_FIELD)


def _status_error(status: str) -> Any:
    """The ``status`` text of a failed row: usually ``'<reason>: {"error": {...}}'``; the JSON
    part when it parses, else the text itself (then the code is ``unknown_error``)."""
    found = _STATUS_JSON.search(status)
    if found is not None:
        try:
            parsed = orjson.loads(found.group(0))
        except orjson.JSONDecodeError:
            return status
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            parsed["error"].setdefault("message", status)
            return parsed
    return status


def _embedding_result(vid: str, row: dict[str, Any]) -> Result:
    predictions = row.get("predictions")
    first = predictions[0] if isinstance(predictions, list) and predictions else None
    embeddings = first.get("embeddings") if isinstance(first, dict) else None
    values = embeddings.get("values") if isinstance(embeddings, dict) else None
    if not isinstance(values, list) or not values:
        return Result(vid, "errored", raw=row, error=ErrorInfo(
            "no_embedding", "the prediction has no embedding values"))
    statistics = embeddings.get("statistics") if isinstance(embeddings, dict) else None
    tokens = statistics.get("token_count") if isinstance(statistics, dict) else None
    usage = Usage(input_tokens=int(tokens)) if isinstance(tokens, (int, float)) else None
    return Result(vid, "succeeded", embedding=np.asarray(values, dtype=np.float32),
                  usage=usage, raw=row)


# -- status ----------------------------------------------------------------------------------


def map_status(job: Mapping[str, Any]) -> RemoteStatus:
    """A ``BatchPredictionJob`` (REST JSON, enum names) -> RemoteStatus.

    Counts come from ``completionStats`` (int64 fields arrive as strings); ``incompleteCount``
    rows are counted as failed. A failed job's ``error`` becomes its one batch error. An
    unknown state raises ``ProviderError``: guessing could collect a job before it is done.
    """
    vendor_state = str(job.get("state") or "JOB_STATE_UNSPECIFIED")
    state = map_job_state(vendor_state)
    if state is None:
        raise ProviderError(
            f"Vertex AI job {job.get('name')!r} is in state {vendor_state!r}, which batchkit "
            "does not know; please upgrade or report it")
    stats = job.get("completionStats") or {}
    succeeded, failed, incomplete = (int(stats.get(k) or 0) for k in (
        "successfulCount", "failedCount", "incompleteCount"))
    error = job.get("error") or {}
    errors: tuple[LineError, ...] = ()
    if state == JobState.FAILED and error.get("message"):
        # error_result names a google.rpc code the way row errors are named.
        info = error_result("", {"code": error.get("code"), "message": error["message"]}).error
        assert info is not None
        errors = (LineError(None, info.code, info.message),)
    return RemoteStatus(
        state=state,
        vendor_status=vendor_state,
        total=succeeded + failed + incomplete if stats else None,
        succeeded=succeeded if stats else None,
        failed=failed + incomplete if stats else None,
        errors=errors,
        raw=dict(job),
    )
