"""The shipped vendor schemas, the validator over them, and the schema-instance generator."""

from __future__ import annotations

import importlib.util
import json
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, create_model

from batchkit.testing import _spec
from batchkit.testing._schema_fill import SchemaFillError, fill_schema

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "tests" / "specs"


def _extract_script() -> Any:
    """Import scripts/extract_specs.py (not a package module) by path."""
    path = REPO / "scripts" / "extract_specs.py"
    loader = importlib.util.spec_from_file_location("extract_specs", path)
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return module


def test_valid_bodies_pass_and_bad_ones_are_named() -> None:
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}],
            "temperature": 0, "max_tokens": 10}
    assert _spec.validate("openai", "CreateChatCompletionRequest", chat) == []
    assert _spec.validate("openai", "CreateChatCompletionRequest", {**chat, "temperature": "hot"}) \
        == ["$.temperature: 'hot' is not of type 'number'"]
    assert _spec.validate("openai", "CreateEmbeddingRequest",
                          {"model": "text-embedding-3-small", "input": ["a"], "dimensions": 0}) \
        == ["$.dimensions: 0 is less than the minimum of 1"]
    assert _spec.validate("openai", "CreateResponse", {"model": "gpt-4o-mini", "input": "x"}) == []
    assert "messages" in _spec.required_names("openai", "CreateChatCompletionRequest")
    assert "response_format" in _spec.property_names("openai", "CreateChatCompletionRequest")
    with pytest.raises(KeyError):
        _spec.validate("openai", "NoSuchSchema", {})


def test_shipped_extract_equals_a_fresh_extraction() -> None:
    module = _extract_script()
    assert module.ROOT_SCHEMAS  # every vendor the script extracts is compared
    for vendor in module.ROOT_SCHEMAS:
        shipped = (REPO / "src" / "batchkit" / "testing" / "specs" / f"{vendor}.json").read_text()
        assert module.dump(module.extract_vendor(vendor, SPECS)) == shipped, vendor


def test_extract_translates_nullable_and_keeps_property_names() -> None:
    module = _extract_script()
    spec = {"components": {"schemas": {
        "Root": {"type": "object", "description": "doc", "properties": {
            "description": {"type": "string", "nullable": True, "example": "x"},
            "child": {"$ref": "#/components/schemas/Child"}}},
        "Child": {"type": "integer", "enum": [1, 2], "nullable": True},
        "Unused": {"type": "string"}}}}
    document = module.extract(spec, ["Root"])
    assert sorted(document["$defs"]) == ["Child", "Root"]
    root = document["$defs"]["Root"]
    assert root["properties"]["description"] == {"type": ["string", "null"]}
    assert root["properties"]["child"] == {"$ref": "#/$defs/Child"}
    assert document["$defs"]["Child"] == {"type": ["integer", "null"], "enum": [1, 2, None]}


class Colour(str, Enum):
    red = "red"
    green = "green"


class Leaf(BaseModel):
    name: str = Field(min_length=2, max_length=8)
    weight: float = Field(gt=0, lt=1)


class Tree(BaseModel):
    label: Literal["a", "b"]
    colour: Colour
    count: int = Field(ge=3, multiple_of=4)
    leaves: list[Leaf] = Field(min_length=1, max_length=3)
    parent: Tree | None = None
    children: list[Tree] = []
    extra: dict[str, int] = {}
    either: int | str | None = None


FIELD_TYPES: list[Any] = [str, int, float, bool, list[int], Leaf, Colour, Literal["x", "y"],
                          int | None, dict[str, Leaf], list[Leaf] | None, Tree]


@st.composite
def pydantic_models(draw: st.DrawFn) -> type[BaseModel]:
    names = draw(st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), min_size=1,
                          max_size=6, unique=True))
    fields: dict[str, Any] = {}
    for name in names:
        annotation = draw(st.sampled_from(FIELD_TYPES))
        fields[name] = (annotation, ...) if draw(st.booleans()) else (annotation | None, None)
    return create_model("Generated", **fields)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=pydantic_models(), seed=st.text(max_size=8))
def test_generated_instance_always_validates(model: type[BaseModel], seed: str) -> None:
    schema = model.model_json_schema()
    instance = fill_schema(schema, seed=seed)
    jsonschema.validate(instance, schema)
    model.model_validate(instance)


def test_fill_is_deterministic_and_handles_recursion() -> None:
    schema = Tree.model_json_schema()
    first = fill_schema(schema, seed="s")
    assert first == fill_schema(schema, seed="s")
    assert json.dumps(first) != json.dumps(fill_schema(schema, seed="other"))
    Tree.model_validate(first)
    assert first["count"] % 4 == 0 and first["count"] >= 3


def test_unsatisfiable_schemas_raise() -> None:
    with pytest.raises(SchemaFillError):
        fill_schema({"type": "integer", "minimum": 5, "maximum": 4})
    with pytest.raises(SchemaFillError):
        fill_schema({"enum": []})
