"""A small Cloud Storage emulator (the JSON API subset batch jobs use), mounted at ``/gcs``.

Why our own and not the ``gcp-storage-emulator`` package: that package runs its own
``HTTPServer`` on its own port, and its request and response objects wrap that server's handler,
so it cannot be mounted under ``/gcs/`` on the shared loopback server, share its fault hooks, or
hand its objects to the Vertex app in the same process; it would also be one more test
dependency. What batchkit needs is small: buckets, the three upload protocols the
``google-cloud-storage`` client speaks (``multipart``, ``resumable`` in chunks, ``media``),
object metadata, listing with ``prefix``/``delimiter``/pages, and downloads with ``Range``.

The client is pointed here with ``client_options={"api_endpoint": f"{url}/gcs"}``: it builds
``{endpoint}/storage/v1/...``, ``{endpoint}/upload/storage/v1/...`` and
``{endpoint}/download/storage/v1/...`` URLs, so the path prefix is kept. Answers follow the
JSON API: object resources with ``size``/``generation`` as strings and base64 ``md5Hash`` and
``crc32c`` (the client checks an upload against them), ``x-goog-hash`` on whole downloads,
``206`` with ``Content-Range`` for ranges, ``308`` with ``Range`` while a resumable upload is
incomplete, and errors as ``{"error": {"code", "message", "errors": [{"reason", ...}]}}``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from typing import Any
from urllib.parse import unquote

from batchkit.testing._clock import EmulatorClock
from batchkit.testing._server import (
    EndpointFaults,
    Request,
    Response,
    json_response,
)
from batchkit.testing.emulators.gcs.state import (
    GcsError,
    GcsStore,
    StoredObject,
    check_name,
    crc32c_b64,
)

BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
_CONTENT_RANGE = re.compile(r"^bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)$")


@dataclass
class _ResumableSession:
    bucket: str
    name: str
    content_type: str
    total: int | None
    data: bytearray = field(default_factory=bytearray)


class GcsEmulator:
    """The Cloud Storage app. Knobs: ``store`` (buckets and objects), ``endpoint_faults``;
    counters ``uploads`` (objects written), ``upload_requests`` (every upload request: a
    resumable upload counts its start and each chunk) and ``downloads`` (media requests, so a
    ranged download counts each chunk)."""

    name = "gcs"

    def __init__(self, clock: EmulatorClock) -> None:
        self.store = GcsStore(clock)
        self.endpoint_faults = EndpointFaults()
        self.uploads = 0
        self.upload_requests = 0
        self.downloads = 0
        self._sessions: dict[str, _ResumableSession] = {}
        self._lock = threading.RLock()

    def fault_response(self, status: int, retry_after: float | None) -> Response:
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        failure = GcsError(status, "We encountered an internal error. Please try again.")
        return json_response(failure.body, status, headers)

    def handle(self, request: Request) -> Response:
        try:
            with self._lock:
                return self._route(request)
        except GcsError as failure:
            return json_response(failure.body, failure.status)

    def _route(self, request: Request) -> Response:
        parts = [unquote(p) for p in request.path.strip("/").split("/")]
        method = request.method
        if parts[:3] == ["storage", "v1", "b"]:
            rest = parts[3:]
            if not rest:
                if method == "POST":
                    return self._insert_bucket(request)
                if method == "GET":
                    return json_response({"kind": "storage#buckets", "items": [
                        _bucket_resource(b) for b in sorted(self.store.buckets)]})
            elif len(rest) == 1 and method == "GET":
                self.store.need_bucket(rest[0])
                return json_response(_bucket_resource(rest[0]))
            elif len(rest) == 2 and rest[1] == "o" and method == "GET":
                return self._list(request, rest[0])
            elif len(rest) >= 3 and rest[1] == "o":
                name = "/".join(rest[2:])
                if method == "GET" and request.query_value("alt") == "media":
                    return self._download(request, rest[0], name)
                if method == "GET":
                    return json_response(self.store.get(rest[0], name).resource(_base(request)))
                if method == "DELETE":
                    self.store.delete(rest[0], name)
                    return Response(204, b"")
        if parts[:4] == ["upload", "storage", "v1", "b"] and parts[5:6] == ["o"]:
            return self._upload(request, parts[4])
        if parts[:4] == ["download", "storage", "v1", "b"] and parts[5:6] == ["o"]:
            return self._download(request, parts[4], "/".join(parts[6:]))
        raise GcsError(404, f"Not Found: {method} {request.path}")

    # ---- buckets and listing -------------------------------------------------------------

    def _insert_bucket(self, request: Request) -> Response:
        body = _json_body(request)
        name = body.get("name")
        if not isinstance(name, str) or not BUCKET_NAME.match(name):
            raise GcsError(400, f"Invalid bucket name: {name!r}")
        if name in self.store.buckets:
            raise GcsError(409, "Your previous request to create the named bucket succeeded "
                                "and you already own it.")
        self.store.buckets.add(name)
        return json_response(_bucket_resource(name))

    def _list(self, request: Request, bucket: str) -> Response:
        prefix = request.query_value("prefix") or ""
        delimiter = request.query_value("delimiter")
        raw_max = request.query_value("maxResults") or "1000"
        if not raw_max.isdigit() or int(raw_max) < 1:
            raise GcsError(400, f"Invalid value for maxResults: {raw_max}")
        limit = min(int(raw_max), 1000)
        after = request.query_value("pageToken") or ""
        # Entries in name order: an object, or the common prefix that stands for several.
        entries: dict[str, StoredObject | None] = {}
        for obj in self.store.list(bucket, prefix):
            rest = obj.name[len(prefix):]
            if delimiter and delimiter in rest:
                entries.setdefault(prefix + rest.split(delimiter)[0] + delimiter, None)
            else:
                entries[obj.name] = obj
        keys = [k for k in sorted(entries) if k > after]
        page, next_token = keys[:limit], (keys[limit - 1] if len(keys) > limit else None)
        items = [o for o in (entries[k] for k in page) if o is not None]
        prefixes = [k for k in page if entries[k] is None]
        base = _base(request)
        body: dict[str, Any] = {"kind": "storage#objects",
                                "items": [o.resource(base) for o in items]}
        if prefixes:
            body["prefixes"] = prefixes
        if next_token is not None:
            body["nextPageToken"] = next_token
        return json_response(body)

    # ---- uploads ---------------------------------------------------------------------------

    def _upload(self, request: Request, bucket: str) -> Response:
        self.store.need_bucket(bucket)
        self.upload_requests += 1
        upload_type = request.query_value("uploadType")
        upload_id = request.query_value("upload_id")
        # Cloud Storage takes a resumable session's chunks by PUT or POST (gcsfs uses POST).
        if upload_type == "resumable" and upload_id is not None and request.method in (
                "PUT", "POST"):
            return self._resumable_chunk(request, upload_id)
        if request.method != "POST":
            raise GcsError(405, f"Method {request.method} is not allowed for uploads")
        if upload_type == "multipart":
            metadata, data, content_type = _split_related(request)
            return self._finish(request, bucket, metadata.get("name"), data, content_type)
        if upload_type == "media":
            content_type = request.header("Content-Type") or "application/octet-stream"
            return self._finish(request, bucket, request.query_value("name"), request.body,
                                content_type)
        if upload_type == "resumable":
            metadata = _json_body(request)
            name = metadata.get("name") or request.query_value("name")
            if not isinstance(name, str):
                raise GcsError(400, "Required: object name")
            check_name(name)
            total = request.header("X-Upload-Content-Length")
            session_id = secrets.token_urlsafe(24)
            self._sessions[session_id] = _ResumableSession(
                bucket, name,
                request.header("X-Upload-Content-Type") or metadata.get("contentType")
                or "application/octet-stream",
                int(total) if total and total.isdigit() else None)
            location = (f"{_base(request)}/upload/storage/v1/b/{bucket}/o"
                        f"?uploadType=resumable&upload_id={session_id}")
            return Response(200, b"", "text/plain", {"Location": location})
        raise GcsError(400, f"Invalid upload type: {upload_type!r}")

    def _resumable_chunk(self, request: Request, session_id: str) -> Response:
        session = self._sessions.get(session_id)
        if session is None:
            raise GcsError(404, "No such upload session (it may have completed or expired).")
        content_range = request.header("Content-Range") or f"bytes */{len(request.body)}"
        match = _CONTENT_RANGE.match(content_range)
        if match is None:
            raise GcsError(400, f"Invalid Content-Range header: {content_range!r}")
        first, last, total = match.groups()
        if total != "*":
            session.total = int(total)
        if first is not None:
            if int(first) != len(session.data) or int(last) - int(first) + 1 != len(request.body):
                raise GcsError(400, f"Content-Range {content_range!r} does not continue the "
                                    f"{len(session.data)} bytes received so far")
            session.data.extend(request.body)
        if session.total is not None and len(session.data) >= session.total:
            if len(session.data) != session.total:
                raise GcsError(400, "More bytes were sent than the upload's declared size")
            del self._sessions[session_id]
            return self._finish(request, session.bucket, session.name, bytes(session.data),
                                session.content_type)
        headers = {"Range": f"bytes=0-{len(session.data) - 1}"} if session.data else {}
        return Response(308, b"", "text/plain", headers)

    def _finish(self, request: Request, bucket: str, name: Any, data: bytes,
                content_type: str) -> Response:
        if not isinstance(name, str):
            raise GcsError(400, "Required: object name")
        _check_hashes(request.header("x-goog-hash"), data)
        obj = self.store.put(bucket, name, data, content_type)
        self.uploads += 1
        return json_response(obj.resource(_base(request)))

    # ---- downloads -------------------------------------------------------------------------

    def _download(self, request: Request, bucket: str, name: str) -> Response:
        obj = self.store.get(bucket, name)
        self.downloads += 1
        size = len(obj.data)
        headers = {"x-goog-generation": str(obj.generation), "x-goog-metageneration": "1",
                   "x-goog-stored-content-length": str(size), "Accept-Ranges": "bytes"}
        wanted = request.header("Range")
        if not wanted:
            resource = obj.resource(_base(request))
            headers["x-goog-hash"] = f"crc32c={resource['crc32c']},md5={resource['md5Hash']}"
            return Response(200, obj.data, obj.content_type, headers)
        match = _RANGE.match(wanted.strip())
        if match is None:
            raise GcsError(400, f"Invalid Range header: {wanted!r}")
        first = int(match.group(1))
        last = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
        if first >= size:
            headers["Content-Range"] = f"bytes */{size}"
            return Response(416, b"", "text/plain", headers)
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        return Response(206, obj.data[first:last + 1], obj.content_type, headers)


def _check_hashes(header: str | None, data: bytes) -> None:
    """An upload's ``x-goog-hash`` (``crc32c=...,md5=...``) must match the bytes received."""
    if not header:
        return
    actual = {
        "crc32c": crc32c_b64(data),
        "md5": base64.b64encode(hashlib.md5(data).digest()).decode(),
    }
    for item in header.split(","):
        kind, _, value = item.strip().partition("=")
        if kind in actual and value != actual[kind]:
            raise GcsError(400, f"Provided {kind.upper()} \"{value}\" doesn't match "
                                f"calculated \"{actual[kind]}\".")


def _split_related(request: Request) -> tuple[dict[str, Any], bytes, str]:
    """The metadata and media parts of a ``multipart/related`` upload body."""
    content_type = request.header("Content-Type") or ""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/related") or match is None:
        raise GcsError(400, "A multipart upload needs Content-Type multipart/related; boundary")
    delimiter = b"--" + match.group(1).encode("latin-1")
    chunks = request.body.split(delimiter)
    if len(chunks) != 4 or not chunks[3].startswith(b"--"):
        raise GcsError(400, "A multipart upload has exactly a metadata part and a media part")
    parts = []
    for chunk in chunks[1:3]:
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        parts.append((BytesHeaderParser().parsebytes(head + b"\r\n\r\n"), data[:-2]))
    try:
        metadata = json.loads(parts[0][1])
    except ValueError:
        raise GcsError(400, "The metadata part of a multipart upload is not JSON") from None
    media_type = parts[1][0].get("Content-Type") or "application/octet-stream"
    return metadata, parts[1][1], metadata.get("contentType") or media_type


def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        raise GcsError(400, "Parse Error: the request body is not JSON") from None
    return body if isinstance(body, dict) else {}


def _bucket_resource(name: str) -> dict[str, Any]:
    return {"kind": "storage#bucket", "id": name, "name": name, "location": "US",
            "storageClass": "STANDARD", "metageneration": "1", "projectNumber": "0"}


def _base(request: Request) -> str:
    return f"http://{request.header('Host') or '127.0.0.1'}/{GcsEmulator.name}"
