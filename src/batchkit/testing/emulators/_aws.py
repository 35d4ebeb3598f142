"""Check what an AWS emulator receives against botocore's own service model, as AWS does.

Why botocore's model: it is the vendor's published schema (the same JSON every AWS SDK is
generated from), so an emulator that accepts exactly what it allows can never drift into
accepting what AWS would refuse. boto3 validates only part of it before sending (required
members, types, minimums); the service also enforces maximums, patterns and enums, and answers
``ValidationException`` with a message of the form "1 validation error detected: Value 'x' at
'jobName' failed to satisfy constraint: ...". :class:`ShapeChecker` does both.

:func:`request_params` turns an HTTP request back into an operation's parameters by the
members' ``location`` (uri label, query string, header), which serves rest-json (Bedrock) and
rest-xml (S3) alike.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from functools import cache
from typing import Any

from batchkit.testing._server import Request

__all__ = ["AwsError", "ShapeChecker", "request_id", "request_params"]


class AwsError(Exception):
    """An AWS error answer: error code, message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def request_id() -> str:
    return str(uuid.uuid4())


@cache
def _service_model(service: str) -> Any:
    import botocore.session  # type: ignore[import-untyped]

    return botocore.session.get_session().get_service_model(service)


class ShapeChecker:
    """Validates parameters against one service's model: botocore's ``ParamValidator`` for
    required members, types and minimums, then the server-side maximums, patterns and enums."""

    def __init__(self, service: str) -> None:
        self.model = _service_model(service)

    def operation(self, name: str) -> Any:
        return self.model.operation_model(name)

    def error_status(self, code: str, default: int = 400) -> int:
        """The HTTP status the model gives error ``code`` (e.g. ConflictException -> 400)."""
        try:
            shape = self.model.shape_for(code)
        except Exception:  # botocore raises NoShapeFoundError for unknown names
            return default
        return int(shape.metadata.get("error", {}).get("httpStatusCode", default))

    def check(self, shape: Any, params: Any, *, code: str = "ValidationException") -> None:
        """Raise :class:`AwsError` ``code`` if ``params`` does not satisfy ``shape``."""
        from botocore.validate import ParamValidator  # type: ignore[import-untyped]

        report = ParamValidator().validate(params, shape)
        if report.has_errors():
            raise AwsError(code, report.generate_report(), self.error_status(code))
        problem = _constraint(shape, params, "")
        if problem is not None:
            raise AwsError(code, f"1 validation error detected: {problem}",
                           self.error_status(code))

    def check_input(self, operation: str, params: Mapping[str, Any], **kw: Any) -> None:
        self.check(self.operation(operation).input_shape, dict(params), **kw)

    def check_output(self, operation: str, body: Mapping[str, Any]) -> None:
        """For tests: a response body an emulator sends must satisfy the output shape too."""
        self.check(self.operation(operation).output_shape, dict(body))


def _constraint(shape: Any, value: Any, path: str) -> str | None:
    """The first server-side constraint ``value`` breaks (``max``, ``pattern``, ``enum`` and a
    union's single member), or None."""
    meta = shape.metadata
    where = path or shape.name
    if shape.type_name == "structure" and isinstance(value, dict):
        if meta.get("union") and len(value) != 1:
            return f"Value at '{where}' failed to satisfy constraint: exactly one member " \
                   "must be set"
        if meta.get("document"):
            return None
        for name, member in shape.members.items():
            if name in value:
                found = _constraint(member, value[name], f"{path}.{name}" if path else name)
                if found:
                    return found
        return None
    if shape.type_name == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            return f"Value at '{where}' failed to satisfy constraint: Member must have length " \
                   f"less than or equal to {meta['max']}"
        for index, item in enumerate(value):
            found = _constraint(shape.member, item, f"{where}.{index + 1}.member")
            if found:
                return found
        return None
    if shape.type_name == "string" and isinstance(value, str):
        shown = "***" if meta.get("sensitive") else value[:100]
        if "max" in meta and len(value) > meta["max"]:
            return f"Value '{shown}' at '{where}' failed to satisfy constraint: Member must " \
                   f"have length less than or equal to {meta['max']}"
        if "pattern" in meta and not re.fullmatch(meta["pattern"], value):
            return f"Value '{shown}' at '{where}' failed to satisfy constraint: Member must " \
                   f"satisfy regular expression pattern: {meta['pattern']}"
        if shape.enum and value not in shape.enum:
            return f"Value '{shown}' at '{where}' failed to satisfy constraint: Member must " \
                   f"satisfy enum value set: [{', '.join(shape.enum)}]"
        return None
    if shape.type_name in ("integer", "long", "float", "double") and "max" in meta \
            and isinstance(value, (int, float)) and value > meta["max"]:
        return f"Value '{value}' at '{where}' failed to satisfy constraint: Member must have " \
               f"value less than or equal to {meta['max']}"
    return None


def request_params(operation: Any, request: Request, labels: Mapping[str, str]) -> dict[str, Any]:
    """The operation's uri, query-string and header members as the client sent them.

    Values are typed per the member's shape (integers, booleans, timestamps left as the ISO
    strings botocore accepts); a value that does not convert raises the service's 400.
    """
    params: dict[str, Any] = {}
    shape = operation.input_shape
    if shape is None:
        return params
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            value: Any = labels.get(wire)
        elif location == "querystring":
            value = request.query.get(wire) if member.type_name == "list" else \
                request.query_value(wire)
        elif location == "header":
            value = request.header(wire)
        else:
            continue
        if value is not None:
            params[name] = _typed(member, value, wire)
    return params


def _typed(shape: Any, value: Any, wire: str) -> Any:
    if shape.type_name in ("integer", "long"):
        try:
            return int(value)
        except ValueError:
            raise AwsError("ValidationException",
                           f"1 validation error detected: Value '{value}' at '{wire}' failed "
                           "to satisfy constraint: Member must be a number") from None
    if shape.type_name == "boolean":
        return str(value).lower() == "true"
    return value
