"""Bedrock's synchronous endpoint in the emulator: ``POST /model/{modelId}/invoke``
(bedrock-runtime InvokeModel), served by the Bedrock app so one sandbox URL carries both.

Why: batchkit's real-time mode drives boto3's ``bedrock-runtime`` client against it. The
call is checked against botocore's ``bedrock-runtime`` model (uri, headers), and the body by
the same per-family rules as a batch record's ``modelInput`` (:func:`.replies.input_problem`),
then answered by the app's responder, so a real-time answer reads like the batch one (the
record id that seeds a batch answer's text is empty here: the endpoint has none). A refused
body is ``ValidationException`` (HTTP 400) as InvokeModel answers it, and a spent budget
``ThrottlingException`` (HTTP 429, "Too many requests") with a ``Retry-After`` header; Bedrock
sends no rate-limit headers, only its token-count and latency headers
(https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModel.html).

Tests set ``app.realtime.latency_s``, ``.rpm``, ``.tpm`` (and ``.burst_s``) and read
``.answered``, ``.calls`` and ``.rate_limited``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from batchkit.testing._server import Request, Response
from batchkit.testing.emulators._aws import AwsError, ShapeChecker, request_id, request_params
from batchkit.testing.emulators._realtime import RateGate
from batchkit.testing.emulators.bedrock.replies import ModelInputError, input_problem

__all__ = ["SyncEndpoints"]


class SyncEndpoints(RateGate):
    """InvokeModel on one emulated account (see the module docstring); ``responder()``
    returns the app's current responder, so a test that swaps it changes these answers too."""

    def __init__(self, responder: Callable[[], Any]) -> None:
        super().__init__()
        self.responder = responder
        self._checker = ShapeChecker("bedrock-runtime")

    def handle(self, request: Request, model_id: str) -> Response:
        try:
            return self._invoke(request, model_id)
        except AwsError as error:
            return aws_error(error)

    def _invoke(self, request: Request, model_id: str) -> Response:
        operation = self._checker.operation("InvokeModel")
        params = request_params(operation, request, {"modelId": model_id})
        params["body"] = request.body
        self._checker.check_input("InvokeModel", params)
        try:
            body = json.loads(request.body)
        except ValueError:
            raise AwsError("ValidationException", "Malformed input request, please reformat "
                           "your input and try again.") from None
        problem = input_problem(model_id, body)
        if problem is not None:
            raise AwsError("ValidationException", f"Malformed input request: {problem}, please "
                           "reformat your input and try again.")
        gate = self.admit(_tokens(body))
        if not gate.ok:
            error = aws_error(AwsError("ThrottlingException",
                                       "Too many requests, please wait before trying again.",
                                       429))
            error.headers["Retry-After"] = str(max(1, math.ceil(gate.wait)))
            return error
        self.pause()
        try:
            output = json.loads(json.dumps(self.responder()(model_id, body, "")))
        except ModelInputError as rejected:
            raise AwsError("ValidationException", str(rejected)) from None
        self.billed(body)
        usage = output.get("usage") or {}
        counts = {"X-Amzn-Bedrock-Input-Token-Count": usage.get("input_tokens",
                                                                usage.get("inputTokens")),
                  "X-Amzn-Bedrock-Output-Token-Count": usage.get("output_tokens",
                                                                 usage.get("outputTokens"))}
        headers = {k: str(v) for k, v in counts.items() if v is not None}
        headers.update({"X-Amzn-Bedrock-Invocation-Latency": str(int(self.latency_s * 1000)),
                        "x-amzn-RequestId": request_id()})
        return Response(200, json.dumps(output).encode(), "application/json", headers)


def _tokens(body: dict[str, Any]) -> int:
    """The tokens a call is charged against the per-minute token quota: its text over four,
    plus the output it may produce."""
    out = body.get("max_tokens") or (body.get("inferenceConfig") or {}).get("maxTokens") or 0
    return len(json.dumps(body)) // 4 + int(out)


def aws_error(error: AwsError) -> Response:
    """AWS's rest-json error: the code in ``x-amzn-ErrorType``, ``{"message"}`` as the body."""
    body = json.dumps({"message": error.message}).encode()
    return Response(error.status, body, "application/json", {
        "x-amzn-ErrorType": f"{error.code}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        "x-amzn-RequestId": request_id(),
    })
