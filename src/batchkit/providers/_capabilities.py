"""One capability table per vendor: how it expresses each neutral feature, or why it can't.

The ``provider=`` switch holds only if a request the target vendor cannot take is refused before
anything is written, recorded or sent, with a way forward: a vendor would otherwise fail the row
after the job is paid for, or, worse, silently drop the field. Each vendor's package declares a
:data:`Capabilities` table (``providers/<vendor>/capabilities.py``); its codec spells what the
table says it supports, and :func:`check_capabilities`, called from the adapter's ``check``,
refuses the rest in one line: ``anthropic: n=3 unsupported — send 3 requests``.

The same tables render the matrix in providers.md (``capability_matrix``), and a test fails when
the two differ, so the documentation cannot drift from the code.

Raw vendor fields are scoped the same way: ``params={"anthropic": {...}}`` reaches Anthropic's
lines only, and an unscoped field must be one the target vendor's own request schema knows
(:func:`vendor_params`), so switching vendors never sends another vendor's fields.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from .._exceptions import InvalidRequestError
from .._parts import DocumentPart, ImagePart
from .._requests import ChatRequest, EmbedRequest, ModerationRequest, Request

__all__ = [
    "ALL_FEATURES",
    "FEATURES",
    "FEATURE_FIELDS",
    "NO_EMBEDDINGS",
    "NO_MODERATION",
    "ONE_TEXT_PER_LINE",
    "TEXT_FEATURES",
    "Capabilities",
    "Feature",
    "Support",
    "capability_matrix",
    "check_capabilities",
    "complete",
    "features_used",
    "no",
    "pending",
    "plain_request",
    "refuses_any",
    "vendor_params",
    "yes",
]

ChatFeature = Literal[
    "tools", "tool_choice", "tool_choice_required", "tool_choice_named", "parallel_tool_calls",
    "tool_results", "message_name", "images", "documents", "document_file_id",
    "cache_breakpoints", "reasoning", "reasoning_off", "n", "logprobs", "response_schema",
    "json_mode",
]
TextFeature = Literal["embed_texts", "moderation"]
Feature = ChatFeature | TextFeature
FEATURES: tuple[ChatFeature, ...] = get_args(ChatFeature)
"""The neutral features of a chat request. Sampling fields (temperature, top_p, stop, seed) are
older and checked by each codec's own rules."""
TEXT_FEATURES: tuple[TextFeature, ...] = get_args(TextFeature)
"""The features of embedding and moderation requests: several texts in one embedding line,
and moderation itself."""
ALL_FEATURES: tuple[Feature, ...] = (*FEATURES, *TEXT_FEATURES)
"""Every feature a vendor's table must decide on."""


@dataclass(frozen=True)
class Support:
    """How a vendor expresses one feature (``how``), or None and what to do instead."""

    how: str | None
    alternative: str = ""
    note: str = ""

    @property
    def supported(self) -> bool:
        return self.how is not None


def yes(how: str, note: str = "") -> Support:
    """Supported, spelt ``how`` on the wire (``note``: e.g. a no-op the vendor does itself)."""
    return Support(how, note=note)


def no(alternative: str, note: str = "") -> Support:
    """Unsupported; ``alternative`` tells the caller what to do instead."""
    return Support(None, alternative=alternative, note=note)


Capabilities = Mapping[Feature, Support]


def features_used(request: Request) -> dict[Feature, str]:
    """The features a request uses, each with the words an error should name it by."""
    if not isinstance(request, ChatRequest):
        return _text_features(request)
    if plain_request(request):
        return {}
    used: dict[Feature, str] = {}
    if request.tools:
        used["tools"] = "tools"
    choice = request.tool_choice
    if choice is not None:
        used["tool_choice"] = f"tool_choice={choice!r}"
        if choice == "required":
            used["tool_choice_required"] = "tool_choice='required'"
        elif choice not in ("auto", "none"):
            used["tool_choice_named"] = f"tool_choice={choice!r}"
    if request.parallel_tool_calls is not None:
        used["parallel_tool_calls"] = f"parallel_tool_calls={request.parallel_tool_calls}"
    for message in request.messages:
        if message.role == "tool" or message.tool_calls:
            used["tool_results"] = "tool calls and results in messages"
        if message.name is not None:
            used["message_name"] = "a message 'name'"
        if message.cache:
            used["cache_breakpoints"] = "cache breakpoints"
        for part in message.content if isinstance(message.content, list) else ():
            if isinstance(part, ImagePart):
                used["images"] = "image parts"
            elif isinstance(part, DocumentPart):
                used["documents"] = "document parts"
                if part.file_id is not None:
                    used["document_file_id"] = "a document by file_id"
            if part.cache:
                used["cache_breakpoints"] = "cache breakpoints"
    if request.reasoning is not None:
        used["reasoning_off" if request.reasoning.off else "reasoning"] = "reasoning"
    if request.n is not None and request.n > 1:
        used["n"] = f"n={request.n}"
    if request.logprobs:
        used["logprobs"] = "logprobs"
    if request.response_schema is not None:
        used["response_schema"] = "response_schema"
    if request.json_mode:
        used["json_mode"] = "json_mode"
    return used


def _text_features(request: EmbedRequest | ModerationRequest) -> dict[Feature, str]:
    """The features of an embedding or moderation request: moderation itself, and several
    texts in one embedding line."""
    if isinstance(request, ModerationRequest):
        return {"moderation": "moderation requests"}
    if request.texts is not None:
        return {"embed_texts": f"texts=[{len(request.texts)} texts] in one embedding request"}
    return {}


FEATURE_FIELDS = frozenset({"tools", "tool_choice", "parallel_tool_calls", "reasoning", "n",
                            "logprobs", "top_logprobs", "response_schema", "json_mode"})
"""The ChatRequest fields that carry a neutral feature (a codec reads them only when one is set)."""
_PLAIN_MESSAGE_FIELDS = frozenset({"role", "content"})


def plain_request(request: ChatRequest) -> bool:
    """True for a chat request that sets none of the features and whose messages are plain text
    (most rows of most jobs). Read from the fields pydantic saw set, one set operation per
    model, since this runs once per request of a million-row job; a feature field set to its
    default only sends the request down the full path."""
    if not FEATURE_FIELDS.isdisjoint(request.__pydantic_fields_set__):
        return False
    for m in request.messages:
        if type(m.content) is not str or not m.__pydantic_fields_set__ <= _PLAIN_MESSAGE_FIELDS:
            return False
    return True


def check_capabilities(request: Request, vendor: str, table: Capabilities) -> None:
    """Refuse, in one line naming the request, the first feature ``vendor`` cannot take.

    A table that refuses nothing (OpenAI's) has nothing to check: its answer is looked up once
    per table, not worked out again for each of a million requests."""
    if not refuses_any(table) or (type(request) is EmbedRequest and request.texts is None) or (
            isinstance(request, ChatRequest) and plain_request(request)):
        return
    for feature, words in features_used(request).items():
        support = table[feature]
        if not support.supported:
            hint = f" — {support.alternative}" if support.alternative else ""
            raise InvalidRequestError(f"{vendor}: {words} unsupported{hint}",
                                      custom_id=request.custom_id)


_REFUSES: dict[int, tuple[Capabilities, bool]] = {}


def refuses_any(table: Capabilities) -> bool:
    """Whether ``table`` refuses any feature, computed once per table (tables are module
    constants; the table itself is kept beside its answer so a reused id cannot mislead)."""
    known = _REFUSES.get(id(table))
    if known is None or known[0] is not table:
        known = _REFUSES[id(table)] = (table, any(not s.supported for s in table.values()))
    return known[1]


def vendor_params(request: Request, vendor: str, vendors: Collection[str],
                  known_fields: Collection[str] | None) -> dict[str, Any]:
    """The raw fields for ``vendor``'s line: unscoped ones, then ``params[vendor]`` over them.

    A key naming another registered vendor is that vendor's scope and is left out. An unscoped
    key the vendor's own request schema does not know (``known_fields``; None: not checked) is
    refused, since the vendor would fail the row after the job is paid for.
    """
    merged: dict[str, Any] = {}
    scoped: Mapping[str, Any] = {}
    for key, value in request.params.items():
        if key == vendor:
            if not isinstance(value, Mapping):
                raise InvalidRequestError(f"params[{key!r}] must be an object of {vendor} "
                                          "fields", custom_id=request.custom_id)
            scoped = value
        elif key in vendors:
            continue
        elif known_fields is not None and key not in known_fields:
            raise InvalidRequestError(
                f"{vendor}: params field {key!r} is not a {vendor} request field; scope it to "
                f"its vendor (params={{'<vendor>': {{{key!r}: ...}}}})",
                custom_id=request.custom_id)
        else:
            merged[key] = value
    merged.update(scoped)
    return merged


def capability_matrix(tables: Mapping[str, Capabilities]) -> list[str]:
    """The Markdown table providers.md shows: a row per feature, a column per vendor."""
    vendors = sorted(tables)
    lines = ["| feature | " + " | ".join(vendors) + " |",
             "|---|" + "---|" * len(vendors)]
    for feature in ALL_FEATURES:
        cells = (_cell(tables[v][feature]) for v in vendors)
        lines.append(f"| {feature} | " + " | ".join(cells) + " |")
    return lines


def _cell(support: Support) -> str:
    if support.supported:
        return "yes" + (f" ({support.note})" if support.note else "")
    return "no"


_WHAT = {
    "tools": "tools", "tool_choice": "tool_choice", "tool_choice_required": "tool_choice "
    "'required'", "tool_choice_named": "a named tool_choice", "parallel_tool_calls":
    "parallel_tool_calls", "tool_results": "tool calls and results in messages",
    "message_name": "a message 'name'", "images": "images", "documents": "documents",
    "document_file_id": "documents by file_id", "cache_breakpoints": "cache breakpoints",
    "reasoning": "reasoning", "reasoning_off": "reasoning 'off'", "n": "n > 1",
    "logprobs": "logprobs", "response_schema": "a raw response_schema",
    "json_mode": "json_mode", "embed_texts": "several texts in one embedding request",
    "moderation": "moderation requests",
}


def pending(vendor: str) -> dict[str, Support]:
    """Every feature refused, saying batchkit does not translate it for ``vendor`` yet: the
    starting point of a table, so a feature is sent only once its codec spells it."""
    return {feature: no(f"batchkit does not translate {_WHAT[feature]} for {vendor} yet; "
                        f"pass the vendor's own fields in params={{'{vendor}': {{...}}}}")
            for feature in ALL_FEATURES}


ONE_TEXT_PER_LINE = "send one request per text (EmbedRequest.batch(texts) builds them)"
"""The way forward where a vendor's batch line embeds one text."""
NO_MODERATION = ("no moderation endpoint in this vendor's batch API; send ModerationRequests "
                 "to provider='openai:omni-moderation-latest' or "
                 "'mistral:mistral-moderation-latest'")
"""The way forward where a vendor's batch API takes no moderation requests."""
NO_EMBEDDINGS = ("{vendor} batches take no embeddings; send EmbedRequests to a provider whose "
                 "batch API has them")
"""The way forward where a vendor's batch API takes no embeddings at all."""


def complete(table: Mapping[str, Support], vendor: str) -> Capabilities:
    """``table`` checked to name every feature exactly once (a new feature must be decided for
    every vendor, not silently allowed)."""
    missing = [f for f in ALL_FEATURES if f not in table]
    extra = [f for f in table if f not in ALL_FEATURES]
    if missing or extra:
        raise AssertionError(f"{vendor} capabilities: missing {missing}, unknown {extra}")
    return table  # type: ignore[return-value]

