"""The Cloud Storage emulator through the official google-cloud-storage client: the three
upload protocols, listing, ranged downloads, checksums and the JSON API's errors."""

from __future__ import annotations

import base64
import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from google.api_core import exceptions

from batchkit.testing._emulate import EmulatorHandle
from batchkit.testing.emulators.gcs.state import SANDBOX_BUCKET

KIB = 1024


def test_multipart_upload_then_metadata_and_download(handle: EmulatorHandle, gcs: Any) -> None:
    blob = gcs.bucket(SANDBOX_BUCKET).blob("dir/small.jsonl")
    blob.upload_from_string(b'{"a": 1}\n', content_type="application/jsonl")
    got = gcs.bucket(SANDBOX_BUCKET).get_blob("dir/small.jsonl")
    assert got.size == 9 and got.content_type == "application/jsonl"
    assert got.md5_hash == base64.b64encode(hashlib.md5(b'{"a": 1}\n').digest()).decode()
    assert got.download_as_bytes() == b'{"a": 1}\n'
    assert handle.apps["gcs"].uploads == 1


def test_resumable_upload_and_ranged_download_move_in_chunks(
        handle: EmulatorHandle, gcs: Any, tmp_path: Path) -> None:
    app = handle.apps["gcs"]
    data = os.urandom(3 * 256 * KIB + 100)
    source = tmp_path / "in.bin"
    source.write_bytes(data)
    blob = gcs.bucket(SANDBOX_BUCKET).blob("big/in.bin", chunk_size=256 * KIB)
    with source.open("rb") as fh:  # no size: the client goes resumable (over 8 MB it would too)
        blob.upload_from_file(fh)
    assert (app.uploads, app.upload_requests) == (1, 1 + 4)  # start, then four chunks
    target = tmp_path / "out.bin"
    download = gcs.bucket(SANDBOX_BUCKET).blob("big/in.bin", chunk_size=256 * KIB)
    download.download_to_filename(str(target))
    assert target.read_bytes() == data
    assert app.downloads == 4


def test_listing_with_prefix_delimiter_and_pages(gcs: Any) -> None:
    bucket = gcs.bucket(SANDBOX_BUCKET)
    for name in ["a/1.jsonl", "a/2.jsonl", "a/sub/3.jsonl", "b/4.jsonl"]:
        bucket.blob(name).upload_from_string(name)
    assert [b.name for b in gcs.list_blobs(SANDBOX_BUCKET, prefix="a/")] == [
        "a/1.jsonl", "a/2.jsonl", "a/sub/3.jsonl"]
    pages = gcs.list_blobs(SANDBOX_BUCKET, page_size=1)
    assert [b.name for b in pages] == ["a/1.jsonl", "a/2.jsonl", "a/sub/3.jsonl", "b/4.jsonl"]
    top = gcs.list_blobs(SANDBOX_BUCKET, prefix="a/", delimiter="/")
    assert [b.name for b in top] == ["a/1.jsonl", "a/2.jsonl"]
    assert top.prefixes == {"a/sub/"}


def test_buckets_and_the_json_api_errors(gcs: Any) -> None:
    gcs.create_bucket("my-bucket")
    with pytest.raises(exceptions.Conflict):
        gcs.create_bucket("my-bucket")
    with pytest.raises(exceptions.NotFound, match="bucket does not exist"):
        gcs.bucket("no-such-bucket").blob("x").upload_from_string("x")
    with pytest.raises(exceptions.NotFound, match="No such object"):
        gcs.bucket("my-bucket").blob("missing").download_as_bytes()


def _raw(url: str, method: str = "GET", data: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_a_wrong_checksum_is_refused_and_ranges_past_the_end_are_416(
        handle: EmulatorHandle) -> None:
    base = f"{handle.base_url('gcs')}/upload/storage/v1/b/{SANDBOX_BUCKET}/o"
    status, _, body = _raw(f"{base}?uploadType=media&name=x.txt", "POST", b"hello",
                           {"x-goog-hash": "md5=AAAAAAAAAAAAAAAAAAAAAA==",
                            "Content-Type": "text/plain"})
    assert status == 400 and b"doesn't match" in body
    assert handle.apps["gcs"].uploads == 0
    status, _, _ = _raw(f"{base}?uploadType=media&name=x.txt", "POST", b"hello",
                        {"Content-Type": "text/plain"})
    assert status == 200
    media = f"{handle.base_url('gcs')}/download/storage/v1/b/{SANDBOX_BUCKET}/o/x.txt?alt=media"
    status, headers, body = _raw(media, headers={"Range": "bytes=1-3"})
    assert (status, headers["Content-Range"], body) == (206, "bytes 1-3/5", b"ell")
    status, headers, _ = _raw(media, headers={"Range": "bytes=9-"})
    assert (status, headers["Content-Range"]) == (416, "bytes */5")
