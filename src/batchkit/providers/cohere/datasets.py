"""Cohere datasets as files: the rows of a shard's payload, and an output dataset's Avro parts
streamed into JSON lines. The adapter uploads, validates and lists datasets through the SDK;
this module holds the parts that read files and storage links rather than the API.

Facts: https://docs.cohere.com/docs/datasets (an output dataset is a list of Avro parts, each
behind a signed download link).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import orjson

from ..._exceptions import ProviderError

if TYPE_CHECKING:
    from cohere.types import DatasetPart

__all__ = ["copy_part", "payload_rows"]

_PART_TIMEOUT = (30, 600)
"""Seconds to connect to, and to wait between bytes of, a part's download."""


def payload_rows(payload: Path) -> Iterator[dict[str, Any]]:
    """The rows of a shard payload, one at a time (to see which metadata fields it holds)."""
    with payload.open("rb") as fh:
        for line in fh:
            if line.strip():
                yield orjson.loads(line)


def copy_part(dataset_id: str, part: DatasetPart, out: IO[bytes]) -> None:
    """Append one Avro part's records to ``out`` as JSON lines, one record in memory at a time.

    The part URL is a signed storage link: it is fetched without the API key (as the SDK's
    ``dataset_generator`` does) and never shown in a message, since it carries a signature.
    """
    import fastavro
    import requests
    import urllib3

    where = f"Cohere output dataset {dataset_id}, part {part.name}"
    if not part.url:
        raise ProviderError(f"{where} has no download url")
    try:
        with requests.get(part.url, stream=True, timeout=_PART_TIMEOUT) as response:
            response.raise_for_status()
            response.raw.decode_content = True
            for record in fastavro.reader(cast(IO[bytes], response.raw)):
                out.write(orjson.dumps(record, default=_json_default))
                out.write(b"\n")
    except requests.HTTPError as exc:
        code = exc.response.status_code if exc.response is not None else None
        raise ProviderError(f"{where}: the download answered HTTP {code}",
                            status_code=code) from None
    except (requests.RequestException, urllib3.exceptions.HTTPError, EOFError) as exc:
        # fastavro reads the raw stream, so a connection lost mid-part surfaces from urllib3,
        # or as a record cut short (EOFError): downloading again may work.
        raise ProviderError(f"{where}: the download broke off ({type(exc).__name__})",
                            transient=True) from None
    except ValueError as exc:
        raise ProviderError(f"{where} is not a readable Avro file ({exc})") from None


def _json_default(value: Any) -> Any:
    """Avro values JSON has no type for: bytes as base64, decimals as text."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
