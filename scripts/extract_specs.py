"""Extract the request schemas the emulators validate against into compact JSON files.

Why: the vendor's OpenAPI file is 3 MB of YAML that takes seconds to parse and does not ship with
the package. The emulator needs only a few request schemas and everything they reference, so this
script copies exactly that closure into ``src/batchkit/testing/specs/<vendor>.json``, dropping
documentation-only keywords and translating OpenAPI-isms (``nullable``) into plain JSON Schema
2020-12. The output is deterministic, so a test can compare the shipped file with a fresh run.

Usage: python scripts/extract_specs.py [--specs-dir tests/specs] [--out DIR]

The vendors' specs live gzipped in ``tests/specs/`` (sources and commits in its SOURCES.md).
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

# Which component schemas each vendor's emulator validates request bodies against.
ROOT_SCHEMAS: dict[str, tuple[str, ...]] = {
    "openai": (
        "CreateChatCompletionRequest", "CreateEmbeddingRequest", "CreateResponse",
        "CreateBatchRequest", "CreateModerationRequest", "CreateModerationResponse",
    ),
    "cohere": ("Batch", "CreateEmbedJobRequest"),
    "mistral": (
        "ChatCompletionRequest", "EmbeddingRequest", "CreateBatchJobRequest", "BatchJob",
        "ListBatchJobsResponse", "ClassificationRequest", "ModerationResponse",
    ),
}
SPEC_FILES: dict[str, str] = {
    "openai": "openai-openapi.yaml", "cohere": "cohere-openapi.yaml",
    "mistral": "mistral-openapi.yaml",
}
# Request schemas a spec writes inline in an operation instead of under components, extracted
# under a name of our own: name -> (path, method, "body" | "query"). A "query" schema is an
# object whose properties are the operation's query parameters (Cohere's dataset upload takes
# its options there, not in the body).
INLINE_SCHEMAS: dict[str, dict[str, tuple[str, str, str]]] = {
    "cohere": {
        "CreateDatasetQuery": ("/v1/datasets", "post", "query"),
        "V2ChatRequest": ("/v2/chat", "post", "body"),
        "TokenizeRequest": ("/v1/tokenize", "post", "body"),
    },
}

COMPONENT_PREFIX = "#/components/schemas/"
DEFS_PREFIX = "#/$defs/"
# Keywords whose value maps names to subschemas (the names are data, not keywords).
SCHEMA_MAPS = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
)
# Keywords whose value is one subschema.
SCHEMA_VALUED = frozenset(
    {
        "items", "additionalProperties", "not", "if", "then", "else", "contains",
        "propertyNames", "unevaluatedProperties", "unevaluatedItems", "additionalItems",
    }
)
# Keywords whose value is a list of subschemas.
SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
# Documentation or OpenAPI-only keywords that never change what validates.
DROPPED = frozenset(
    {"description", "example", "examples", "title", "deprecated", "discriminator", "externalDocs",
     "default", "readOnly", "writeOnly", "xml"}
)


def _clean(schema: Any) -> Any:
    """Return a validation-equivalent copy of ``schema`` in plain JSON Schema 2020-12."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in DROPPED or key.startswith("x-") or key == "nullable":
            continue
        if key == "$ref" and isinstance(value, str) and value.startswith(COMPONENT_PREFIX):
            out[key] = DEFS_PREFIX + value[len(COMPONENT_PREFIX):]
        elif key in SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _clean(sub) for name, sub in value.items()}
        elif key in SCHEMA_VALUED:
            out[key] = _clean(value)
        elif key in SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_clean(sub) for sub in value]
        else:
            out[key] = value
    if schema.get("nullable") is True:
        out = _allow_null(out)
    return out


def _allow_null(schema: dict[str, Any]) -> dict[str, Any]:
    """Translate OpenAPI 3.0 ``nullable: true`` into a 2020-12 schema that also accepts null."""
    kind = schema.get("type")
    if isinstance(kind, str) and "$ref" not in schema:
        widened = dict(schema, type=[kind, "null"])
        if "enum" in widened and None not in widened["enum"]:
            widened["enum"] = [*widened["enum"], None]
        return widened
    return {"anyOf": [schema, {"type": "null"}]}


def _refs(schema: Any) -> Iterable[str]:
    """Yield the component names referenced anywhere inside ``schema``."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(COMPONENT_PREFIX):
            yield ref[len(COMPONENT_PREFIX):]
        for value in schema.values():
            yield from _refs(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _refs(item)


def inline_schema(spec: dict[str, Any], path: str, method: str, where: str) -> dict[str, Any]:
    """The request body schema of an operation, or an object schema of its query parameters."""
    operation = spec["paths"][path][method]
    if where == "body":
        schema: dict[str, Any] = operation["requestBody"]["content"]["application/json"]["schema"]
        return schema
    query = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
    return {
        "type": "object",
        "properties": {p["name"]: p["schema"] for p in query},
        "required": [p["name"] for p in query if p.get("required")],
    }


def extract(
    spec: dict[str, Any], roots: Iterable[str], inline: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Return ``{"$defs": {...}}`` holding ``roots`` and every component they reach.

    ``inline`` adds named schemas that are not components (see ``INLINE_SCHEMAS``); their names
    are roots too.
    """
    components: dict[str, Any] = dict(spec["components"]["schemas"])
    for name, schema in (inline or {}).items():
        if name in components:
            raise ValueError(f"inline schema name {name!r} shadows a component")
        components[name] = schema
    roots = [*roots, *(inline or {})]
    wanted: list[str] = list(roots)
    seen: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name in seen:
            continue
        seen.add(name)
        wanted.extend(_refs(components[name]))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {name: _clean(components[name]) for name in sorted(seen)},
    }


def _read_spec_text(path: Path) -> str:
    """The YAML, from ``path`` or, as the repository keeps it, its gzipped sibling."""
    packed = path.with_name(path.name + ".gz")
    if packed.is_file():
        return gzip.decompress(packed.read_bytes()).decode("utf-8")
    return path.read_text(encoding="utf-8")


def extract_vendor(vendor: str, specs_dir: Path) -> dict[str, Any]:
    """Parse the vendor's OpenAPI file and return the compact document for it."""
    spec = yaml.load(_read_spec_text(specs_dir / SPEC_FILES[vendor]),
                     Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    wanted = INLINE_SCHEMAS.get(vendor, {})
    inline = {name: inline_schema(spec, *where) for name, where in wanted.items()}
    document = extract(spec, ROOT_SCHEMAS[vendor], inline)
    document["x-batchkit-source"] = {
        "file": SPEC_FILES[vendor],
        "openapi": spec.get("openapi"),
        "version": spec.get("info", {}).get("version"),
        "roots": list(ROOT_SCHEMAS[vendor]),
    }
    if wanted:
        document["x-batchkit-source"]["inline"] = {
            name: " ".join(where) for name, where in wanted.items()
        }
    return document


def dump(document: dict[str, Any]) -> str:
    """Serialise deterministically (sorted keys, one line) so reruns produce identical bytes."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> None:
    repo = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs-dir", type=Path, default=repo / "tests" / "specs")
    parser.add_argument("--out", type=Path, default=repo / "src" / "batchkit" / "testing" / "specs")
    args = parser.parse_args(argv)
    for vendor in ROOT_SCHEMAS:
        target = args.out / f"{vendor}.json"
        target.write_text(dump(extract_vendor(vendor, args.specs_dir)), encoding="utf-8")
        print(f"wrote {target} ({target.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
