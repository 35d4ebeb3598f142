"""The Groq Batch API emulator: the OpenAI emulator with Groq's differences.

Groq serves OpenAI's Batch API under ``/openai/v1`` (the ``groq`` SDK's paths) with the same
statuses, batch object and result lines. What differs, per Groq's batch docs and the ``groq``
SDK's generated types (https://console.groq.com/docs/batch, providers.md):

* ``completion_window`` from ``24h`` to ``7d`` (the batch expires that long after creation);
* the create body is checked against the SDK's own ``BatchCreateParams`` (endpoint
  ``/v1/chat/completions`` only; ``metadata`` string to string);
* file purpose ``batch`` is the only one;
* a file may name several models (the docs' "Mixed Batch" example);
* listing pages by an opaque ``cursor`` with ``paging.next_cursor`` in the answer (no
  ``limit``/``after``), and ``?id=a&id=b`` fetches up to 200 batches by id;
* a line asking for ``n`` above 1 or for ``logprobs`` fails with a 400 row (the SDK's request
  type: "only n=1 is supported", logprobs "not yet supported by any of our models").
"""

from __future__ import annotations

import base64
import re
import secrets
from typing import Any

from batchkit.testing._clock import EmulatorClock
from batchkit.testing._server import (
    Request,
    Response,
    json_response,
)
from batchkit.testing.emulators._app import bearer_token, params_problem
from batchkit.testing.emulators.openai.errors import ReplyError
from batchkit.testing.emulators.openai.routes import ApiError, OpenAIEmulator
from batchkit.testing.emulators.openai.validation import InputLimits, InputRules

WINDOW_PATTERN = re.compile(r"^(\d+)([hd])$")
MIN_WINDOW, MAX_WINDOW = 24 * 3600, 7 * 24 * 3600
MAX_IDS = 200
PARAMS_REFUSALS = {  # how Groq words what its create schema refuses, and the error code
    "missing": ("missing required field '{}'", "missing_required_parameter"),
    "unknown": ("unknown field '{}'", None),
    "invalid": ("invalid value for '{}': {}", "invalid_value"),
}
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, as Groq's ULID-style ids


def window_seconds(value: Any) -> int | None:
    """``"36h"`` -> 129600; None for anything outside Groq's ``24h`` to ``7d``."""
    match = WINDOW_PATTERN.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    seconds = int(match[1]) * (3600 if match[2] == "h" else 86_400)
    return seconds if MIN_WINDOW <= seconds <= MAX_WINDOW else None


class GroqEmulator(OpenAIEmulator):
    """The Groq app mounted at ``/groq`` (the SDK's ``base_url``).

    Extra knob: ``list_page_size`` (batches per ``GET /batches`` page, default 20).
    """

    name = "groq"
    file_purposes = frozenset({"batch"})
    input_rules = InputRules(one_model_code=None, sdk_request_type=(
        "groq.types.chat.completion_create_params", "CompletionCreateParams"))

    def __init__(self, clock: EmulatorClock) -> None:
        super().__init__(clock)
        self.limits = InputLimits(max_requests=50_000, max_bytes=200 * 1024 * 1024)
        self.list_page_size = 20

    def _api_parts(self, request: Request) -> list[str]:
        parts = request.path.strip("/").split("/")
        if parts[:2] != ["openai", "v1"] or len(parts) < 3:
            raise ApiError(404, "Unknown request URL: " + request.path, code="unknown_url")
        return parts[2:]

    def _authenticate(self, request: Request) -> None:
        if self._refuses(bearer_token(request)):
            raise ApiError(401, "Invalid API Key", code="invalid_api_key")

    def _new_file_id(self) -> str:
        return "file_" + "".join(secrets.choice(_ALPHABET) for _ in range(26))

    def _new_batch_id(self) -> str:
        return "batch_" + "".join(secrets.choice(_ALPHABET) for _ in range(26))

    def _check_create(self, body: dict[str, Any]) -> None:
        """Check the body against the ``groq`` SDK's ``BatchCreateParams`` TypedDict."""
        from groq.types.batch_create_params import BatchCreateParams

        problem = params_problem(BatchCreateParams, body)
        if problem is not None:
            wording, code = PARAMS_REFUSALS[problem.kind]
            raise ApiError(400, wording.format(problem.path, problem.message), param=problem.path,
                           code=code)
        if window_seconds(body["completion_window"]) is None:
            raise ApiError(400, f"invalid completion_window {body['completion_window']!r}: "
                           "durations from 24h to 7d are supported", param="completion_window",
                           code="invalid_value")

    def _respond(self, url: str, body: dict[str, Any], custom_id: str) -> dict[str, Any]:
        """Groq runs only one choice and returns no log probabilities: such a line fails."""
        if (body.get("n") or 1) != 1:
            raise ReplyError(400, "'n' : number must be at most 1", param="n")
        if body.get("logprobs") or body.get("top_logprobs"):
            raise ReplyError(400, "'logprobs' is not supported with this model",
                             param="logprobs")
        return super()._respond(url, body, custom_id)

    def _window_seconds(self, body: dict[str, Any]) -> int:
        seconds = window_seconds(body["completion_window"])
        assert seconds is not None  # _check_create refused anything else
        return seconds

    def _list(self, request: Request) -> Response:
        newest_first = list(reversed(self.batches.values()))  # dicts keep creation order
        wanted = request.query.get("id")
        if wanted:
            if len(wanted) > MAX_IDS:
                raise ApiError(400, f"at most {MAX_IDS} batch ids per request", param="id")
            found = [b for b in newest_first if b.id in set(wanted)]
            return json_response({"object": "list",
                                  "data": [self._batch_json(self._sync(b, polled=True))
                                           for b in found]})
        start = 0
        cursor = request.query_value("cursor")
        if cursor is not None:
            ids = [b.id for b in newest_first]
            after = _decode_cursor(cursor)
            if after not in ids:
                raise ApiError(400, "invalid cursor", param="cursor", code="invalid_value")
            start = ids.index(after) + 1
        page = newest_first[start:start + self.list_page_size]
        more = start + len(page) < len(newest_first)
        paging = {"next_cursor": _encode_cursor(page[-1].id)} if more and page else {}
        return json_response({
            "object": "list",
            # A listing polls what it shows: in auto mode each batch moves one step.
            "data": [self._batch_json(self._sync(b, polled=True)) for b in page],
            "paging": paging,
        })


def _encode_cursor(batch_id: str) -> str:
    return "cursor_" + base64.urlsafe_b64encode(batch_id.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str | None:
    token = cursor.removeprefix("cursor_")
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def create_app(clock: EmulatorClock) -> GroqEmulator:
    """Factory named in the emulate() table."""
    return GroqEmulator(clock)
