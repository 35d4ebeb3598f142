"""Validate request bodies against the vendors' own published schemas.

Why: an emulator that accepts whatever batchkit sends would prove nothing, so request bodies are
checked against the vendor's OpenAPI schema, not against batchkit's models. The schemas ship in
``batchkit/testing/specs/<vendor>.json`` (extracted by ``scripts/extract_specs.py``) so the package
works without the vendor's multi-megabyte YAML. ``jsonschema`` is imported lazily: only tests and
the emulators need it, never a normal batchkit run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

SPEC_DIR = Path(__file__).resolve().parent / "specs"
# One URI per vendor document so `$ref`s resolve through a `referencing` registry.
_DOCUMENT_URI = "urn:batchkit:spec:{vendor}"


@cache
def load_spec(vendor: str) -> dict[str, Any]:
    """Return the shipped schema document for ``vendor`` (``{"$defs": {...}, ...}``)."""
    try:
        text = (SPEC_DIR / f"{vendor}.json").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyError(f"no shipped schema document for vendor {vendor!r}") from None
    document: dict[str, Any] = json.loads(text)
    return document


def schema_names(vendor: str) -> list[str]:
    """Names of every schema shipped for ``vendor`` (the roots and what they reference)."""
    return sorted(load_spec(vendor)["$defs"])


def _one_of_as_any_of(
    validator: Any, one_of: list[Any], instance: Any, schema: Any
) -> Iterator[Any]:
    """``oneOf`` read as "valid under at least one".

    The OpenAI spec's ``oneOf`` branches overlap: a ``/v1/responses`` user message with content
    parts is both an ``EasyInputMessage`` and an ``InputMessage``, so strict ``oneOf`` would reject
    every such message (the spec's own examples included) while the vendor accepts them.
    """
    from jsonschema import ValidationError

    errors: list[Any] = []
    for index, branch in enumerate(one_of):
        branch_errors = list(validator.descend(instance, branch, schema_path=index))
        if not branch_errors:
            return
        errors.extend(branch_errors)
    yield ValidationError("is not valid under any of the given schemas", context=errors)


@cache
def _validator(vendor: str, schema_name: str) -> Validator:
    from jsonschema import Draft202012Validator, validators
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    document = load_spec(vendor)
    if schema_name not in document["$defs"]:
        raise KeyError(f"schema {schema_name!r} is not in the shipped {vendor} document")
    uri = _DOCUMENT_URI.format(vendor=vendor)
    registry: Registry[Any] = Registry().with_resource(
        uri, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    root = {"$ref": f"{uri}#/$defs/{schema_name}"}
    lenient = validators.extend(Draft202012Validator, {"oneOf": _one_of_as_any_of})
    validator: Validator = lenient(root, registry=registry)
    return validator


def validate(vendor: str, schema_name: str, instance: Any) -> list[str]:
    """Check ``instance`` against the vendor schema ``schema_name``; return the problems found.

    Each problem reads ``"<json path>: <message>"`` (path ``$`` for the root). The list is empty
    when the instance is valid. Raises ``KeyError`` for an unknown vendor or schema name.
    """
    validator = _validator(vendor, schema_name)
    problems = []
    for error in validator.iter_errors(instance):
        problems.append(f"{_json_path(error.absolute_path)}: {_best_message(error)}")
    return sorted(problems)


def _json_path(path: Any) -> str:
    text = "$"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _best_message(error: Any) -> str:
    """Describe a failed ``anyOf``/``oneOf`` by its most specific branch, not the whole instance."""
    from jsonschema.exceptions import best_match

    if error.context:
        deepest = best_match(error.context)
        if deepest is not None and deepest.absolute_path != error.absolute_path:
            return f"{deepest.message} (at {_json_path(deepest.absolute_path)})"
        if deepest is not None:
            return str(deepest.message)
    message: str = error.message
    return message


def property_names(vendor: str, schema_name: str) -> frozenset[str]:
    """Top-level property names the schema declares, through ``allOf`` and ``$ref``.

    Why: several request schemas are ``allOf`` compositions without ``additionalProperties:
    false``, yet the vendor rejects unknown arguments; this is the list to check them against.
    """
    return frozenset(_collect(vendor, schema_name, "properties"))


def required_names(vendor: str, schema_name: str) -> frozenset[str]:
    """Top-level required property names, through ``allOf`` and ``$ref``."""
    return frozenset(_collect(vendor, schema_name, "required"))


@cache
def _collect(vendor: str, schema_name: str, keyword: str) -> tuple[str, ...]:
    definitions = load_spec(vendor)["$defs"]
    names: set[str] = set()
    pending: list[Any] = [definitions[schema_name]]
    while pending:
        node = pending.pop()
        if not isinstance(node, dict):
            continue
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            pending.append(definitions[ref[len("#/$defs/"):]])
        pending.extend(node.get("allOf", []))
        names.update(node.get(keyword, []))
    return tuple(sorted(names))
