"""Build one valid instance of a JSON schema, deterministically.

Why: when a request asks for structured output (``response_format: json_schema``), the emulator
must answer with JSON that satisfies the schema, exactly as the vendor's strict mode promises, so
that batchkit's parsing into the caller's pydantic model is exercised for real. The generator
covers what pydantic and hand-written schemas use: ``$ref``/``$defs``, ``enum``/``const``,
``anyOf``/``oneOf``/``allOf``, nested objects with required and optional properties, arrays with
bounds, string lengths and common formats, numeric bounds and ``multipleOf``. ``pattern`` is not
solved. Recursive schemas terminate: beyond a depth, optional parts are left out and nullable or
empty choices are preferred.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

_MAX_DEPTH = 6
_FORMATS: dict[str, str] = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "hostname": "example.com",
    "duration": "P1D",
}


class SchemaFillError(ValueError):
    """The schema cannot be satisfied by this generator (e.g. an unsatisfiable combination)."""


def fill_schema(schema: dict[str, Any] | bool, *, seed: str = "") -> Any:
    """Return an instance of ``schema``; ``seed`` varies the generated strings and numbers."""
    root = schema if isinstance(schema, dict) else {}
    if schema is False:
        raise SchemaFillError("the schema `false` has no instances")
    return _Filler(root, seed).fill(root, "value", 0)


class _Filler:
    def __init__(self, root: dict[str, Any], seed: str) -> None:
        self.root = root
        self.seed = seed

    def _number(self, label: str) -> int:
        digest = hashlib.sha256(f"{self.seed}/{label}".encode()).digest()
        return int.from_bytes(digest[:4], "big")

    def resolve(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#"):
            raise SchemaFillError(f"only local references are supported, not {ref!r}")
        node: Any = self.root
        for token in ref[1:].split("/")[1:]:
            key = token.replace("~1", "/").replace("~0", "~")
            node = node[int(key)] if isinstance(node, list) else node[key]
        if not isinstance(node, dict):
            raise SchemaFillError(f"reference {ref!r} does not point at a schema")
        return node

    def fill(self, schema: dict[str, Any] | bool, label: str, depth: int) -> Any:
        if schema is True or schema == {}:
            return f"{label}-{self._number(label) % 1000}"
        if schema is False:
            raise SchemaFillError(f"no instance allowed at {label}")
        assert isinstance(schema, dict)
        if "$ref" in schema:
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            target = self.resolve(schema["$ref"])
            merged = _merge(target, siblings) if siblings else target
            return self.fill(merged, label, depth + 1)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            options = schema["enum"]
            if not options:
                raise SchemaFillError(f"empty enum at {label}")
            return options[self._number(label) % len(options)]
        if "allOf" in schema:
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                part = self.resolve(part["$ref"]) if "$ref" in part else part
                merged = _merge(merged, part)
            return self.fill(merged, label, depth)
        for keyword in ("anyOf", "oneOf"):
            if keyword in schema:
                rest = {k: v for k, v in schema.items() if k != keyword}
                branch = self._choose(schema[keyword], depth)
                return self.fill(_merge(rest, branch) if rest else branch, label, depth)
        return self._by_type(schema, label, depth)

    def _choose(self, branches: list[Any], depth: int) -> Any:
        """Prefer a real value near the top, and ``null`` (ending recursion) deep down."""
        if not branches:
            raise SchemaFillError("anyOf/oneOf without branches")
        nulls = [b for b in branches if isinstance(b, dict) and b.get("type") == "null"]
        others = [b for b in branches if b not in nulls]
        if depth >= _MAX_DEPTH and nulls:
            return nulls[0]
        return others[0] if others else nulls[0]

    def _by_type(self, schema: dict[str, Any], label: str, depth: int) -> Any:
        kind = schema.get("type")
        if isinstance(kind, list):
            choices = [k for k in kind if k != "null"] or ["null"]
            kind = "null" if depth >= _MAX_DEPTH and "null" in kind else choices[0]
        if kind is None:
            kind = _infer_type(schema)
        if kind == "object":
            return self._object(schema, label, depth)
        if kind == "array":
            return self._array(schema, label, depth)
        if kind == "string":
            return self._string(schema, label)
        if kind == "integer":
            return self._integer(schema, label)
        if kind == "number":
            return self._float(schema, label)
        if kind == "boolean":
            return self._number(label) % 2 == 0
        if kind == "null":
            return None
        raise SchemaFillError(f"unsupported type {kind!r} at {label}")

    def _object(self, schema: dict[str, Any], label: str, depth: int) -> dict[str, Any]:
        properties: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", []))
        result: dict[str, Any] = {}
        for name, sub in properties.items():
            if name in required or depth < _MAX_DEPTH // 2:
                result[name] = self.fill(sub, f"{label}.{name}", depth + 1)
        for name in sorted(required - set(properties)):
            extra = schema.get("additionalProperties", True)
            result[name] = self.fill(extra if isinstance(extra, dict) else True, name, depth + 1)
        minimum = int(schema.get("minProperties", 0))
        extra_schema = schema.get("additionalProperties", True)
        index = 0
        while len(result) < minimum and extra_schema is not False:
            key = f"key_{index}"
            index += 1
            if key not in result:
                sub = extra_schema if isinstance(extra_schema, dict) else True
                result[key] = self.fill(sub, f"{label}.{key}", depth + 1)
        return result

    def _array(self, schema: dict[str, Any], label: str, depth: int) -> list[Any]:
        prefix: list[Any] = schema.get("prefixItems", [])
        low = int(schema.get("minItems", 0))
        high = schema.get("maxItems")
        wanted = max(low, len(prefix), 0 if depth >= _MAX_DEPTH else 1)
        if high is not None:
            wanted = min(wanted, int(high))
        items = schema.get("items", True)
        result = []
        for index in range(wanted):
            sub = prefix[index] if index < len(prefix) else items
            result.append(self.fill(sub, f"{label}[{index}]", depth + 1))
        if schema.get("uniqueItems") and len({repr(v) for v in result}) != len(result):
            raise SchemaFillError(f"cannot make unique items at {label}")
        return result

    def _string(self, schema: dict[str, Any], label: str) -> str:
        fmt = schema.get("format")
        text = _FORMATS.get(fmt, "") if isinstance(fmt, str) else ""
        if not text:
            text = f"{label.rsplit('.', 1)[-1]} {self._number(label) % 1000}"
        low = int(schema.get("minLength", 0))
        high = schema.get("maxLength")
        if len(text) < low:
            text = text + "x" * (low - len(text))
        if high is not None and len(text) > int(high):
            text = text[: int(high)]
        return text

    def _integer(self, schema: dict[str, Any], label: str) -> int:
        value = self._in_bounds(schema, label)
        if not float(value).is_integer():
            raise SchemaFillError(f"no integer satisfies multipleOf at {label}")
        return int(value)

    def _in_bounds(self, schema: dict[str, Any], label: str) -> int | float:
        """An integral value (or multiple of ``multipleOf``) inside the schema's bounds."""
        low, high = _bounds(schema, step=1)
        lo_i = math.ceil(low) if low is not None else None
        hi_i = math.floor(high) if high is not None else None
        candidate = self._number(label) % 100
        if lo_i is not None and hi_i is not None:
            candidate = lo_i + candidate % (hi_i - lo_i + 1) if hi_i >= lo_i else lo_i
        elif lo_i is not None:
            candidate = lo_i + candidate
        elif hi_i is not None:
            candidate = hi_i - candidate
        value: int | float = candidate
        if "multipleOf" in schema:
            value = _snap_multiple(candidate, schema["multipleOf"], low, high, label)
        if (low is not None and value < low) or (high is not None and value > high):
            raise SchemaFillError(f"no value satisfies the bounds at {label}")
        return value

    def _float(self, schema: dict[str, Any], label: str) -> float | int:
        if "multipleOf" in schema:
            return self._in_bounds(schema, label)
        low, high = _bounds(schema, step=1e-6)
        fraction = (self._number(label) % 1000) / 1000
        if low is not None and high is not None:
            if high < low:
                raise SchemaFillError(f"no number satisfies the bounds at {label}")
            return low + (high - low) * fraction
        if low is not None:
            return low + fraction
        if high is not None:
            return high - fraction
        return round(fraction * 10, 3)


def _snap_multiple(
    value: int, step: float, low: float | None, high: float | None, label: str
) -> int | float:
    """Move ``value`` to a multiple of ``step`` inside [low, high]."""
    start = math.ceil(low / step) if low is not None else math.floor(value / step)
    result: int | float = start * step
    if isinstance(step, int):
        result = int(result)
    if high is not None and result > high:
        raise SchemaFillError(f"no multiple of {step} within the bounds at {label}")
    return result


def _bounds(schema: dict[str, Any], step: float) -> tuple[float | None, float | None]:
    low = schema.get("minimum")
    high = schema.get("maximum")
    exclusive_low = schema.get("exclusiveMinimum")
    exclusive_high = schema.get("exclusiveMaximum")
    if isinstance(exclusive_low, (int, float)) and not isinstance(exclusive_low, bool):
        low = max(low, exclusive_low + step) if low is not None else exclusive_low + step
    if isinstance(exclusive_high, (int, float)) and not isinstance(exclusive_high, bool):
        high = min(high, exclusive_high - step) if high is not None else exclusive_high - step
    return low, high


def _infer_type(schema: dict[str, Any]) -> str:
    if "properties" in schema or "additionalProperties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "multipleOf")):
        return "number"
    return "string"


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Combine two schemas that must both hold (for ``allOf`` and ``$ref`` with siblings)."""
    merged = dict(base)
    for key, value in extra.items():
        if key == "properties" and key in merged:
            merged[key] = {**merged[key], **value}
        elif key == "required" and key in merged:
            merged[key] = sorted(set(merged[key]) | set(value))
        elif key in ("minimum", "minLength", "minItems", "exclusiveMinimum") and key in merged:
            merged[key] = max(merged[key], value)
        elif key in ("maximum", "maxLength", "maxItems", "exclusiveMaximum") and key in merged:
            merged[key] = min(merged[key], value)
        else:
            merged[key] = value
    return merged
