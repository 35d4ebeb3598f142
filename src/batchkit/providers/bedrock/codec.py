"""The Bedrock batch inference codec: model families, record lines, output lines, job status.

No I/O. A Bedrock batch job reads one JSONL file from S3 whose lines are
``{"recordId", "modelInput"}``; ``modelInput`` is the InvokeModel request body *of the model's
own family*, so the codec first works out the family from the model id, then encodes:

* **Anthropic Claude** (``anthropic.claude-*``): the Messages body with
  ``anthropic_version: bedrock-2023-05-31`` and no ``model`` key;
* **Amazon Nova** (``amazon.nova-*`` understanding models): ``messages`` of content blocks,
  ``system`` blocks and ``inferenceConfig``;
* **Amazon Titan Text Embeddings** (``amazon.titan-embed-text-v1`` / ``-v2:0``): ``inputText``.

Output lines are ``{"recordId", "modelInput", "modelOutput"}`` or, for a failed record,
``{"recordId", "modelInput", "error": {"errorCode", "errorMessage"}}``. ``decode_line`` reads
``modelOutput`` by its *shape*, not by a model id, so ``bk.decode`` works without one.

Facts: botocore's ``bedrock`` / ``bedrock-runtime`` service models, the Bedrock user guide pages
https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-data.html and
batch-inference-results.html, the Nova request schema pages; see providers.md.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np
import orjson

from ..._exceptions import InvalidRequestError, ProviderError
from ..._requests import (
    ChatRequest,
    DocumentPart,
    EmbedRequest,
    ImagePart,
    Message,
    Request,
    TextPart,
)
from ..._results import ErrorInfo, Result, Usage
from ..._state import JobState
from .._ids import escaped_id
from .._lines import load_line
from ..anthropic.messages import DEFAULT_MAX_TOKENS, decode_message, encode_message
from ..base import LineError, RemoteStatus

__all__ = [
    "ANTHROPIC_VERSION",
    "FAMILIES",
    "STATUS_MAP",
    "Family",
    "check_request",
    "decode_line",
    "encode_record",
    "family_of",
    "job_name",
    "map_status",
    "vendor_id",
]

ANTHROPIC_VERSION = "bedrock-2023-05-31"
TOOL_NAME = "respond"
"""The forced tool that carries a ``response_model``'s reply (Claude and Nova alike)."""


@dataclass(frozen=True)
class Family:
    """A model family: how its InvokeModel body looks and what it accepts."""

    name: str
    kind: str
    """The request kind it serves: ``chat`` or ``embed``."""
    label: str


CLAUDE = Family("claude", "chat", "Anthropic Claude")
NOVA = Family("nova", "chat", "Amazon Nova")
TITAN_EMBED_V2 = Family("titan-embed-v2", "embed", "Amazon Titan Text Embeddings V2")
TITAN_EMBED_V1 = Family("titan-embed-v1", "embed", "Amazon Titan Text Embeddings G1")
FAMILIES = {f.name: f for f in (CLAUDE, NOVA, TITAN_EMBED_V2, TITAN_EMBED_V1)}

_ARN_MODEL = re.compile(
    r"^arn:aws[^:]*:bedrock:[^:]*:[^:]*:(?:foundation-model|inference-profile)/")
_GEO_PREFIX = re.compile(r"^(?:us|us-gov|eu|apac|jp|au|ca|global)\.")
_PREFIXES = (
    ("anthropic.claude", CLAUDE),
    ("amazon.titan-embed-text-v2", TITAN_EMBED_V2),
    ("amazon.titan-embed-text-v1", TITAN_EMBED_V1),
    ("amazon.titan-embed-g1-text", TITAN_EMBED_V1),
)
_NOVA_CHAT = re.compile(r"^amazon\.nova-(?:2-)?(?:micro|lite|pro|premier)")
"""Nova understanding models; canvas, reel, sonic and the multimodal embeddings are not chat."""


def family_of(model: str, override: str | None = None) -> Family | None:
    """The family of a model id, cross-region profile id or foundation-model ARN (None: unknown).

    Application inference profiles and custom models have opaque ARNs: ``override`` (the
    ``model_family`` option) names the family for those.
    """
    if override:
        return FAMILIES.get(override)
    base = _GEO_PREFIX.sub("", _ARN_MODEL.sub("", model))
    if _NOVA_CHAT.match(base):
        return NOVA
    return next((family for prefix, family in _PREFIXES if base.startswith(prefix)), None)


# -- ids -------------------------------------------------------------------------------------

_RECORD_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
"""The documented recordId is an "alphanumeric string": ids like that are sent unchanged."""
_ESCAPE = "bkx"


def vendor_id(custom_id: str) -> str:
    """An alphanumeric ``recordId`` for ``custom_id``, deterministic and collision-free.

    Alphanumeric ids (not starting with ``bkx``) stay as they are; any other id becomes ``bkx``,
    up to 16 of its letters and digits, and 32 hex digits of its SHA-256 (what makes it unique).
    """
    return escaped_id(custom_id, accepted=_RECORD_ID.match, escape=_ESCAPE, separator="",
                      slug=lambda cid: re.sub(r"[^A-Za-z0-9]", "", cid)[:16])


def job_name(key: str) -> str:
    """The ``jobName`` and ``clientRequestToken`` for a shard key.

    Both allow letters, digits and hyphens only (botocore's patterns), so other characters
    become hyphens; 8 hex digits of the key's hash keep two keys that differ only there apart.
    """
    slug = re.sub(r"[^A-Za-z0-9]+", "-", key).strip("-")[:54] or "bk"
    return f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


# -- check -----------------------------------------------------------------------------------

_IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg",
                  "image/gif": "gif", "image/webp": "webp"}
_DATA_URL = re.compile(r"^data:(?P<type>[^;,]+);base64,(?P<data>.*)$", re.DOTALL)
_TITAN_V2_DIMENSIONS = (256, 512, 1024)


def check_request(request: Request, family: Family | None, model: str) -> None:
    """Raise ``InvalidRequestError`` for what the model's family would reject or lose."""
    cid = request.custom_id

    def fail(rule: str) -> NoReturn:
        raise InvalidRequestError(rule, custom_id=cid)

    if family is None:
        fail(f"bedrock model {model!r} is not in a family batchkit can encode (Anthropic Claude "
             "'anthropic.claude-*', Amazon Nova 'amazon.nova-*', Amazon Titan Text Embeddings "
             "'amazon.titan-embed-text-*'); for an inference-profile or custom-model ARN set the "
             f"option model_family to one of {', '.join(FAMILIES)}")
    if family.kind != request.kind:
        wanted = "EmbedRequests" if family.kind == "embed" else "ChatRequests"
        fail(f"bedrock model {model!r} ({family.label}) takes {wanted} only")
    if "stream" in request.params:
        fail("batch jobs reject 'stream'; remove it from params")
    if isinstance(request, EmbedRequest):
        _check_embed(request, family, fail)
    else:
        _check_chat(request, family, fail)


def _check_embed(
    request: EmbedRequest, family: Family, fail: Callable[[str], NoReturn]
) -> None:
    if request.dimensions is None:
        return
    if family is TITAN_EMBED_V1:
        fail("amazon.titan-embed-text-v1 has a fixed 1536 dimensions; remove 'dimensions'")
    if request.dimensions not in _TITAN_V2_DIMENSIONS:
        fail(f"Titan Text Embeddings V2 takes dimensions 256, 512 or 1024, not "
             f"{request.dimensions}")


def _check_chat(
    request: ChatRequest, family: Family, fail: Callable[[str], NoReturn]
) -> None:
    if "model" in request.params:
        fail("params must not set 'model'; choose it in the provider string")
    if request.temperature is not None and request.temperature > 1:
        fail(f"{family.label} takes temperature between 0 and 1")
    if request.seed is not None:
        fail(f"{family.label} on Bedrock has no 'seed'; remove it for this provider")
    taken = ("tools", "tool_choice") if family is CLAUDE else ("toolConfig",)
    if request.response_model is not None and any(k in request.params for k in taken):
        fail(f"params {'/'.join(taken)} would replace the tool that carries the response_model")
    for message in request.messages:
        for part in _parts(message):
            if not isinstance(part, ImagePart):
                continue
            if message.role != "user":
                fail(f"images are only allowed in user messages, not {message.role!r} ones")
            media_type, _ = _image_data(part)
            if media_type is None:
                fail("Bedrock takes images as base64 data (a data: URL or data=...), "
                     "not a link; download the image first")
            if media_type not in _IMAGE_FORMATS:
                fail(f"image type {media_type!r} is not one of png, jpeg, gif, webp")


def _parts(message: Message) -> list[TextPart | ImagePart | DocumentPart]:
    return message.parts


def _image_data(part: ImagePart) -> tuple[str | None, str]:
    """``(media type, base64 data)`` of an inline image; ``(None, "")`` for a link."""
    if part.url is None:
        return str(part.media_type), str(part.data)
    inline = _DATA_URL.match(part.url)
    return (inline["type"], inline["data"]) if inline else (None, "")


# -- encode ----------------------------------------------------------------------------------


def encode_record(
    request: Request, record_id: str, family: Family, options: Mapping[str, Any]
) -> bytes:
    """One input line (no newline): ``{"recordId", "modelInput"}``, ``params`` merged last."""
    if isinstance(request, EmbedRequest):
        body: dict[str, Any] = {"inputText": request.text}
        _put(body, "dimensions", request.dimensions)
    elif family is CLAUDE:
        body = _claude_body(request, options)
    else:
        body = _nova_body(request, options)
    body.update(request.params)
    return orjson.dumps({"recordId": record_id, "modelInput": body})


def _max_tokens(request: ChatRequest, options: Mapping[str, Any]) -> int:
    return request.max_tokens or int(options.get("max_tokens") or DEFAULT_MAX_TOKENS)


def _schema(request: ChatRequest) -> dict[str, Any] | None:
    model = request.response_model
    return None if model is None else model.model_json_schema()


def _claude_body(request: ChatRequest, options: Mapping[str, Any]) -> dict[str, Any]:
    """The Messages body; a ``response_model`` becomes a forced ``respond`` tool, which every
    Claude 3+ model on Bedrock supports (``output_config.format`` only Claude 4.5+)."""
    body: dict[str, Any] = {
        "anthropic_version": ANTHROPIC_VERSION,
        "max_tokens": _max_tokens(request, options),
        "messages": [encode_message(m) for m in request.messages if m.role != "system"],
    }
    _put(body, "system", request.system)
    _put(body, "temperature", request.temperature)
    _put(body, "top_p", request.top_p)
    _put(body, "stop_sequences", request.stop)
    schema = _schema(request)
    if schema is not None:
        body["tools"] = [{"name": TOOL_NAME, "description": "Reply with this tool's input.",
                          "input_schema": schema}]
        body["tool_choice"] = {"type": "tool", "name": TOOL_NAME}
    return body


def _nova_body(request: ChatRequest, options: Mapping[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {"maxTokens": _max_tokens(request, options)}
    _put(config, "temperature", request.temperature)
    _put(config, "topP", request.top_p)
    _put(config, "stopSequences", request.stop)
    body: dict[str, Any] = {
        "messages": [{"role": m.role, "content": _nova_content(m)}
                     for m in request.messages if m.role != "system"],
        "inferenceConfig": config,
    }
    if request.system is not None:
        body["system"] = [{"text": request.system}]
    schema = _schema(request)
    if schema is not None:
        body["toolConfig"] = {
            "tools": [{"toolSpec": {"name": TOOL_NAME,
                                    "description": "Reply with this tool's input.",
                                    "inputSchema": {"json": schema}}}],
            "toolChoice": {"tool": {"name": TOOL_NAME}},
        }
    return body


def _nova_content(message: Message) -> list[dict[str, Any]]:
    if isinstance(message.content, str):
        return [{"text": message.content}]
    blocks: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, ImagePart):
            media_type, data = _image_data(part)
            blocks.append({"image": {"format": _IMAGE_FORMATS.get(str(media_type), "png"),
                                     "source": {"bytes": data}}})
        elif isinstance(part, TextPart):
            blocks.append({"text": part.text})
    return blocks


def _put(body: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        body[key] = value


# -- decode ----------------------------------------------------------------------------------

_ERROR_CODES = {
    400: ("validation_error", False), 403: ("access_denied", False),
    404: ("resource_not_found", False), 408: ("model_timeout", True),
    424: ("model_error", True), 429: ("throttling", True),
    500: ("internal_server_error", True), 503: ("service_unavailable", True),
}
"""bedrock-runtime's InvokeModel errors by HTTP status (botocore service model), in words."""
_NOVA_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
                "tool_use": "tool_calls", "content_filtered": "content_filter",
                "guardrail_intervened": "content_filter"}


def decode_line(line: bytes | str) -> Result:
    """One ``.jsonl.out`` line -> a Result under the recordId (``raw`` without the echoed
    ``modelInput``). Raises ``ValueError`` only for lines Bedrock could not have written."""
    obj, rid = load_line(line, "batch output", id_field="recordId")
    obj.pop("modelInput", None)  # the request echoed back: the caller has it, and it can be big
    if "error" in obj:
        return Result(rid, "errored", error=_error(obj["error"]), raw=obj)
    output = obj.get("modelOutput")
    if not isinstance(output, dict):
        raise ValueError(f"record {rid!r}: neither modelOutput nor error")
    if output.get("type") == "message" or isinstance(output.get("content"), list):
        result = decode_message(rid, output, obj)
        if _answered_by_tool(output.get("content")):
            result.finish_reason = "stop"
        return result
    if isinstance(output.get("output"), dict):
        return _nova(rid, output, obj)
    if "embedding" in output or "embeddingsByType" in output:
        return _titan(rid, output, obj)
    raise ValueError(f"record {rid!r}: modelOutput of no known family ({sorted(output)})")


def _answered_by_tool(blocks: Any) -> bool:
    """True when a Claude reply is the forced ``respond`` tool: a structured answer that ended
    normally, reported as ``stop`` like every other vendor's structured output."""
    return isinstance(blocks, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_use" and b.get("name") == TOOL_NAME
        for b in blocks)


def _error(error: Any) -> ErrorInfo:
    if not isinstance(error, dict):
        return ErrorInfo("unknown_error", str(error)[:500])
    raw_code = error.get("errorCode")
    message = str(error.get("errorMessage") or "")
    status = int(raw_code) if isinstance(raw_code, int) or (
        isinstance(raw_code, str) and raw_code.isdigit()) else None
    if status is None:
        return ErrorInfo(str(raw_code or "unknown_error"), message)
    code, retryable = _ERROR_CODES.get(status, (f"http_{status}", status >= 500))
    return ErrorInfo(code, message, retryable=retryable, http_status=status)


def _nova(rid: str, output: dict[str, Any], obj: dict[str, Any]) -> Result:
    message = output["output"].get("message") or {}
    blocks = [b for b in message.get("content") or [] if isinstance(b, dict)]
    texts = [str(b["text"]) for b in blocks if "text" in b]
    tools = [b["toolUse"] for b in blocks if isinstance(b.get("toolUse"), dict)]
    text: str | None = "".join(texts) if texts else None
    stop = output.get("stopReason")
    finish = _NOVA_FINISH.get(stop, stop) if isinstance(stop, str) else None
    answer = next((t for t in tools if t.get("name") == TOOL_NAME), None)
    if answer is not None:  # the forced tool carries a response_model's reply
        text, finish = orjson.dumps(answer.get("input")).decode(), "stop"
    elif tools and text is None:  # a user's own forced tool (sent through params)
        text = orjson.dumps(tools[0].get("input")).decode()
    usage = output.get("usage") or {}
    read = int(usage.get("cacheReadInputTokenCount") or 0)
    written = int(usage.get("cacheWriteInputTokenCount") or 0)
    return Result(rid, "succeeded", text=text, finish_reason=finish, raw=obj, usage=Usage(
        input_tokens=int(usage.get("inputTokens") or 0) + read + written,
        output_tokens=int(usage.get("outputTokens") or 0),
        cached_input_tokens=read, cache_creation_input_tokens=written,
    ))


def _titan(rid: str, output: dict[str, Any], obj: dict[str, Any]) -> Result:
    by_type = output.get("embeddingsByType")
    vectors: dict[str, np.ndarray] = {}
    if isinstance(by_type, dict):
        for kind, values in by_type.items():
            vectors[kind] = np.asarray(values, dtype=np.float32 if kind == "float" else np.uint8)
    vector = output.get("embedding")
    embedding = (np.asarray(vector, dtype=np.float32) if vector is not None
                 else vectors.get("float"))
    return Result(rid, "succeeded", embedding=embedding, embeddings_by_type=vectors or None,
                  usage=Usage(input_tokens=int(output.get("inputTextTokenCount") or 0)), raw=obj)


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
