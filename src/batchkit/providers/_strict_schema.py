"""OpenAI's strict JSON-schema subset: turning a pydantic model's schema into one it accepts.

Why a module of its own: the OpenAI-shaped vendors that take ``response_format: json_schema``
(OpenAI, Azure, Groq's gpt-oss models) enforce the same *strict* subset, and the transformer is
a self-contained piece of logic with its own tests; the line codec (:mod:`.openai.codec`) only
asks it for a schema. Pure: no SDK, no I/O.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from pydantic import BaseModel

__all__ = [
    "StrictSchemaError",
    "schema_name",
    "strict_json_schema",
    "strict_schema_cached",
    "to_strict_schema",
]


class StrictSchemaError(ValueError):
    """A response model whose schema OpenAI's strict mode cannot express."""


# Keywords strict mode rejects but whose loss only loosens the schema: pydantic still validates
# the reply against the model afterwards, so dropping them is safe.
_DROPPED = frozenset({
    "default", "minLength", "maxLength", "uniqueItems", "minProperties", "maxProperties",
    "discriminator", "examples", "readOnly", "writeOnly", "deprecated", "contentEncoding",
    "contentMediaType", "contentSchema", "$schema", "$id", "minContains", "maxContains",
})
# Keywords whose loss would change what is allowed, so the model cannot be sent strict.
_REFUSED = frozenset({
    "patternProperties", "unevaluatedProperties", "unevaluatedItems", "propertyNames", "contains",
    "prefixItems", "not", "if", "then", "else", "dependentRequired", "dependentSchemas",
    "dependencies",
})
_FORMATS = frozenset({"date-time", "time", "date", "duration", "email", "hostname", "ipv4",
                      "ipv6", "uuid"})


def to_strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a pydantic JSON schema that OpenAI's ``strict: true`` mode accepts.

    Strict mode wants every object closed (``additionalProperties: false``) with every property
    in ``required``, a root that is an object rather than a ``$ref``, and only a subset of
    keywords. Fields that pydantic marks optional *because their type admits None* are already
    ``anyOf [..., null]`` and stay nullable. Fields that are optional only because they have a
    non-None default (``tags: list[str] = []``) become required but are *not* made nullable:
    a null there would fail pydantic validation of the reply, so the model is asked for a value.
    Raises :class:`StrictSchemaError` naming the path when strict mode cannot express the schema
    (free-form dicts, tuples, ``not``...).
    """
    defs: dict[str, Any] = dict(schema.get("$defs") or {})
    root: dict[str, Any] = {k: v for k, v in schema.items() if k != "$defs"}
    if set(root) == {"$ref"}:  # a recursive model: pydantic puts the model itself in $defs
        root = dict(_resolve(root["$ref"], defs))
    out = _strict_node(root, "$", defs)
    if out.get("type") != "object":
        raise StrictSchemaError("$: the root of a strict schema must be an object")
    if defs:
        out["$defs"] = {name: _strict_node(d, f"$defs.{name}", defs) for name, d in defs.items()}
    return out


def _resolve(ref: str, defs: Mapping[str, Any]) -> Mapping[str, Any]:
    name = ref.removeprefix("#/$defs/")
    if name == ref or name not in defs:
        raise StrictSchemaError(f"unsupported $ref {ref!r} (only '#/$defs/...' refs resolve)")
    target: Mapping[str, Any] = defs[name]
    return target


def _strict_node(node: Any, path: str, defs: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(node, Mapping):
        raise StrictSchemaError(f"{path}: expected a schema object, got {node!r}")
    node = dict(node)
    if "$ref" in node and len(node) > 1:
        # Strict mode takes no siblings next to $ref (pydantic adds `description` there):
        # inline the target, letting the siblings win.
        node = {**_resolve(node.pop("$ref"), defs), **node}
    all_of = node.pop("allOf", None)
    if all_of is not None:
        if len(all_of) != 1:
            raise StrictSchemaError(f"{path}: 'allOf' with several schemas is not supported")
        node = {**_strict_node(all_of[0], path, defs), **node}
    refused = _REFUSED.intersection(node)
    if refused:
        raise StrictSchemaError(f"{path}: keyword {sorted(refused)[0]!r} is not supported")
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED or (key == "format" and value not in _FORMATS):
            continue
        if key in ("anyOf", "oneOf"):  # oneOf (discriminated unions) is not in the subset
            out["anyOf"] = [_strict_node(v, f"{path}.{key}[{i}]", defs)
                            for i, v in enumerate(value)]
        elif key == "items":
            out[key] = _strict_node(value, f"{path}.items", defs)
        elif key == "properties":
            out[key] = {name: _strict_node(v, f"{path}.{name}", defs)
                        for name, v in value.items()}
        elif key != "additionalProperties":
            out[key] = value
    if out.get("type") == "object" or "properties" in out:
        extra = node.get("additionalProperties", False)
        if extra is not False:
            raise StrictSchemaError(
                f"{path}: free-form objects (dict fields) cannot be strict; use a model"
            )
        out.setdefault("properties", {})
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    if not out.keys() & {"type", "anyOf", "$ref", "enum", "const"}:
        raise StrictSchemaError(f"{path}: every value needs a type (is it typed Any?)")
    return out


@cache
def strict_schema_cached(model: type[BaseModel]) -> dict[str, Any]:
    """The strict schema of ``model``, computed once per class (shared: treat as read-only)."""
    return to_strict_schema(model.model_json_schema())


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The strict schema of a response model (computed once per class, returned as a copy)."""
    return copy.deepcopy(strict_schema_cached(model))


def schema_name(model: type[BaseModel]) -> str:
    """The ``json_schema.name`` for a model: the spec allows ``[a-zA-Z0-9_-]``, at most 64."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", model.__name__)[:64] or "response"
