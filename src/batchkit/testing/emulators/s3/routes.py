"""A small S3 on the loopback server, mounted at ``/s3`` (path-style addressing).

Why our own and not moto: moto's server mode needs Flask and flask-cors (``moto[server]``,
not installed, and a heavy dependency for a public testing module), its in-process mode patches
botocore instead of serving HTTP (so a separately running ``batchkit emulator`` could not use
it, and the wire would not be exercised), its state is process-global rather than per
emulator, and it does not emulate Bedrock batch jobs anyway. What batchkit needs is small:
buckets, single and multipart uploads, ranged downloads and listing, enough for boto3's
``upload_file`` / ``download_file`` (s3transfer) and ``list_objects_v2``.

Fidelity where it matters: requests are checked against botocore's ``s3`` model (uri, query
and header members); bodies against ``x-amz-content-sha256``, ``Content-MD5`` and
``x-amz-checksum-crc32`` (``BadDigest``); multipart parts of at least 5 MiB except the last
(``EntityTooSmall``) listed in order with their ETags; ``Range`` answers 206; errors are S3's
XML ``<Error>`` bodies. The Bedrock emulator reads and writes objects in process through
:meth:`S3Emulator.get_object` / :meth:`S3Emulator.put_object`.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import xml.etree.ElementTree as ET
from collections import Counter
from email.utils import formatdate
from typing import Any
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape

from batchkit.testing._clock import EmulatorClock
from batchkit.testing._server import (
    EndpointFaults,
    Request,
    Response,
)
from batchkit.testing.emulators._aws import AwsError, ShapeChecker, request_id, request_params
from batchkit.testing.emulators.s3.state import StoredObject, Upload, crc32, etag

MIN_PART_SIZE = 5 * 1024 * 1024
_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
_ERRORS = {429: "SlowDown", 500: "InternalError", 503: "ServiceUnavailable"}


class S3Emulator:
    """The S3 app. ``buckets`` exist from the start (the sandbox's ``batchkit-sandbox``);
    ``operations`` counts requests by operation name, for tests (multipart seen, ranges)."""

    name = "s3"

    def __init__(self, clock: EmulatorClock, buckets: tuple[str, ...] = ()) -> None:
        self.clock = clock
        self.buckets: dict[str, dict[str, StoredObject]] = {b: {} for b in buckets}
        self.uploads: dict[str, Upload] = {}
        self.endpoint_faults = EndpointFaults()
        self.operations: Counter[str] = Counter()
        self._checker = ShapeChecker("s3")
        self._lock = threading.RLock()

    # ---- in-process API (the Bedrock emulator's job reads and writes through these) --------

    def get_object(self, bucket: str, key: str) -> bytes | None:
        with self._lock:
            found = self.buckets.get(bucket, {}).get(key)
            return None if found is None else found.data

    def put_object(self, bucket: str, key: str, data: bytes) -> None:
        with self._lock:
            self._store(bucket, key, data)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        with self._lock:
            return sorted(k for k in self.buckets.get(bucket, {}) if k.startswith(prefix))

    def fault_response(self, status: int, retry_after: float | None) -> Response:
        error = AwsError(_ERRORS.get(status, "InternalError"), "Please reduce your request rate."
                         if status in (429, 503) else "We encountered an internal error.", status)
        response = _error_response(error)
        if retry_after is not None:
            response.headers["Retry-After"] = f"{retry_after:g}"
        return response

    # ---- HTTP --------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        try:
            with self._lock:
                return self._route(request)
        except AwsError as error:
            return _error_response(error)

    def _route(self, request: Request) -> Response:
        bucket, _, raw_key = request.path.lstrip("/").partition("/")
        key = unquote(raw_key)
        if not bucket:
            raise AwsError("NotImplemented", "ListBuckets is not emulated", 501)
        method, query = request.method, request.query
        if not key:
            routes = {("PUT", False): "CreateBucket", ("HEAD", False): "HeadBucket",
                      ("GET", True): "ListObjectsV2"}
            operation = routes.get((method, query.get("list-type") == ["2"]))
        elif method == "PUT":
            operation = "UploadPart" if "uploadId" in query else "PutObject"
        elif method == "POST":
            operation = "CreateMultipartUpload" if "uploads" in query else \
                "CompleteMultipartUpload" if "uploadId" in query else None
        elif method == "DELETE":
            operation = "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
        else:
            operation = {"GET": "GetObject", "HEAD": "HeadObject"}.get(method)
        if operation is None or (key and set(query) - {"uploadId", "uploads", "partNumber"}):
            raise AwsError("NotImplemented", f"{method} {request.path} is not emulated", 501)
        params = request_params(self._checker.operation(operation), request,
                                {"Bucket": bucket, "Key": key})
        self._checker.check_input(operation, params, code="InvalidArgument")
        self.operations[operation] += 1
        handler = getattr(self, f"_op_{operation}")
        response: Response = handler(bucket, key, request, params)
        response.headers.setdefault("x-amz-request-id", request_id())
        return response

    # ---- buckets -----------------------------------------------------------------------------

    def _op_CreateBucket(self, bucket: str, key: str, request: Request, p: Any) -> Response:
        if bucket in self.buckets:
            raise AwsError("BucketAlreadyOwnedByYou", "Your previous request to create the "
                           "named bucket succeeded and you already own it.", 409)
        self.buckets[bucket] = {}
        return Response(200, b"", "application/xml", {"Location": f"/{bucket}"})

    def _op_HeadBucket(self, bucket: str, key: str, request: Request, p: Any) -> Response:
        self._bucket(bucket)
        return Response(200, b"", "application/xml")

    def _op_ListObjectsV2(self, bucket: str, key: str, request: Request, p: Any) -> Response:
        objects = self._bucket(bucket)
        prefix = str(p.get("Prefix") or "")
        limit = int(p.get("MaxKeys") or 1000)
        after = p.get("ContinuationToken")
        keys = sorted(k for k in objects if k.startswith(prefix))
        if after:
            keys = [k for k in keys if k > base64.urlsafe_b64decode(after).decode()]
        page, more = keys[:limit], len(keys) > limit
        url = p.get("EncodingType") == "url"

        def show(text: str) -> str:
            return escape(quote(text, safe="/") if url else text)

        items = "".join(
            f"<Contents><Key>{show(k)}</Key><LastModified>{_iso(objects[k].modified)}"
            f"</LastModified><ETag>{escape(objects[k].etag)}</ETag><Size>{len(objects[k].data)}"
            "</Size><StorageClass>STANDARD</StorageClass></Contents>" for k in page)
        token = f"<NextContinuationToken>{base64.urlsafe_b64encode(page[-1].encode()).decode()}" \
                "</NextContinuationToken>" if more else ""
        body = (f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="{_XMLNS}">'
                f"<Name>{escape(bucket)}</Name><Prefix>{show(prefix)}</Prefix>"
                f"<KeyCount>{len(page)}</KeyCount><MaxKeys>{limit}</MaxKeys>"
                f"{'<EncodingType>url</EncodingType>' if url else ''}"
                f"<IsTruncated>{'true' if more else 'false'}</IsTruncated>{items}{token}"
                "</ListBucketResult>")
        return Response(200, body.encode(), "application/xml")

    # ---- objects -----------------------------------------------------------------------------

    def _op_PutObject(self, bucket: str, key: str, request: Request, p: Any) -> Response:
        self._bucket(bucket)
        data = _checked_body(request)
        stored = self._store(bucket, key, data)
        headers = {"ETag": stored.etag}
        if stored.crc32:
            headers["x-amz-checksum-crc32"] = stored.crc32
        return Response(200, b"", "application/xml", headers)

    def _op_GetObject(self, bucket: str, key: str, request: Request, p: Any) -> Response:
        found = self._object(bucket, key)
        headers = {"ETag": found.etag, "Last-Modified": formatdate(found.modified, usegmt=True),
                   "Accept-Ranges": "bytes"}
        span = request.header("Range")
        if span is None:
            if found.crc32 and request.header("x-amz-checksum-mode") == "ENABLED":
                headers["x-amz-checksum-crc32"] = found.crc32
            return Response(200, found.data, "application/octet-stream", headers)
        start, end = _byte_range(span, len(found.data))
        headers["Content-Range"] = f"bytes {start}-{end}/{len(found.data)}"
        return Response(206, found.data[start:end + 1], "application/octet-stream", headers)

    def _op_HeadObject(self, bucket: str, key: str, request: Request, p: Any) -> Response:
        # The server sends a HEAD answer's headers (Content-Length of this body) without it.
        return self._op_GetObject(bucket, key, request, p)

    def _op_DeleteObject(self, bucket: str, key: str, request: Request, p: Any) -> Response:
        self._bucket(bucket).pop(key, None)
        return Response(204, b"", "application/xml")

    # ---- multipart ---------------------------------------------------------------------------

    def _op_CreateMultipartUpload(self, bucket: str, key: str, request: Request,
                                  p: Any) -> Response:
        self._bucket(bucket)
        upload_id = request_id().replace("-", "")
        self.uploads[upload_id] = Upload(bucket, key)
        body = (f'<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult '
                f'xmlns="{_XMLNS}"><Bucket>{escape(bucket)}</Bucket><Key>{escape(key)}</Key>'
                f"<UploadId>{upload_id}</UploadId></InitiateMultipartUploadResult>")
        return Response(200, body.encode(), "application/xml")

    def _op_UploadPart(self, bucket: str, key: str, request: Request, p: Any) -> Response:
        upload = self._upload(p["UploadId"], bucket, key)
        number = int(p["PartNumber"])
        if not 1 <= number <= 10_000:
            raise AwsError("InvalidArgument", "Part number must be an integer between 1 and "
                           "10000, inclusive", 400)
        data = _checked_body(request)
        upload.parts[number] = data
        return Response(200, b"", "application/xml", {"ETag": etag(data)})

    def _op_CompleteMultipartUpload(self, bucket: str, key: str, request: Request,
                                    p: Any) -> Response:
        upload = self._upload(p["UploadId"], bucket, key)
        try:
            root = ET.fromstring(request.body)
        except ET.ParseError:
            raise AwsError("MalformedXML", "The XML you provided was not well-formed", 400) \
                from None
        listed = [(int(part.findtext(f"{{{_XMLNS}}}PartNumber") or part.findtext("PartNumber")
                       or 0),
                   part.findtext(f"{{{_XMLNS}}}ETag") or part.findtext("ETag") or "")
                  for part in root.iter() if part.tag.rsplit("}", 1)[-1] == "Part"]
        numbers = [n for n, _ in listed]
        if not listed or numbers != sorted(set(numbers)):
            raise AwsError("InvalidPartOrder", "The list of parts was not in ascending order.",
                           400)
        chunks = []
        for index, (number, listed_etag) in enumerate(listed):
            data = upload.parts.get(number)
            if data is None or listed_etag.strip('"') != etag(data).strip('"'):
                raise AwsError("InvalidPart", "One or more of the specified parts could not be "
                               "found.", 400)
            if index < len(listed) - 1 and len(data) < MIN_PART_SIZE:
                raise AwsError("EntityTooSmall", "Your proposed upload is smaller than the "
                               "minimum allowed object size.", 400)
            chunks.append(data)
        del self.uploads[p["UploadId"]]
        stored = self._store(bucket, key, b"".join(chunks), parts=[upload.parts[n]
                                                                   for n in numbers])
        body = (f'<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult '
                f'xmlns="{_XMLNS}"><Location>/{escape(bucket)}/{escape(key)}</Location>'
                f"<Bucket>{escape(bucket)}</Bucket><Key>{escape(key)}</Key>"
                f"<ETag>{escape(stored.etag)}</ETag></CompleteMultipartUploadResult>")
        return Response(200, body.encode(), "application/xml")

    def _op_AbortMultipartUpload(self, bucket: str, key: str, request: Request,
                                 p: Any) -> Response:
        self._upload(p["UploadId"], bucket, key)
        del self.uploads[p["UploadId"]]
        return Response(204, b"", "application/xml")

    # ---- state -------------------------------------------------------------------------------

    def _bucket(self, bucket: str) -> dict[str, StoredObject]:
        found = self.buckets.get(bucket)
        if found is None:
            raise AwsError("NoSuchBucket", "The specified bucket does not exist", 404)
        return found

    def _object(self, bucket: str, key: str) -> StoredObject:
        found = self._bucket(bucket).get(key)
        if found is None:
            raise AwsError("NoSuchKey", "The specified key does not exist.", 404)
        return found

    def _upload(self, upload_id: str, bucket: str, key: str) -> Upload:
        upload = self.uploads.get(upload_id)
        if upload is None or (upload.bucket, upload.key) != (bucket, key):
            raise AwsError("NoSuchUpload", "The specified upload does not exist.", 404)
        return upload

    def _store(self, bucket: str, key: str, data: bytes,
               parts: list[bytes] | None = None) -> StoredObject:
        if parts:  # S3's multipart ETag: MD5 of the parts' MD5s, and the part count
            digest = hashlib.md5(b"".join(hashlib.md5(x).digest() for x in parts)).hexdigest()
            stored = StoredObject(data, f'"{digest}-{len(parts)}"', self.clock.now())
        else:
            stored = StoredObject(data, etag(data), self.clock.now(), crc32(data))
        self._bucket(bucket)[key] = stored
        return stored


def _iso(at: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _checked_body(request: Request) -> bytes:
    """The payload, verified against every digest the client sent (as S3 does)."""
    data = request.body
    sha = request.header("x-amz-content-sha256") or ""
    if sha.startswith("STREAMING-") or "aws-chunked" in (request.header("Content-Encoding") or ""):
        raise AwsError("NotImplemented", "aws-chunked uploads are not emulated", 501)
    if len(sha) == 64 and hashlib.sha256(data).hexdigest() != sha:
        raise AwsError("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' "
                       "header does not match what was computed.", 400)
    md5 = request.header("Content-MD5")
    if md5 and base64.b64encode(hashlib.md5(data).digest()).decode() != md5:
        raise AwsError("BadDigest", "The Content-MD5 you specified did not match what we "
                       "received.", 400)
    crc = request.header("x-amz-checksum-crc32")
    if crc and crc != crc32(data):
        raise AwsError("BadDigest", "The CRC32 you specified did not match the calculated "
                       "checksum.", 400)
    return data


def _byte_range(header: str, size: int) -> tuple[int, int]:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` -> inclusive ``(start, end)``."""
    unit, _, span = header.partition("=")
    first, _, last = span.partition("-")
    try:
        if unit != "bytes" or "," in span:
            raise ValueError
        if first:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        else:
            start, end = max(0, size - int(last)), size - 1
    except ValueError:
        start, end = size, size
    if start >= size or start > end:
        raise AwsError("InvalidRange", "The requested range is not satisfiable", 416)
    return start, end


def _error_response(error: AwsError) -> Response:
    rid = request_id()
    body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{escape(error.code)}</Code>'
            f"<Message>{escape(error.message)}</Message><RequestId>{rid}</RequestId></Error>")
    return Response(error.status, body.encode(), "application/xml", {"x-amz-request-id": rid})
