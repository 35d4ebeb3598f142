"""Bedrock's synchronous endpoint for real-time mode: one batch record in, one output record
out.

A Bedrock batch record is ``{"recordId", "modelInput"}`` where ``modelInput`` is exactly the
InvokeModel body of the model's family (https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-data.html),
so a row is sent now as that body through ``boto3``'s ``bedrock-runtime`` ``invoke_model``
(https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModel.html), with
the adapter's session and credentials, and the answer written as the output record the job
would hold: ``{"recordId", "modelInput", "modelOutput"}``, or ``"error": {"errorCode",
"errorMessage"}`` for a body the model refuses. The encoding is the adapter's own, untouched:
real time reads nothing of a family but the body it already made.

The runtime client makes one attempt per call (botocore's own retries would hide the 429s the
engine's rate limiter paces by). Bedrock answers a spent quota with ``ThrottlingException``
(HTTP 429) and sends no rate-limit headers; the headers it does send (input and output token
counts, latency) are passed on with the answer.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from ..._exceptions import ProviderError, RateLimitedError
from ..base import RealtimeAnswer, sandbox_url

__all__ = ["BedrockRealtime"]

_REFUSED = frozenset({400, 404, 413, 422, 424})
"""Statuses where the model refused this body (ValidationException, a missing model, a body
too big, a model error): the record's answer is an error record, as in a batch."""
_NOT_THE_ROW = frozenset({"AccessDeniedException", "UnrecognizedClientException",
                          "ResourceNotFoundException"})
"""Codes about the account or the model rather than the row: raised, never written."""


class BedrockRealtime:
    """``send_now`` for the Bedrock adapter (put it first among the adapter's bases)."""

    name: ClassVar[str]
    model: str
    options: dict[str, Any]
    _session: Any
    _runtime: Any
    if TYPE_CHECKING:
        def _call(self, action: str) -> AbstractContextManager[Any]: ...

    def send_now(self, line: bytes, group: str = "") -> RealtimeAnswer:
        import botocore.exceptions as aws  # type: ignore[import-untyped]

        item = orjson.loads(line)
        record_id, body = str(item["recordId"]), item["modelInput"]
        with self._call(f"answer {record_id[:60]!r} in real time"):
            client = self._runtime_client()
            try:
                reply = client.invoke_model(modelId=self.model, body=orjson.dumps(body),
                                            contentType="application/json",
                                            accept="application/json")
                output = orjson.loads(reply["body"].read())
            except orjson.JSONDecodeError:
                raise ProviderError(f"Bedrock answered {record_id[:60]!r} with a body that is "
                                    "not JSON", transient=True) from None
            except aws.ClientError as exc:
                error = exc.response.get("Error", {})
                meta = exc.response.get("ResponseMetadata", {})
                status, code = meta.get("HTTPStatusCode"), str(error.get("Code") or "")
                if status == 429 or code == "ThrottlingException":
                    # here, not at the top: it loads the OpenAI HTTP stack, which a Bedrock
                    # adapter made only to convert or check lines does not need
                    from ..openai.realtime import retry_after

                    raise RateLimitedError(
                        "Bedrock: rate limited (ThrottlingException)",
                        retry_after=retry_after(meta.get("HTTPHeaders") or {})) from None
                if status not in _REFUSED or code in _NOT_THE_ROW:
                    raise  # the adapter's error mapping: credentials or a passing failure
                row = {"recordId": record_id, "modelInput": body, "error": {
                    "errorCode": status, "errorMessage": str(error.get("Message") or code)}}
                return RealtimeAnswer(orjson.dumps(row), meta.get("HTTPHeaders") or {})
        headers = reply.get("ResponseMetadata", {}).get("HTTPHeaders") or {}
        row = {"recordId": record_id, "modelInput": body, "modelOutput": output}
        return RealtimeAnswer(orjson.dumps(row), headers)

    def _runtime_client(self) -> Any:
        """The ``bedrock-runtime`` client, made once from the adapter's session (option
        ``runtime_endpoint_url``; the sandbox's Bedrock app serves it too)."""
        if self._runtime is None:
            from botocore.config import Config  # type: ignore[import-untyped]

            wait = float(self.options.get("timeout") or 60)
            endpoint = self.options.get("runtime_endpoint_url") or sandbox_url(self.name)
            self._runtime = self._session.client(
                "bedrock-runtime", endpoint_url=endpoint, config=Config(
                    retries={"total_max_attempts": 1}, user_agent_extra="batchkit",
                    connect_timeout=wait, read_timeout=wait))
        return self._runtime
