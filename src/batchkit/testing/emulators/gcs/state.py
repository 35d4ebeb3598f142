"""What the Cloud Storage emulator holds: buckets and objects in memory, and the JSON API's rules
for them (object names, CRC32C and MD5 as the API reports them, its error body).

Why apart from the routes: the Vertex emulator reads its jobs' inputs from and writes their
outputs to this store directly, in the same process, without going through HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import google_crc32c

from batchkit.testing._clock import EmulatorClock

SANDBOX_BUCKET = "batchkit-sandbox"
"""The bucket that exists from the start, so sandbox mode needs no setup."""
MAX_OBJECT_NAME_BYTES = 1024
_REASONS = {400: "invalid", 401: "required", 403: "forbidden", 404: "notFound", 409: "conflict",
            412: "conditionNotMet", 416: "requestedRangeNotSatisfiable", 429: "rateLimitExceeded",
            500: "backendError", 503: "backendError"}


class GcsError(Exception):
    """An HTTP error answered with the JSON API's error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"code": status, "message": message, "errors": [
            {"message": message, "domain": "global", "reason": _REASONS.get(status, "error")}]}}


@dataclass
class StoredObject:
    bucket: str
    name: str
    data: bytes
    content_type: str
    generation: int
    created: float

    def resource(self, base: str) -> dict[str, Any]:
        """The JSON API object resource; ``base`` is the emulator's own URL (for mediaLink)."""
        quoted = quote(self.name, safe="")
        stamp = rfc3339(self.created)
        return {
            "kind": "storage#object",
            "id": f"{self.bucket}/{self.name}/{self.generation}",
            "selfLink": f"{base}/storage/v1/b/{self.bucket}/o/{quoted}",
            "mediaLink": f"{base}/download/storage/v1/b/{self.bucket}/o/{quoted}"
                         f"?generation={self.generation}&alt=media",
            "name": self.name,
            "bucket": self.bucket,
            "generation": str(self.generation),
            "metageneration": "1",
            "contentType": self.content_type,
            "storageClass": "STANDARD",
            "size": str(len(self.data)),
            "md5Hash": base64.b64encode(hashlib.md5(self.data).digest()).decode(),
            "crc32c": crc32c_b64(self.data),
            "etag": base64.b64encode(f"{self.generation}".encode()).decode(),
            "timeCreated": stamp,
            "updated": stamp,
        }


class GcsStore:
    """Buckets and objects in memory; the Vertex app reads inputs and writes outputs here."""

    def __init__(self, clock: EmulatorClock) -> None:
        self.clock = clock
        self.buckets: set[str] = {SANDBOX_BUCKET}
        self.objects: dict[tuple[str, str], StoredObject] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def put(self, bucket: str, name: str, data: bytes,
            content_type: str = "application/octet-stream") -> StoredObject:
        self.need_bucket(bucket)
        check_name(name)
        with self._lock:
            self._generation += 1
            obj = StoredObject(bucket, name, bytes(data), content_type, self._generation,
                               self.clock.now())
            self.objects[(bucket, name)] = obj
        return obj

    def get(self, bucket: str, name: str) -> StoredObject:
        self.need_bucket(bucket)
        obj = self.objects.get((bucket, name))
        if obj is None:
            raise GcsError(404, f"No such object: {bucket}/{name}")
        return obj

    def delete(self, bucket: str, name: str) -> None:
        self.get(bucket, name)
        with self._lock:
            del self.objects[(bucket, name)]

    def list(self, bucket: str, prefix: str = "") -> list[StoredObject]:
        """Objects of ``bucket`` whose names start with ``prefix``, in name order (as GCS)."""
        self.need_bucket(bucket)
        with self._lock:
            found = [o for (b, name), o in self.objects.items()
                     if b == bucket and name.startswith(prefix)]
        return sorted(found, key=lambda o: o.name)

    def need_bucket(self, bucket: str) -> None:
        if bucket not in self.buckets:
            raise GcsError(404, "The specified bucket does not exist.")


def check_name(name: str) -> None:
    """The JSON API's object-name rules: 1-1024 bytes of UTF-8, no CR or LF, not . or .."""
    if not name or len(name.encode("utf-8")) > MAX_OBJECT_NAME_BYTES:
        raise GcsError(400, "The object name must be between 1 and 1024 bytes.")
    if "\r" in name or "\n" in name or name in (".", ".."):
        raise GcsError(400, f"Invalid object name: {name!r}")


def crc32c_b64(data: bytes) -> str:
    """The base64 CRC32C the JSON API reports (``crc32c``) and checks (``x-goog-hash``)."""
    digest: bytes = google_crc32c.Checksum(data).digest()  # type: ignore[no-untyped-call]
    return base64.b64encode(digest).decode()


def rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def parse_gs_uri(uri: str) -> tuple[str, str]:
    """``gs://bucket/path`` -> ``(bucket, path)``; ``ValueError`` for anything else."""
    if not uri.startswith("gs://"):
        raise ValueError(f"not a gs:// URI: {uri!r}")
    bucket, _, path = uri[len("gs://"):].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {uri!r}")
    return bucket, path
