"""Neutral tools: built from a model, a function or a schema; calls parsed or kept raw."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, ValidationError

from batchkit._exceptions import InvalidRequestError
from batchkit._results import Choice, Result, finish_reason
from batchkit._tools import MessageToolCall, Tool, ToolCall, tool_call_from_raw


class Invoice(BaseModel):
    """An invoice found in the text."""

    number: str
    total: float
    currency: Literal["EUR", "USD"] = "EUR"


def test_a_tool_from_a_pydantic_model_keeps_its_schema_name_and_docstring() -> None:
    tool = Tool.from_model(Invoice)
    assert (tool.name, tool.description, tool.strict) == (
        "Invoice", "An invoice found in the text.", True)
    assert tool.parameters["required"] == ["number", "total"]
    assert tool.parameters["properties"]["currency"]["enum"] == ["EUR", "USD"]
    assert "title" not in tool.parameters


def test_a_tool_from_a_typed_function_reads_its_signature() -> None:
    def forecast(city: str, days: int = 3) -> str:
        """Weather for the next days."""
        return city * days

    tool = Tool.from_function(forecast)
    assert tool.name == "forecast" and tool.description == "Weather for the next days."
    assert tool.parameters["required"] == ["city"]
    assert tool.parameters["properties"]["days"]["default"] == 3

    def untyped(city):  # type: ignore[no-untyped-def]
        return city

    with pytest.raises(ValueError, match="needs a type annotation"):
        Tool.from_function(untyped)


def test_tool_names_and_schemas_are_checked_with_one_line_errors() -> None:
    with pytest.raises(InvalidRequestError, match="1-64 letters") as bad_name:
        Tool(name="has space")
    with pytest.raises(InvalidRequestError, match="type 'object'") as bad_schema:
        Tool.from_schema("t", {"type": "string"})
    for error in (bad_name, bad_schema):
        assert "\n" not in str(error.value)
        assert not isinstance(error.value, ValidationError)


@pytest.mark.parametrize(("raw", "arguments", "error"), [
    ('{"number": "A-1", "total": 3}', {"number": "A-1", "total": 3}, None),
    ({"number": "A-1"}, {"number": "A-1"}, None),
    ("", {}, None),
    ("{not json", None, "arguments are not JSON"),
    ("[1, 2]", None, "arguments are not a JSON object"),
])
def test_calls_parse_their_arguments_or_say_why_not(
    raw: object, arguments: object, error: str | None
) -> None:
    call = tool_call_from_raw("c1", "Invoice", raw)  # type: ignore[arg-type]
    assert call.arguments == arguments
    assert (call.parse_error or "").startswith(error or "")
    assert bool(call.parse_error) == bool(error)
    if arguments is not None:
        assert Invoice.model_validate({"number": "x", "total": 1, **call.arguments}).number


def test_an_openai_shaped_call_in_a_message_is_read_as_the_neutral_one() -> None:
    call = MessageToolCall.model_validate({"id": "call_1", "type": "function", "function": {
        "name": "Invoice", "arguments": '{"number": "7"}'}})
    assert call == MessageToolCall(id="call_1", name="Invoice", arguments={"number": "7"})
    with pytest.raises(ValidationError, match="not JSON"):
        MessageToolCall.model_validate({"id": "c", "function": {"name": "x", "arguments": "{"}})


def test_results_carry_calls_choices_and_the_vendor_stop_reason() -> None:
    call = ToolCall("c1", "Invoice", {"number": "7"}, '{"number": "7"}')
    result = Result("r1", "succeeded", tool_calls=[call], vendor_finish_reason="tool_use",
                    finish_reason=finish_reason("tool_use", {"tool_use": "tool_calls"}),
                    choices=[Choice(0, None, [call], "tool_calls"), Choice(1, "no", [], "stop")])
    data = result.to_dict()
    assert data["finish_reason"] == "tool_calls" and data["vendor_finish_reason"] == "tool_use"
    assert data["tool_calls"][0]["arguments"] == {"number": "7"}
    assert [c["text"] for c in data["choices"]] == [None, "no"]
    assert finish_reason("weird", {"end_turn": "stop"}) == "other"
    assert finish_reason(None, {}) is None


def test_a_model_without_a_docstring_sends_no_inherited_description() -> None:
    class Bare(BaseModel):
        value: int

    assert Tool.from_model(Bare).description is None
