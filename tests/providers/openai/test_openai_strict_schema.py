"""The OpenAI strict-schema transformer: every object closed and fully required, the keywords
strict mode drops or keeps, and the schemas it cannot express named by path."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field
from tests.providers.openai._codec_requests import Label

from batchkit.providers.openai.codec import (
    StrictSchemaError,
    schema_name,
    strict_json_schema,
    to_strict_schema,
)

# -- strict schema ---------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str = Field(min_length=2, description="street and number")
    zip: str | None = None


class Cat(BaseModel):
    kind: Literal["cat"] = "cat"
    lives: int = Field(ge=0, le=9)


class Dog(BaseModel):
    kind: Literal["dog"] = "dog"
    good: bool


class Person(BaseModel):
    name: str
    color: Color
    mood: Literal["happy", "sad"]
    home: Address = Field(description="where they live")
    past: list[Address] = []
    work: Address | None = None
    pet: Cat | Dog = Field(discriminator="kind")
    tags: set[str]
    born: datetime
    site: str = Field(json_schema_extra={"format": "uri"})
    children: list[Person] = []


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_strict_schema_closes_every_object_and_requires_every_property() -> None:
    schema = strict_json_schema(Person)
    objects = [n for n in _walk(schema) if n.get("type") == "object"]
    assert len(objects) >= 5  # root, Address (inlined + $defs), Cat, Dog, Person def
    for node in objects:
        assert node["additionalProperties"] is False
        assert node["required"] == list(node["properties"])
    assert schema["required"] == list(Person.model_fields)


def test_strict_schema_keywords() -> None:
    schema = strict_json_schema(Person)
    keys = {k for n in _walk(schema) for k in n}
    assert not keys & {"default", "minLength", "uniqueItems", "discriminator", "oneOf", "allOf"}
    props = schema["properties"]
    assert props["work"]["anyOf"] == [{"$ref": "#/$defs/Address"}, {"type": "null"}]  # Optional
    assert props["past"]["items"] == {"$ref": "#/$defs/Address"}  # list kept, non-null
    assert "anyOf" not in props["past"]
    assert props["pet"]["anyOf"] == [{"$ref": "#/$defs/Cat"}, {"$ref": "#/$defs/Dog"}]
    assert props["mood"]["enum"] == ["happy", "sad"]  # Literal
    assert schema["$defs"]["Color"]["enum"] == ["red", "blue"]  # Enum
    assert schema["$defs"]["Cat"]["properties"]["kind"]["const"] == "cat"
    assert schema["$defs"]["Cat"]["properties"]["lives"]["maximum"] == 9  # supported: kept
    assert props["born"]["format"] == "date-time"  # supported format kept
    assert "format" not in props["site"]  # unsupported format dropped
    # a $ref with a sibling description is inlined, the sibling winning
    assert props["home"]["description"] == "where they live"
    assert props["home"]["additionalProperties"] is False and "$ref" not in props["home"]


def test_recursive_model_root_is_an_object_with_defs() -> None:
    class Node(BaseModel):
        value: int
        children: list[Node]

    assert Node.model_json_schema()["$ref"] == "#/$defs/Node"  # what pydantic gives
    schema = strict_json_schema(Node)
    assert schema["type"] == "object" and "$ref" not in schema
    assert schema["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    assert schema["$defs"]["Node"]["additionalProperties"] is False


def _person() -> Person:
    return Person(
        name="Ana", color=Color.RED, mood="happy", home=Address(street="Main 1"),
        pet=Dog(good=True), tags={"x"}, born=datetime(2000, 1, 2, 3, 4, 5),
        site="https://a.test", children=[Person(
            name="Bo", color=Color.BLUE, mood="sad", home=Address(street="Side 2", zip="1"),
            work=Address(street="Job 3"), pet=Cat(lives=3), tags=set(),
            born=datetime(2020, 1, 1), site="https://b.test")],
    )


def test_real_instances_validate_and_bad_ones_do_not() -> None:
    schema = strict_json_schema(Person)
    good = _person().model_dump(mode="json")
    jsonschema.validate(good, schema)
    missing = {k: v for k, v in good.items() if k != "work"}
    extra = {**good, "nickname": "A"}
    for bad in (missing, extra, {**good, "mood": "angry"}, {**good, "past": None}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
    # the strict reply, fed back to pydantic, gives the object back
    assert Person.model_validate(good) == _person()


def test_strict_schema_returns_a_fresh_copy() -> None:
    first = strict_json_schema(Label)
    first["properties"].clear()
    assert strict_json_schema(Label)["properties"] != {}


@pytest.mark.parametrize(("annotation", "why"), [
    (dict[str, int], "free-form objects"),
    (tuple[int, str], "'prefixItems'"),
    (Any, "needs a type"),
])
def test_unexpressible_schemas_raise_naming_the_path(annotation: Any, why: str) -> None:
    model = type("M", (BaseModel,), {"__annotations__": {"field": annotation}})
    with pytest.raises(StrictSchemaError, match=rf"\$\.field: .*{why}|\$\.field: {why}"):
        strict_json_schema(model)


def test_root_must_be_an_object_and_refs_must_resolve() -> None:
    with pytest.raises(StrictSchemaError, match="root"):
        to_strict_schema({"type": "string"})
    with pytest.raises(StrictSchemaError, match="unsupported \\$ref"):
        to_strict_schema({"type": "object", "properties": {
            "a": {"$ref": "#/definitions/X", "description": "d"}}})


def test_schema_name_is_sanitised() -> None:
    weird = type("Weird Name.v2" + "x" * 80, (BaseModel,), {})
    name = schema_name(weird)
    assert name.startswith("Weird_Name_v2") and len(name) == 64
