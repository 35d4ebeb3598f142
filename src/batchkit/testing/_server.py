"""The loopback HTTP server that hosts the vendor emulators.

Why a real server: the point of an emulator is that the vendor's *official SDK* is the client under
test, so the SDK must speak real HTTP to something. One ``ThreadingHTTPServer`` on 127.0.0.1 hosts
every vendor "app"; the first path segment picks the app (``/openai/v1/batches`` reaches the OpenAI
app as ``/v1/batches``), so one base URL serves every vendor and a test can run several at once.

Everything here is vendor-neutral and stdlib-only: request/response objects, JSON helpers,
multipart/form-data parsing, endpoint fault hooks (HTTP 429/500, delays, answers held past the
client's read timeout, dropped connections, cut bodies) and retryable per-item faults; the clock
the apps share is in :mod:`batchkit.testing._clock`. Vendor knowledge lives in the apps.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from batchkit.testing._clock import EmulatorClock
from batchkit.testing._faults import (
    EndpointFault,
    EndpointFaults,
    ItemFaultView,
    RetryableItemFaults,
)

__all__ = ["EndpointFault", "EndpointFaults", "ItemFaultView", "RetryableItemFaults"]
"""The fault hooks live in :mod:`._faults`; apps import them from here with the rest."""

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})


@dataclass
class Request:
    """One HTTP request as an app sees it; ``path`` is relative to the app's mount point."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return None if value is None else str(value)

    def query_value(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def json(self) -> Any:
        """Decode the body as JSON; raises ``ValueError`` on malformed input."""
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def form(self) -> dict[str, FormPart]:
        """Parse a multipart/form-data body into its parts by field name."""
        return parse_multipart(self.header("Content-Type") or "", self.body)


@dataclass
class Response:
    """What an app answers; the server adds Content-Length."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(status, json.dumps(payload).encode("utf-8"), "application/json", headers or {})


def bytes_response(data: bytes, content_type: str = "application/octet-stream") -> Response:
    return Response(200, data, content_type)


@dataclass
class FormPart:
    """One field of a multipart/form-data body."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    def text(self) -> str:
        return self.data.decode("utf-8")


class MultipartError(ValueError):
    """The body does not follow multipart/form-data (RFC 7578)."""


def parse_multipart(content_type: str, body: bytes) -> dict[str, FormPart]:
    """Split a multipart/form-data body into named parts (stdlib only, binary-safe)."""
    header = Message()
    header["Content-Type"] = content_type
    if header.get_content_type() != "multipart/form-data":
        raise MultipartError(f"expected multipart/form-data, got {content_type or 'nothing'!r}")
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise MultipartError("multipart/form-data without a boundary")
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise MultipartError("multipart body is not terminated by its closing boundary")
    parts: dict[str, FormPart] = {}
    for chunk in chunks[1:-1]:
        part = _parse_part(chunk)
        parts[part.name] = part
    return parts


def _parse_part(chunk: bytes) -> FormPart:
    if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
        raise MultipartError("malformed multipart part framing")
    head, separator, data = chunk[2:-2].partition(b"\r\n\r\n")
    if not separator:
        raise MultipartError("multipart part without a header/body separator")
    headers = Message()
    for line in head.decode("utf-8").split("\r\n"):
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip()] = value.strip()
    field_name = headers.get_param("name", header="Content-Disposition")
    if not isinstance(field_name, str):
        raise MultipartError("multipart part without a field name")
    filename = headers.get_param("filename", header="Content-Disposition")
    return FormPart(
        name=field_name,
        data=data,
        filename=filename if isinstance(filename, str) else None,
        content_type=headers.get("Content-Type"),
    )


class EmulatorApp(Protocol):
    """A vendor emulator mounted under ``/<name>/`` on the server."""

    name: str
    endpoint_faults: EndpointFaults

    def handle(self, request: Request) -> Response: ...

    def fault_response(self, status: int, retry_after: float | None) -> Response:
        """The vendor's own error body for an injected HTTP failure."""
        ...


class DropConnection(Exception):
    """Raised inside dispatch to close the socket without any response."""


class TruncatedResponse(Exception):
    """Raised inside dispatch to send ``response``'s headers and half its body, then hang up."""

    def __init__(self, response: Response) -> None:
        super().__init__("truncated response")
        self.response = response


def _corrupt(body: bytes, fraction: float, rng: random.Random) -> bytes:
    """Replace about ``fraction`` of the body's lines with a line cut off mid-JSON."""
    lines = body.split(b"\n")
    for i, line in enumerate(lines):
        if line.strip() and rng.random() < fraction:
            lines[i] = line[: max(1, len(line) // 3)]
    return b"\n".join(lines)


def dispatch(apps: dict[str, EmulatorApp], request: Request) -> Response:
    """Route ``request`` (full path) to its app, applying that app's armed endpoint faults."""
    _, _, rest = request.path.partition("/")
    mount, slash, inner = rest.partition("/")
    app = apps.get(mount)
    if app is None:
        return json_response({"error": {"message": f"no emulator mounted at /{mount}"}}, 404)
    request.path = slash + inner if slash else "/"
    app.endpoint_faults.note(request)
    fault = app.endpoint_faults.take(request)
    if fault is not None:
        if fault.delay:
            time.sleep(fault.delay)
        if fault.drop:
            raise DropConnection
        if fault.status is not None:
            return app.fault_response(fault.status, fault.retry_after)
        if fault.hold:
            response = app.handle(request)
            time.sleep(fault.hold)
            return response
        if fault.truncate:
            raise TruncatedResponse(app.handle(request))
        if fault.corrupt_lines:
            response = app.handle(request)
            response.body = _corrupt(response.body, fault.corrupt_lines,
                                     fault.rng or random.Random(0))
            return response
    return app.handle(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _serve(self) -> None:
        url = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers=self.headers,
            body=self._read_body(),
        )
        cut = False
        try:
            response = dispatch(self.server.apps, request)
        except DropConnection:
            self.close_connection = True
            return
        except TruncatedResponse as truncated:
            response, cut = truncated.response, True
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":  # RFC 9110: a GET's headers (Content-Length too), no body
            return
        try:
            if cut:
                self.wfile.write(response.body[: len(response.body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):  # a client that timed out has left
            self.close_connection = True

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return b"".join(self._chunks())
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _chunks(self) -> Iterator[bytes]:
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return
            yield self.rfile.read(size)
            self.rfile.readline()

    do_GET = do_HEAD = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: test output is not the place for an access log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    apps: dict[str, EmulatorApp]


class EmulatorServer:
    """A threaded HTTP server on loopback hosting vendor apps under ``/<app name>/``.

    Binding anything but a loopback address is refused: the emulators accept any key and must
    never be reachable from another machine.
    """

    def __init__(
        self, apps: list[EmulatorApp] | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"the emulator binds loopback only, not {host!r}")
        self.apps: dict[str, EmulatorApp] = {}
        for app in apps or []:
            self.mount(app)
        self._httpd = _Server((host, port), _Handler)
        self._httpd.apps = self.apps
        self._thread: threading.Thread | None = None

    def mount(self, app: EmulatorApp) -> None:
        if app.name in self.apps:
            raise ValueError(f"an app is already mounted at /{app.name}")
        self.apps[app.name] = app

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        host_text = host.decode() if isinstance(host, bytes) else host
        return f"http://{host_text}:{port}"

    def start(self) -> EmulatorServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, args=(0.05,), name="batchkit-emulator",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (the ``batchkit emulator`` command)."""
        self._httpd.serve_forever()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


AppFactory = Callable[[EmulatorClock], "EmulatorApp | list[EmulatorApp]"]
"""Builds a vendor's app; a vendor whose jobs read and write a storage service (Vertex and
Cloud Storage, Bedrock and S3) returns its app together with that service's app."""
