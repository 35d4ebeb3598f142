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
from ..._state import JobState
from .._capabilities import Feature, features_used, vendor_params
from .._ids import escaped_id
from ..anthropic.features import check_features, encode_thinking, encode_tools
from ..anthropic.messages import (
    DEFAULT_MAX_TOKENS,
    check_messages,
    encode_messages,
    encode_system,
)
from ..base import LineError, RemoteStatus
from .nova import IMAGE_FORMATS, check_nova, image_data, nova_body
from .results import TOOL_NAME, decode_line

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
    scoped = request.params.get("bedrock")
    given = {*request.params, *(scoped if isinstance(scoped, Mapping) else ())}
    if "stream" in given:
        fail("batch jobs reject 'stream'; remove it from params")
    if "model" in given and family.kind == "chat":
        fail("params must not set 'model'; choose it in the provider string")
    request_params(request, family)
    if isinstance(request, EmbedRequest):
        _check_embed(request, family, fail)
    else:
        _check_chat(request, family, given, fail)


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
    request: ChatRequest, family: Family, given: set[str], fail: Callable[[str], NoReturn]
) -> None:
    """``given``: the raw params' keys, unscoped and scoped to bedrock."""
    if request.temperature is not None and request.temperature > 1:
        fail(f"{family.label} takes temperature between 0 and 1")
    if request.seed is not None:
        fail(f"{family.label} on Bedrock has no 'seed'; remove it for this provider")
    taken = ("tools", "tool_choice") if family is CLAUDE else ("toolConfig",)
    structured = request.response_model is not None or request.response_schema is not None
    if structured and any(k in given for k in taken):
        fail(f"params {'/'.join(taken)} would replace the tool that carries the response_model")
    if structured and request.tools:
        fail("on Bedrock a response_model/response_schema is a forced tool and cannot share the "
             "request with tools; make it a tool (bk.Tool.from_model) with tool_choice naming it")
    if family is CLAUDE:
        _check_claude(request, structured, fail)
    else:
        unsupported = [words for feature, words in features_used(request).items()
                       if feature in _CLAUDE_ONLY]
        if unsupported:
            fail(f"bedrock: {unsupported[0]} unsupported for {family.label} by batchkit yet — "
                 "use a Claude model, or pass Nova's own fields in params={'bedrock': {...}}")
        check_nova(request, fail)
    for message in request.messages:
        for part in _parts(message):
            if not isinstance(part, ImagePart):
                continue
            if message.role != "user":
                fail(f"images are only allowed in user messages, not {message.role!r} ones")
            media_type, _ = image_data(part)
            if media_type is None:
                fail("Bedrock takes images as base64 data (a data: URL or data=...), "
                     "not a link; download the image first")
            if media_type not in IMAGE_FORMATS:
                fail(f"image type {media_type!r} is not one of png, jpeg, gif, webp")


_CLAUDE_ONLY: frozenset[Feature] = frozenset({"reasoning", "reasoning_off"})
"""The capability table's features that only the Claude body spells so far (Nova 2's
``reasoningConfig`` is not translated yet; Nova 1 models do not reason)."""


def _check_claude(request: ChatRequest, structured: bool, fail: Callable[[str], NoReturn]) -> None:
    """The Messages API's own rules, plus Bedrock's: documents inline only, no thinking with
    sampling changes, and a structured answer (a forced ``respond`` tool) without thinking."""
    check_messages(request, fail, links=False)
    check_features(request, fail)
    thinking = request.reasoning is not None and not request.reasoning.off
    if thinking and (request.temperature is not None or request.top_p is not None):
        fail("Claude cannot think with temperature or top_p changed; remove them or reasoning")
    if structured and thinking:
        fail("on Bedrock a response_model/response_schema is a forced tool, and Claude cannot "
             "think while a tool is forced; drop reasoning or the response format")


def request_params(request: Request, family: Family) -> dict[str, Any]:
    """The request's raw ``params`` for a record: unscoped fields must be fields of the model
    family's own body; ``params={"bedrock": {...}}`` reaches Bedrock's records alone."""
    if not request.params:
        return {}
    from ..._registry import available_providers

    vendors = [name for name, _, _ in available_providers()]
    return vendor_params(request, "bedrock", vendors, _BODY_FIELDS[family.name])


_BODY_FIELDS = {
    "claude": frozenset({"anthropic_version", "anthropic_beta", "max_tokens", "messages",
                         "system", "stop_sequences", "temperature", "top_p", "top_k", "tools",
                         "tool_choice", "thinking"}),
    "nova": frozenset({"schemaVersion", "system", "messages", "inferenceConfig", "toolConfig"}),
    "titan-embed-v2": frozenset({"inputText", "dimensions", "normalize", "embeddingTypes"}),
    "titan-embed-v1": frozenset({"inputText"}),
}
"""Each family's InvokeModel body fields (Bedrock's model parameter pages for Claude Messages,
Nova and Titan Text Embeddings)."""


def _parts(message: Message) -> list[TextPart | ImagePart | DocumentPart]:
    return message.parts


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
        body = nova_body(request, _max_tokens(request, options), _schema(request))
    body.update(request_params(request, family))
    return orjson.dumps({"recordId": record_id, "modelInput": body})


def _max_tokens(request: ChatRequest, options: Mapping[str, Any]) -> int:
    return request.max_tokens or int(options.get("max_tokens") or DEFAULT_MAX_TOKENS)


def _schema(request: ChatRequest) -> dict[str, Any] | None:
    model = request.response_model
    return request.response_schema if model is None else model.model_json_schema()


def _claude_body(request: ChatRequest, options: Mapping[str, Any]) -> dict[str, Any]:
    """The Messages body; a ``response_model`` becomes a forced ``respond`` tool, which every
    Claude 3+ model on Bedrock supports (``output_config.format`` only Claude 4.5+)."""
    thinking, max_tokens = encode_thinking(request, _max_tokens(request, options))
    body: dict[str, Any] = {
        "anthropic_version": ANTHROPIC_VERSION,
        "max_tokens": max_tokens,
        "messages": encode_messages(request.messages),
    }
    _put(body, "system", encode_system(request))
    _put(body, "temperature", request.temperature)
    _put(body, "top_p", request.top_p)
    _put(body, "stop_sequences", request.stop)
    body.update(encode_tools(request, strict=False))
    _put(body, "thinking", thinking)
    schema = _schema(request)
    if schema is not None:
        body["tools"] = [{"name": TOOL_NAME, "description": "Reply with this tool's input.",
                          "input_schema": schema}]
        body["tool_choice"] = {"type": "tool", "name": TOOL_NAME}
    return body


def _put(body: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        body[key] = value


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
