"""What the S3 emulator holds: objects (with the ETag and CRC32 S3 reports) and open uploads.

Why apart from the routes: the Bedrock emulator reads its jobs' inputs and writes their outputs
through the S3 app in the same process, and both need the same idea of an object.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from dataclasses import dataclass, field


@dataclass
class StoredObject:
    data: bytes
    etag: str
    modified: float
    crc32: str | None = None
    """Base64 CRC32 of a single-part object, returned so boto3 verifies its download."""


@dataclass
class Upload:
    bucket: str
    key: str
    parts: dict[int, bytes] = field(default_factory=dict)


def etag(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
