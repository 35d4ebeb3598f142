"""Reading one vendor result line, shared by the pure codecs."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["load_line"]


def load_line(
    line: bytes | str, what: str, id_field: str = "custom_id"
) -> tuple[dict[str, Any], str]:
    """The line as a dict, and its request id.

    Raises ``ValueError`` for a line no vendor could have sent (not JSON, not an object, no
    string id), which the normalizer turns into a ``malformed_line`` result.
    """
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not a JSON line: {exc}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get(id_field), str):
        raise ValueError(f"not a {what} line (no string {id_field!r})")
    return obj, obj[id_field]
