"""The Azure OpenAI Global Batch emulator: the OpenAI emulator with Azure's differences.

Why a variant and not a copy: Azure runs OpenAI's Batch API (same statuses, batch object and
result lines), so everything that is the same stays in :class:`OpenAIEmulator`. What differs, per
Microsoft's batch how-to
(https://learn.microsoft.com/en-us/azure/ai-foundry/openai/how-to/batch), the ``2024-10-21``
authoring spec and providers.md:

* two path families on one resource: the dated API ``/openai/batches?api-version=...`` (the
  ``AzureOpenAI`` client) and the v1 API ``/openai/v1/batches`` (the plain ``OpenAI`` client);
* ``api-key`` header auth (the v1 API also takes the key as a bearer token);
* ``body.model`` is a Global Batch *deployment name*, the same on every line
  (``model_mismatch``), and must exist (``model_not_found``);
* endpoint spelled ``/chat/completions`` or ``/v1/responses`` (line ``url`` must match:
  ``url_mismatch``); no embeddings; any completion window but ``24h`` makes the job fail;
* 100,000 requests and 200 MB per file;
* a completed batch always has an error file, empty when nothing failed;
* result lines carry GUID request ids and content-filter annotations.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from batchkit.testing import _spec
from batchkit.testing._clock import EmulatorClock
from batchkit.testing._server import (
    Request,
)
from batchkit.testing.emulators._app import bearer_token
from batchkit.testing.emulators.openai.routes import ApiError, OpenAIEmulator, _check_metadata
from batchkit.testing.emulators.openai.state import EmulatedBatch
from batchkit.testing.emulators.openai.validation import InputLimits, InputRules, ValidationError

BATCH_SPELLINGS = {"/chat/completions": "/v1/chat/completions",
                   "/v1/chat/completions": "/v1/chat/completions",
                   "/responses": "/v1/responses", "/v1/responses": "/v1/responses"}
"""Azure's docs create batches with ``/chat/completions``; some of its REST pages use ``/v1/``,
as its Responses lines do (``/v1/responses``)."""
AZURE_PURPOSES = frozenset({"fine-tune", "fine-tune-results", "assistants", "assistants_output",
                            "batch", "batch_output"})
ACCESS_DENIED = ("Access denied due to invalid subscription key or wrong API endpoint. Make sure "
                 "to provide a valid key for an active subscription and use a correct regional "
                 "API endpoint for your resource.")
EXPIRY_RANGE = (1_209_600, 2_592_000)
"""Azure's allowed file and output expiry, in seconds (14 to 30 days; OpenAI allows 1 h)."""
_SAFE = {"filtered": False, "severity": "safe"}


class AzureEmulator(OpenAIEmulator):
    """The Azure OpenAI app mounted at ``/azure`` (the SDK's ``azure_endpoint``).

    Extra knobs: :meth:`only_deployments` (which deployment names exist); counters
    ``api_versions`` (the ``api-version`` of each dated-API call) and ``v1_calls``.
    """

    name = "azure"
    file_purposes = AZURE_PURPOSES
    input_rules = InputRules(urls=BATCH_SPELLINGS, one_model_code="model_mismatch",
                             url_mismatch_code="url_mismatch")
    empty_error_file = True

    def __init__(self, clock: EmulatorClock) -> None:
        super().__init__(clock)
        self.limits = InputLimits(max_requests=100_000, max_bytes=200 * 1024 * 1024)
        self.api_versions: list[str] = []
        self.v1_calls = 0

    def only_deployments(self, *names: str) -> None:
        """Lines naming any other deployment fail validation with ``model_not_found``."""
        self.input_rules = dataclasses.replace(self.input_rules, models=frozenset(names))

    # ---- where the API lives, and who may call it ---------------------------------------

    def _api_parts(self, request: Request) -> list[str]:
        parts = request.path.strip("/").split("/")
        if parts[0] != "openai" or len(parts) < 2:
            raise ApiError(404, "Resource not found", code="404")
        if parts[1] == "v1":
            self.v1_calls += 1
            return parts[2:]
        version = request.query_value("api-version")
        if not version:
            raise ApiError(400, "The api-version query parameter (?api-version=) is required for "
                           "all requests.", code="MissingApiVersionParameter")
        self.api_versions.append(version)
        return parts[1:]

    def _authenticate(self, request: Request) -> None:
        key = (request.header("api-key") or "").strip()
        if not key and request.path.startswith("/openai/v1/"):
            key = bearer_token(request)
        if self._refuses(key):
            raise ApiError(401, ACCESS_DENIED, code="401",
                           body={"error": {"code": "401", "message": ACCESS_DENIED}})

    # ---- Azure's create rules ----------------------------------------------------------------

    def _new_file_id(self) -> str:
        return "file-" + uuid.uuid4().hex

    def _new_batch_id(self) -> str:
        return f"batch_{uuid.uuid4()}"

    def _check_create(self, body: dict[str, Any]) -> None:
        for name in ("input_file_id", "endpoint", "completion_window"):
            if name not in body:
                raise ApiError(400, f"Missing required parameter: '{name}'.", param=name,
                               code="missing_required_parameter")
        endpoint = body["endpoint"]
        if endpoint not in BATCH_SPELLINGS:
            raise ApiError(400, f"The endpoint {endpoint!r} is not supported by Global Batch; "
                           "use /chat/completions or /v1/responses.", param="endpoint",
                           code="invalid_value")
        if isinstance(body.get("metadata"), dict):
            _check_metadata(body["metadata"])
        # Azure's body is OpenAI's CreateBatchRequest with its own endpoint spelling, and a
        # window other than 24h fails the job later (see _create_error), not the request.
        canonical = {**body, "endpoint": BATCH_SPELLINGS[endpoint], "completion_window": "24h"}
        problems = _spec.validate("openai", "CreateBatchRequest", canonical)
        if problems:
            path, _, message = problems[0].partition(": ")
            raise ApiError(400, f"Invalid value for '{path[2:]}': {message}", param=path[2:],
                           code="invalid_value")
        seconds = (body.get("output_expires_after") or {}).get("seconds", EXPIRY_RANGE[0])
        if not EXPIRY_RANGE[0] <= seconds <= EXPIRY_RANGE[1]:
            raise ApiError(400, f"output_expires_after.seconds must be between {EXPIRY_RANGE[0]} "
                           f"and {EXPIRY_RANGE[1]}.", param="output_expires_after.seconds",
                           code="invalid_value")

    def _create_error(self, body: dict[str, Any]) -> ValidationError | None:
        if body["completion_window"] != "24h":
            return ValidationError("invalid_request", "The completion_window must be 24h.",
                                   "completion_window")
        return None

    # ---- Azure's result lines ----------------------------------------------------------------

    def _present_row(self, batch: EmulatedBatch, row: dict[str, Any]) -> dict[str, Any] | None:
        response = row.get("response")
        if response is None:
            return row
        # Azure's request ids are GUIDs; the engine's are "req_<hex>", deterministic per row.
        guid = uuid.UUID(hex=response["request_id"].removeprefix("req_")[:32])
        response = {**response, "request_id": str(guid)}
        body = response.get("body")
        if response["status_code"] < 400 and isinstance(body, dict) and "choices" in body:
            body = {**body, "prompt_filter_results": [{
                "prompt_index": 0,
                "content_filter_results": {k: _SAFE for k in
                                           ("hate", "self_harm", "sexual", "violence")},
            }], "choices": [{**choice, "content_filter_results": {
                k: _SAFE for k in ("hate", "self_harm", "sexual", "violence")}}
                for choice in body["choices"]]}
            response["body"] = body
        return {**row, "response": response}


def create_app(clock: EmulatorClock) -> AzureEmulator:
    """Factory named in the emulate() table."""
    return AzureEmulator(clock)
