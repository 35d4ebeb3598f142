"""The Gemini and Vertex emulators' synchronous endpoints refuse a body that is not a JSON object
as Google's front end does: 400 ``INVALID_ARGUMENT``, ``google.rpc.Status`` shape, nothing
answered or billed."""

from __future__ import annotations

import httpx
import pytest

from batchkit.testing import emulate

_PATHS = {
    "gemini": "/v1beta/models/gemini-2.5-flash:generateContent",
    "vertex": "/v1/projects/p/locations/us-central1/publishers/google/models/"
              "gemini-2.5-flash:generateContent",
}


@pytest.mark.parametrize("provider", sorted(_PATHS))
@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\"text\""])
def test_a_body_that_is_not_a_json_object_is_invalid_argument(provider: str, body: bytes) -> None:
    with emulate(providers=[provider]) as handle:
        reply = httpx.post(handle.base_url(provider) + _PATHS[provider], content=body,
                           headers={"x-goog-api-key": "k", "Content-Type": "application/json"})
        app = handle.apps[provider]
        assert (app.realtime.calls, sum(app.realtime.answered.values())) == (0, 0)
    assert reply.status_code == 400
    assert reply.json() == {"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                      "message": "Invalid JSON payload received."}}


@pytest.mark.parametrize("provider", sorted(_PATHS))
def test_a_json_object_body_is_answered(provider: str) -> None:
    """The same call with a good body is answered: the refusal above is the body's doing."""
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    with emulate(providers=[provider]) as handle:
        reply = httpx.post(handle.base_url(provider) + _PATHS[provider], json=body,
                           headers={"x-goog-api-key": "k"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["candidates"]
