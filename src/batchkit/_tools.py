"""Tools in the neutral model: what a request offers the model, and the calls that come back.

A :class:`Tool` is a name, a description and a JSON Schema for its arguments, the common core of
every vendor's function-calling format; each vendor's codec spells it its own way (OpenAI
``tools[].function``, Anthropic ``tools[].input_schema``, Gemini ``functionDeclarations``, ...).
Tools are built from a pydantic model (the usual way to do structured extraction at scale), a
plain JSON schema, or a typed Python function's signature, so the schema is written once.

A :class:`ToolCall` is one call the model made: its id, the tool's name, the arguments parsed
into a dict, and the raw argument text as the vendor sent it. Arguments that are not valid JSON
(a model can emit that) keep ``arguments=None`` and say why in ``parse_error``; the request
still succeeded, and was paid for.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    create_model,
    field_validator,
    model_validator,
)

from ._parts import OneLineModel

__all__ = ["MessageToolCall", "Tool", "ToolCall", "ToolChoice", "tool_call_from_raw"]

_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""The strictest rule among the vendors (OpenAI, Anthropic and Gemini agree on it)."""

def _vendor_safe_name(value: str) -> str:
    if not _TOOL_NAME.match(value):
        raise ValueError(f"tool name {value!r} must be 1-64 letters, digits, '_' or '-'")
    return value


ToolName = Annotated[str, AfterValidator(_vendor_safe_name)]
"""A tool's name, in a tool definition and in a replayed call alike."""

ToolChoice = Literal["auto", "none", "required"] | str
"""``auto`` (the model decides), ``none`` (no tool), ``required`` (some tool), or a tool's name
(that tool, forced)."""


class Tool(OneLineModel):
    """A function the model may call: ``name``, ``description`` and a JSON-schema ``parameters``
    object. ``strict=True`` asks vendors that have it for exact schema adherence."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: ToolName
    description: str | None = None
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None

    @field_validator("parameters")
    @classmethod
    def _an_object_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type", "object") != "object":
            raise ValueError("tool parameters must be a JSON schema of type 'object'")
        try:
            orjson.dumps(value)
        except TypeError as exc:
            raise ValueError(f"tool parameters must be JSON-serializable ({exc})") from None
        return value

    @classmethod
    def from_model(cls, model: type[BaseModel], *, name: str | None = None,
                   description: str | None = None, strict: bool | None = True) -> Tool:
        """A tool whose arguments are ``model``: the pydantic class's JSON schema, its name
        (or ``name``) and its docstring (or ``description``). Parse a call back with
        ``model.model_validate(call.arguments)``."""
        schema = model.model_json_schema()
        own_doc = model.__dict__.get("__doc__")  # not BaseModel's, inherited by every model
        doc = description or schema.pop("description", None) or (
            inspect.cleandoc(own_doc) if own_doc else None)
        schema.pop("title", None)
        return cls(name=name or model.__name__, description=doc or None, parameters=schema,
                   strict=strict)

    @classmethod
    def from_function(cls, function: Callable[..., Any], *, name: str | None = None,
                      description: str | None = None, strict: bool | None = None) -> Tool:
        """A tool from a typed function: parameters from its signature (every parameter needs a
        type annotation; those with defaults are optional), description from its docstring."""
        hints = typing.get_type_hints(function)
        fields: dict[str, Any] = {}
        for param in inspect.signature(function).parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise ValueError(f"{function.__name__}: *args/**kwargs cannot be tool arguments")
            if param.name not in hints:
                raise ValueError(f"{function.__name__}: parameter {param.name!r} needs a type "
                                 "annotation to become a tool argument")
            default = ... if param.default is param.empty else param.default
            fields[param.name] = (hints[param.name], default)
        arguments = create_model(f"{function.__name__}_arguments", **fields)
        return cls.from_model(arguments, name=name or function.__name__,
                              description=description or inspect.getdoc(function),
                              strict=strict)

    @classmethod
    def from_schema(cls, name: str, schema: Mapping[str, Any], *,
                    description: str | None = None, strict: bool | None = None) -> Tool:
        """A tool from a plain JSON schema (``{"type": "object", "properties": ...}``)."""
        return cls(name=name, description=description, parameters=dict(schema), strict=strict)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call of a tool the model made (in a result), or asked to be replayed (in an assistant
    message of a conversation)."""

    id: str
    name: str
    arguments: dict[str, Any] | None
    """The arguments parsed from ``raw_arguments``; None when they are not a JSON object."""
    raw_arguments: str
    """The arguments exactly as the vendor sent them (JSON text)."""
    parse_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arguments": self.arguments,
                "raw_arguments": self.raw_arguments, "parse_error": self.parse_error}


def tool_call_from_raw(call_id: str, name: str, arguments: str | Mapping[str, Any] | None
                       ) -> ToolCall:
    """A :class:`ToolCall` from a vendor's call: arguments given as JSON text (OpenAI family) or
    as an object already (Anthropic ``input``, Gemini ``args``)."""
    if arguments is None:
        return ToolCall(call_id, name, {}, "{}")
    if not isinstance(arguments, str):
        parsed = dict(arguments)
        return ToolCall(call_id, name, parsed, orjson.dumps(parsed).decode())
    try:
        value = orjson.loads(arguments) if arguments.strip() else {}
    except orjson.JSONDecodeError as exc:
        return ToolCall(call_id, name, None, arguments, f"arguments are not JSON ({exc})")
    if not isinstance(value, dict):
        return ToolCall(call_id, name, None, arguments, "arguments are not a JSON object")
    return ToolCall(call_id, name, value, arguments)


class MessageToolCall(OneLineModel):
    """A tool call inside an assistant message of a conversation being replayed: the call the
    model made earlier, which a following ``tool`` message answers by ``id``. OpenAI's shape
    (``{"id", "type": "function", "function": {"name", "arguments": "<json>"}}``) is read too,
    since most users' conversation files are OpenAI-shaped."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    id: str
    name: ToolName
    arguments: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _accept_openai_shape(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("function"), Mapping):
            function = data["function"]
            raw = function.get("arguments") or "{}"
            try:
                arguments = orjson.loads(raw) if isinstance(raw, str) else raw
            except orjson.JSONDecodeError:
                raise ValueError(f"tool call {data.get('id')!r}: arguments are not JSON") from None
            return {"id": data.get("id"), "name": function.get("name"), "arguments": arguments}
        if isinstance(data, ToolCall):
            return {"id": data.id, "name": data.name, "arguments": data.arguments or {}}
        return data
