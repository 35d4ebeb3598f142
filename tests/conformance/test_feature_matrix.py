"""The cross-vendor feature matrix: every neutral feature x every vendor of the conformance suite.

Each cell holds one of two promises, chosen by the vendor's own capability table: the feature is
supported, so a small probe request goes through the vendor's emulator (which checks the line
against the vendor's schema) and its result decodes with the feature intact; or it is not, so
the probe is refused with a one-line error naming the vendor, before any job is recorded.
Nothing here names a vendor's feature by hand: a vendor that flips a feature in its table is
tested on it from then on.

Fast by construction: per vendor, the supported probes go out as one job (one request each) in
one emulator session, and a reasoning model runs the reasoning probes in a second job.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit._exceptions import InvalidRequestError
from batchkit._registry import make_adapter
from batchkit.providers._capabilities import FEATURES, Feature, features_used
from tests._fixtures import (
    DOCUMENT,
    DOCUMENT_BY_ID,
    IMAGE,
    LOOKUP,
    NOTE,
    SCHEMA,
    TURNS,
    Lookup,
    asking,
)

from .targets import TARGETS, Target

USER = {"role": "user", "content": "Where is it sunny today? Answer in JSON."}


@dataclass(frozen=True)
class Probe:
    """The smallest request using a feature, and what "the feature came back intact" means."""

    request: dict[str, Any]
    intact: Callable[[bk.Result], bool]
    reasoning_model: bool = False


def _called(name: str, model: type[BaseModel] | None) -> Callable[[bk.Result], bool]:
    def check(r: bk.Result) -> bool:
        call = r.tool_calls[0] if r.tool_calls else None
        return (call is not None and call.name == name and call.arguments is not None
                and (model is None or model.model_validate(call.arguments) is not None))
    return check


def _answered(r: bk.Result) -> bool:
    return bool(r.text or r.tool_calls)


def _json_object(r: bk.Result) -> bool:
    return isinstance(json.loads(r.text or "null"), dict)


def _fits_schema(r: bk.Result) -> bool:
    value = json.loads(r.text or "null")
    return isinstance(value, dict) and isinstance(value.get("city"), str) \
        and isinstance(value.get("sunny"), bool)


def _logprobs(r: bk.Result) -> bool:
    return bool(r.logprobs) and all(len(t["top_logprobs"]) == 2 for t in r.logprobs or [])


PROBES: dict[Feature, Probe] = {
    "tools": Probe({"tools": [LOOKUP]}, _answered),
    "tool_choice": Probe({"tools": [LOOKUP], "tool_choice": "auto"}, _answered),
    "tool_choice_required": Probe({"tools": [LOOKUP], "tool_choice": "required"},
                                  _called("lookup", Lookup)),
    "tool_choice_named": Probe({"tools": [LOOKUP, NOTE], "tool_choice": "note"},
                               _called("note", None)),
    "parallel_tool_calls": Probe({"tools": [LOOKUP], "tool_choice": "required",
                                  "parallel_tool_calls": False},
                                 lambda r: len(r.tool_calls) == 1),
    "tool_results": Probe({"tools": [LOOKUP], "messages": TURNS},
                          lambda r: bool(r.text) and not r.tool_calls),
    "message_name": Probe({"messages": [{**USER, "name": "alice"}]}, _answered),
    "images": Probe({"messages": [asking(IMAGE)]}, _answered),
    "documents": Probe({"messages": [asking(DOCUMENT)]}, _answered),
    "document_file_id": Probe({"messages": [asking(DOCUMENT_BY_ID)]}, _answered),
    "cache_breakpoints": Probe({"messages": [{**USER, "cache": True}]}, _answered),
    "reasoning": Probe({"reasoning": "low", "max_tokens": 2000},
                       lambda r: bool(r.reasoning) or bool(r.usage and r.usage.reasoning_tokens),
                       reasoning_model=True),
    "reasoning_off": Probe({"reasoning": "off"},
                           lambda r: r.usage is not None and r.usage.reasoning_tokens == 0,
                           reasoning_model=True),
    "n": Probe({"n": 2}, lambda r: r.choices is not None and len(r.choices) == 2
               and all(c.text or c.tool_calls for c in r.choices)),
    "logprobs": Probe({"logprobs": True, "top_logprobs": 2}, _logprobs),
    "response_schema": Probe({"response_schema": SCHEMA}, _fits_schema),
    "json_mode": Probe({"json_mode": True}, _json_object),
}
assert set(PROBES) == set(FEATURES), "every neutral feature needs a probe"

REASONING_MODELS = {"openai": "gpt-5-mini", "azure": "gpt-5-mini", "groq": "openai/gpt-oss-20b"}
"""A model of the vendor that thinks, where the suite's chat model does not."""


@dataclass(frozen=True)
class Column:
    name: str
    target: Target
    options: dict[str, Any] = field(default_factory=dict)

    def provider(self, reasoning: bool) -> str:
        vendor, _, model = self.target.chat.partition(":")
        return f"{vendor}:{REASONING_MODELS.get(vendor, model) if reasoning else model}"


def _columns() -> list[Column]:
    columns = []
    for target in TARGETS:
        if make_adapter(target.chat).capabilities is None:
            continue  # no table: the fake vendor accepts anything
        columns.append(Column(target.name, target))
        if target.name == "openai":
            columns.append(Column("openai-responses", target, {"endpoint": "responses"}))
        if target.name == "azure":
            columns.append(Column("azure-responses", target, {"api": "responses"}))
    return columns


COLUMNS = _columns()
_OUTCOMES: dict[str, dict[Feature, bk.Result | str]] = {}


def _request(feature: Feature) -> bk.ChatRequest:
    fields = {"messages": [USER], "max_tokens": 200, **PROBES[feature].request}
    return bk.ChatRequest(custom_id=feature, **fields)


def _outcomes(column: Column) -> dict[Feature, bk.Result | str]:
    """Every cell of ``column``: the decoded result, or the refusal's message."""
    if column.name in _OUTCOMES:
        return _OUTCOMES[column.name]
    outcomes: dict[Feature, bk.Result | str] = {}
    with column.target.environment():
        for reasoning in (False, True):
            provider = column.provider(reasoning)
            adapter = make_adapter(provider, column.options)
            table = adapter.capabilities
            assert table is not None
            sent = []
            for feature in FEATURES:
                if PROBES[feature].reasoning_model is not reasoning:
                    continue
                if table[feature].supported:
                    try:  # a finer rule of the codec (one endpoint of two...) may refuse it
                        adapter.check_request(_request(feature))
                        sent.append(_request(feature))
                        continue
                    except InvalidRequestError:
                        pass
                jobs = len(bk.list_jobs())
                try:
                    bk.submit([_request(feature)], provider, options=column.options)
                except InvalidRequestError as exc:
                    outcomes[feature] = str(exc)
                else:
                    outcomes[feature] = "accepted although the table refuses it"
                assert len(bk.list_jobs()) == jobs, f"{feature}: a job was recorded"
            if sent:
                results = bk.run(sent, provider, options=column.options or None)
                outcomes.update({r.custom_id: r for r in results})  # type: ignore[misc]
    _OUTCOMES[column.name] = outcomes
    return outcomes


@pytest.mark.parametrize("feature", FEATURES)
@pytest.mark.parametrize("column", COLUMNS, ids=[c.name for c in COLUMNS])
def test_feature_is_intact_or_refused_before_anything(column: Column, feature: Feature) -> None:
    outcome = _outcomes(column)[feature]
    vendor = column.target.chat.partition(":")[0]
    table = make_adapter(column.provider(PROBES[feature].reasoning_model),
                         column.options).capabilities
    assert table is not None
    support = table[feature]
    if not support.supported:
        assert isinstance(outcome, str) and outcome.startswith(f"custom_id '{feature}': {vendor}:")
        # The refusal names the first refused feature the probe uses (a tool_choice probe
        # needs tools too), with that feature's way forward.
        refused = [f for f in features_used(_request(feature)) if not table[f].supported]
        assert "unsupported" in outcome and any(table[f].alternative in outcome for f in refused)
        return
    if isinstance(outcome, str) and support.note:
        # Supported with a limit the table notes (e.g. "chat endpoint only"): refused, in one
        # line naming the request, before anything was recorded.
        assert outcome.startswith(f"custom_id '{feature}': ") and "\n" not in outcome
        return
    assert isinstance(outcome, bk.Result), outcome
    assert outcome.ok, f"{column.name} {feature}: {outcome.error}"
    assert PROBES[feature].intact(outcome), f"{column.name} {feature} not intact: {outcome}"
