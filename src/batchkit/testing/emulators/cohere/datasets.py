"""Emulated Cohere datasets: upload parsing, asynchronous validation, and Avro parts.

Why a separate module: a Cohere dataset is the vendor's unit of both input and output. Inputs are
validated *after* the upload (``queued`` -> ``processing`` -> ``validated`` | ``failed`` on the
shared :class:`~batchkit.testing._clock.EmulatorClock`) with the rules Cohere documents for
``embed-input``: a ``text`` field on every row, not empty; every ``keep_fields`` field on every
row; ``optional_fields`` may be missing; other fields are dropped. Outputs (an embed job's
``embed-result``, a batch's results) are served as Avro parts at signed-looking URLs, because that
is what the SDK's ``dataset_generator`` reads (``requests.get(part.url)`` + ``fastavro.reader``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import fastavro

from batchkit.testing import _spec

EMBED_INPUT, CHAT_INPUT = "embed-input", "batch-chat-v2-input"
INPUT_TYPES = frozenset({EMBED_INPUT, CHAT_INPUT})
EMBEDDING_TYPES = ("float", "int8", "uint8", "binary", "ubinary")


def rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat().replace("+00:00", "Z")


class DatasetInvalid(ValueError):
    """The uploaded file breaks a rule of its dataset type (becomes ``validation_error``)."""


@dataclass
class ValidationPhases:
    """How long a dataset stays in each validation status, in emulator seconds."""

    queued: float = 5.0
    processing: float = 10.0


@dataclass
class EmulatedDataset:
    id: str
    name: str
    dataset_type: str
    created_at: float
    rows: list[dict[str, Any]] = field(default_factory=list)
    keep_fields: list[str] = field(default_factory=list)
    optional_fields: list[str] = field(default_factory=list)
    problem: str | None = None
    """Why validation will fail, known at upload and revealed when validation ends."""
    warnings: list[str] = field(default_factory=list)
    phases: ValidationPhases | None = None
    """None for output datasets, which exist only once validated."""
    schema: dict[str, Any] | None = None
    parts: list[bytes] = field(default_factory=list)
    part_rows: list[int] = field(default_factory=list)

    def next_due(self, now: float) -> float | None:
        """When validation next moves on (None once it has ended)."""
        if self.phases is None:
            return None
        queued_until = self.created_at + self.phases.queued
        for due in (queued_until, queued_until + self.phases.processing):
            if due > now:
                return due
        return None

    def validation_status(self, now: float) -> str:
        if self.phases is None:
            return "validated"
        if now < self.created_at + self.phases.queued:
            return "queued"
        if now < self.created_at + self.phases.queued + self.phases.processing:
            return "processing"
        return "failed" if self.problem else "validated"

    def is_validated(self, now: float) -> bool:
        return self.validation_status(now) == "validated"

    def as_json(self, now: float, storage_url: str) -> dict[str, Any]:
        """The spec's ``Dataset`` object; parts only once validated."""
        status = self.validation_status(now)
        out: dict[str, Any] = {
            "id": self.id, "name": self.name, "dataset_type": self.dataset_type,
            "created_at": rfc3339(self.created_at), "updated_at": rfc3339(self._updated(now)),
            "validation_status": status,
        }
        if status == "failed":
            out["validation_error"] = self.problem
        if self.dataset_type == EMBED_INPUT:
            out["required_fields"] = ["text"]
            out["preserve_fields"] = [*self.keep_fields, *self.optional_fields]
        if self.warnings:
            out["validation_warnings"] = list(self.warnings)
        if status == "validated" and self.schema is not None:
            out["schema"] = json.dumps(self.schema)
            out["dataset_parts"] = [
                {"id": f"{self.id}-part-{i}", "name": f"{self.name}-{i}.avro", "index": i,
                 "url": f"{storage_url}/{self.id}/{i}.avro?X-Goog-Signature={self.signature(i)}",
                 "size_bytes": len(data), "num_rows": self.part_rows[i]}
                for i, data in enumerate(self.parts)
            ]
        return out

    def _updated(self, now: float) -> float:
        if self.phases is None:
            return self.created_at
        return min(now, self.created_at + self.phases.queued + self.phases.processing)

    def signature(self, index: int) -> str:
        """Stands in for a storage signature, so a tampered part URL is refused."""
        return hashlib.sha256(f"{self.id}/{index}".encode()).hexdigest()[:32]

    def seal(self, records: list[dict[str, Any]], schema: dict[str, Any],
             rows_per_part: int) -> None:
        """Write ``records`` as Avro parts of at most ``rows_per_part`` records each."""
        self.schema = schema
        parsed = fastavro.parse_schema(schema)
        self.parts, self.part_rows = [], []
        for start in range(0, max(len(records), 1), rows_per_part):
            chunk = records[start:start + rows_per_part]
            buffer = io.BytesIO()
            fastavro.writer(buffer, parsed, chunk)
            self.parts.append(buffer.getvalue())
            self.part_rows.append(len(chunk))


# -- parsing and validating uploads ----------------------------------------------------------


def parse_upload(filename: str | None, data: bytes, csv_delimiter: str | None) -> list[Any]:
    """The rows of an uploaded ``.jsonl`` or ``.csv`` file (Cohere takes those two for embed
    input); raises :class:`DatasetInvalid` naming the line."""
    name = (filename or "").lower()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DatasetInvalid("the file is not valid UTF-8") from None
    if name.endswith(".csv"):
        if csv_delimiter is not None and len(csv_delimiter) != 1:
            raise DatasetInvalid("csv_delimiter must be a single character")
        reader = csv.DictReader(io.StringIO(text), delimiter=csv_delimiter or ",")
        return [{k: v for k, v in row.items() if v != ""} for row in reader]
    if not name.endswith(".jsonl"):
        raise DatasetInvalid(f"unsupported file type {filename!r}: upload a .jsonl or .csv file")
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DatasetInvalid(f"line {number}: invalid JSON ({exc.msg})") from None
    return rows


def validate_embed_input(
    rows: list[Any], keep: list[str], optional: list[str], skip_malformed: bool
) -> tuple[list[dict[str, Any]], list[str]]:
    """``embed-input`` rules; returns the rows as stored (text + kept fields) and warnings."""
    kept: list[dict[str, Any]] = []
    warnings: list[str] = []
    for number, row in enumerate(rows, start=1):
        problem = _embed_row_problem(row, keep)
        if problem is not None:
            if not skip_malformed:
                raise DatasetInvalid(f"row {number}: {problem}")
            warnings.append(f"row {number} dropped: {problem}")
            continue
        kept.append({k: row[k] for k in ("text", *keep, *optional) if row.get(k) is not None})
    if not kept:
        raise DatasetInvalid("the dataset has no valid rows")
    return kept, warnings


def _embed_row_problem(row: Any, keep: list[str]) -> str | None:
    if not isinstance(row, dict):
        return "a row must be an object"
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        return "field 'text' is required and must be a non-empty string"
    for name in keep:
        if row.get(name) is None:
            return f"missing field {name!r}, which keep_fields requires on every row"
    return None


def validate_chat_input(rows: list[Any]) -> list[dict[str, Any]]:
    """``batch-chat-v2-input``: one ``{"custom_id", "body"}`` object per line, ids unique. The
    body itself is checked when the batch runs (a bad one fails only its record)."""
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not isinstance(row.get("custom_id"), str):
            raise DatasetInvalid(f"line {number}: 'custom_id' (a string) is required")
        if not isinstance(row.get("body"), dict):
            raise DatasetInvalid(f"line {number}: 'body' (an object) is required")
        if row["custom_id"] in seen:
            raise DatasetInvalid(f"line {number}: duplicate custom_id {row['custom_id']!r}")
        seen.add(row["custom_id"])
    if not rows:
        raise DatasetInvalid("the dataset has no rows")
    return [dict(r) for r in rows]


# -- Avro schemas ----------------------------------------------------------------------------

_AVRO_TYPES = ((bool, "boolean"), (int, "long"), (float, "double"), (str, "string"))


def _field_type(values: Iterable[Any], optional: bool) -> Any:
    """The Avro type of a kept field from the values it holds (a union where they differ)."""
    found = {next((avro for py, avro in _AVRO_TYPES if isinstance(v, py)), "string")
             for v in values if v is not None}
    ordered = [avro for _, avro in _AVRO_TYPES if avro in found] or ["string"]
    if optional:
        return ["null", *ordered]
    return ordered[0] if len(ordered) == 1 else ordered


def _stringify(row: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """Objects and lists have no Avro field type here; they are stored as JSON text."""
    return {n: json.dumps(row[n]) if isinstance(row.get(n), (dict, list)) else row.get(n)
            for n in names}


def fields_schema(
    rows: list[dict[str, Any]], keep: list[str], optional: list[str]
) -> list[dict[str, Any]]:
    """Avro fields for the kept (required) and optional metadata of ``rows``."""
    out = []
    for names, is_optional in ((keep, False), (optional, True)):
        for name in names:
            kind = _field_type((_stringify(r, [name])[name] for r in rows), is_optional)
            entry: dict[str, Any] = {"name": name, "type": kind}
            if is_optional:
                entry["default"] = None
            out.append(entry)
    return out


def embed_result_schema(metadata_fields: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"text", "embeddings": {type: [values] | null}, <kept fields>}`` as the guide shows."""
    vectors = [{"name": t, "type": ["null", {"type": "array",
                                             "items": "float" if t == "float" else "int"}],
                "default": None} for t in EMBEDDING_TYPES]
    return {"type": "record", "name": "EmbedResult", "fields": [
        {"name": "text", "type": "string"},
        {"name": "embeddings", "type": {"type": "record", "name": "Embeddings",
                                        "fields": vectors}},
        *metadata_fields,
    ]}


def input_schema(metadata_fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "record", "name": "EmbedInput",
            "fields": [{"name": "text", "type": "string"}, *metadata_fields]}


def stored_row(row: dict[str, Any], keep: list[str], optional: list[str]) -> dict[str, Any]:
    return {"text": row["text"], **_stringify(row, [*keep, *optional])}


_TOKENS = {"type": "record", "name": "{name}", "fields": [
    {"name": "input_tokens", "type": "double"}, {"name": "output_tokens", "type": "double"}]}
CHAT_RESULT_SCHEMA: dict[str, Any] = {
    "type": "record", "name": "BatchChatResult", "fields": [
        {"name": "custom_id", "type": "string"},
        {"name": "body", "type": ["null", {"type": "record", "name": "ChatResponse", "fields": [
            {"name": "id", "type": "string"},
            {"name": "finish_reason", "type": "string"},
            {"name": "message", "type": {"type": "record", "name": "AssistantMessage", "fields": [
                {"name": "role", "type": "string"},
                {"name": "content", "type": {"type": "array", "items": [
                    {"type": "record", "name": "TextContent", "fields": [
                        {"name": "type", "type": "string"}, {"name": "text", "type": "string"},
                    ]},
                    {"type": "record", "name": "ThinkingContent", "fields": [
                        {"name": "type", "type": "string"},
                        {"name": "thinking", "type": "string"},
                    ]},
                ]}, "default": []},
                {"name": "tool_plan", "type": ["null", "string"], "default": None},
                {"name": "tool_calls", "type": ["null", {"type": "array", "items": {
                    "type": "record", "name": "ToolCall", "fields": [
                        {"name": "id", "type": "string"}, {"name": "type", "type": "string"},
                        {"name": "function", "type": {"type": "record", "name": "Function",
                                                      "fields": [
                            {"name": "name", "type": "string"},
                            {"name": "arguments", "type": "string"},
                        ]}},
                    ]}}], "default": None},
            ]}},
            {"name": "logprobs", "type": ["null", {"type": "array", "items": {
                "type": "record", "name": "LogprobItem", "fields": [
                    {"name": "text", "type": "string"},
                    {"name": "token_ids", "type": {"type": "array", "items": "long"}},
                    {"name": "logprobs", "type": {"type": "array", "items": "double"}},
                ]}}], "default": None},
            {"name": "usage", "type": {"type": "record", "name": "Usage", "fields": [
                {"name": "billed_units", "type": {**_TOKENS, "name": "BilledUnits"}},
                {"name": "tokens", "type": {**_TOKENS, "name": "Tokens"}},
            ]}},
        ]}], "default": None},
        {"name": "error", "type": "string"},
    ]}
"""A batch result record: ``{"custom_id", "body": ChatResponseV2 | null, "error": ""}``. Cohere
publishes no schema for it; this follows the records its Batches API users report, with the
``ChatResponseV2`` fields of tool use, thinking and logprobs (``tool_calls``, ``tool_plan``,
``thinking`` content, ``logprobs``) as the v2 chat reference names them."""


def typed_query(query: dict[str, list[str]]) -> dict[str, Any]:
    """Query values typed by the spec's parameter schemas (repeated keys make an array)."""
    props = _spec.load_spec("cohere")["$defs"]["CreateDatasetQuery"]["properties"]
    out: dict[str, Any] = {}
    for name, values in query.items():
        kind = props.get(name, {}).get("type")
        if kind == "array":
            out[name] = list(values)
        elif kind == "boolean":
            out[name] = {"true": True, "false": False}.get(values[-1].lower(), values[-1])
        else:
            out[name] = values[-1]
    return out
