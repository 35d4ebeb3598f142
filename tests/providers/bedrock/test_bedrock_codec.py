"""The Bedrock codec, line by line: families, ids, per-family encode/decode, statuses."""

from __future__ import annotations

import re
from typing import Any

import botocore.session
import numpy as np
import orjson
import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit._exceptions import InvalidRequestError, ProviderError
from batchkit._registry import make_adapter, parse_provider
from batchkit.providers.bedrock.codec import (
    CLAUDE,
    NOVA,
    STATUS_MAP,
    TITAN_EMBED_V1,
    TITAN_EMBED_V2,
    decode_line,
    encode_record,
    family_of,
    job_name,
    map_status,
    vendor_id,
)
from batchkit.testing.emulators.bedrock.replies import default_responder, input_problem

from .conftest import CLAUDE as CLAUDE_PROVIDER

BEDROCK = botocore.session.get_session().get_service_model("bedrock")


class Label(BaseModel):
    spam: bool
    score: float


def chat(**kw: Any) -> bk.ChatRequest:
    return bk.ChatRequest(custom_id=kw.pop("custom_id", "c1"), messages=kw.pop("messages", [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there"}]),
        **kw)


def body_of(line: bytes) -> dict[str, Any]:
    obj = orjson.loads(line)
    assert set(obj) == {"recordId", "modelInput"}
    return dict(obj["modelInput"])


# -- families and ids ------------------------------------------------------------------------


def test_provider_string_splits_on_the_first_colon_only() -> None:
    model = "anthropic.claude-3-5-haiku-20241022-v1:0"
    assert parse_provider(CLAUDE_PROVIDER) == ("bedrock", model)
    assert make_adapter(CLAUDE_PROVIDER).model == "anthropic.claude-3-5-haiku-20241022-v1:0"


@pytest.mark.parametrize(("model", "family"), [
    ("anthropic.claude-3-5-haiku-20241022-v1:0", CLAUDE),
    ("us.anthropic.claude-haiku-4-5-20251001-v1:0", CLAUDE),
    ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", CLAUDE),
    ("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0", CLAUDE),
    ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.amazon.nova-pro-v1:0", NOVA),
    ("amazon.nova-lite-v1:0", NOVA),
    ("amazon.nova-2-lite-v1:0", NOVA),
    ("amazon.titan-embed-text-v2:0", TITAN_EMBED_V2),
    ("amazon.titan-embed-text-v1", TITAN_EMBED_V1),
    ("amazon.nova-canvas-v1:0", None),
    ("cohere.command-r-v1:0", None),
    ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123", None),
])
def test_family_of_model_ids(model: str, family: Any) -> None:
    assert family_of(model) is family


def test_model_family_option_names_the_family_of_an_opaque_arn() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"
    adapter = make_adapter(f"bedrock:{arn}", {"model_family": "claude"})
    assert adapter.family is CLAUDE  # type: ignore[attr-defined]
    adapter.check(chat())


@pytest.mark.parametrize("custom_id", ["row1", "ticket 7/ü", "a-b_c", "bkxABC", "x" * 65, "é"])
def test_vendor_ids_are_alphanumeric_and_distinct(custom_id: str) -> None:
    vid = vendor_id(custom_id)
    assert re.fullmatch(r"[A-Za-z0-9]+", vid)
    assert vid == vendor_id(custom_id)
    if re.fullmatch(r"[A-Za-z0-9]{1,64}", custom_id) and not custom_id.startswith("bkx"):
        assert vid == custom_id
    else:
        assert vid.startswith("bkx") and vid != custom_id


def test_escaped_ids_do_not_collide() -> None:
    ids = ["a-b", "a_b", "a b", "ab-", "bkxab"]
    assert len({vendor_id(i) for i in ids}) == len(ids)


@pytest.mark.parametrize("key", ["bk_20261121_010919_1a2b3c4d-0000", "x" * 200, "a_b", "a-b"])
def test_job_name_fits_botocore_patterns_for_name_and_token(key: str) -> None:
    request = BEDROCK.shape_for("CreateModelInvocationJobRequest").members
    name = job_name(key)
    for member in ("jobName", "clientRequestToken"):
        meta = request[member].metadata
        assert re.fullmatch(meta["pattern"], name) and len(name) <= meta["max"]
    listed = BEDROCK.shape_for("ListModelInvocationJobsRequest").members["nameContains"]
    assert re.fullmatch(listed.metadata["pattern"], name)
    assert job_name("a_b") != job_name("a-b")


# -- encode: every family's body is one the emulated model accepts --------------------------


def test_claude_body_is_the_bedrock_messages_body() -> None:
    body = body_of(encode_record(chat(temperature=0.2, stop=["END"]), "c1", CLAUDE, {}))
    assert body["anthropic_version"] == "bedrock-2023-05-31" and "model" not in body
    assert body["system"] == "Be brief." and body["max_tokens"] == 4096
    assert body["messages"] == [{"role": "user", "content": "hello there"}]
    assert body["stop_sequences"] == ["END"] and body["temperature"] == 0.2
    assert input_problem("anthropic.claude-3-5-haiku-20241022-v1:0", body) is None


def test_claude_response_model_is_a_forced_tool() -> None:
    body = body_of(encode_record(chat(response_model=Label, max_tokens=100), "c1", CLAUDE, {}))
    assert body["tool_choice"] == {"type": "tool", "name": "respond"}
    assert body["tools"][0]["input_schema"]["properties"].keys() == {"spam", "score"}
    assert input_problem("anthropic.claude-3-5-haiku-20241022-v1:0", body) is None


def test_nova_body_uses_content_blocks_and_inference_config() -> None:
    request = chat(max_tokens=64, top_p=0.5, messages=[
        {"role": "system", "content": "sys"},
        {"role": "user", "content": [{"type": "text", "text": "look"},
                                     {"type": "image", "data": "aGk=", "media_type": "image/png"}]},
    ])
    body = body_of(encode_record(request, "n1", NOVA, {}))
    assert body["system"] == [{"text": "sys"}]
    assert body["messages"][0]["content"] == [
        {"text": "look"}, {"image": {"format": "png", "source": {"bytes": "aGk="}}}]
    assert body["inferenceConfig"] == {"maxTokens": 64, "topP": 0.5}
    assert input_problem("amazon.nova-lite-v1:0", body) is None
    structured = body_of(encode_record(chat(response_model=Label), "n2", NOVA, {}))
    assert structured["toolConfig"]["toolChoice"] == {"tool": {"name": "respond"}}
    assert input_problem("amazon.nova-lite-v1:0", structured) is None


def test_titan_bodies() -> None:
    v2 = body_of(encode_record(bk.EmbedRequest(custom_id="e", text="hi", dimensions=256,
                                               input_type="search_query"), "e", TITAN_EMBED_V2, {}))
    assert v2 == {"inputText": "hi", "dimensions": 256}
    assert input_problem("amazon.titan-embed-text-v2:0", v2) is None
    v1 = body_of(encode_record(bk.EmbedRequest(custom_id="e", text="hi"), "e", TITAN_EMBED_V1, {}))
    assert v1 == {"inputText": "hi"} and input_problem("amazon.titan-embed-text-v1", v1) is None


def test_params_are_merged_last_and_checked_by_the_model() -> None:
    body = body_of(encode_record(chat(params={"top_k": 5}), "c1", CLAUDE, {}))
    assert body["top_k"] == 5
    assert input_problem("anthropic.claude-3-5-haiku-20241022-v1:0", body) is None
    with pytest.raises(bk.InvalidRequestError, match="'bogus' is not a bedrock request field"):
        encode_record(chat(params={"bogus": 1}), "c1", CLAUDE, {})
    bogus = body_of(encode_record(chat(params={"bedrock": {"bogus": 1}}), "c1", CLAUDE, {}))
    assert "extraneous key [bogus]" in str(
        input_problem("anthropic.claude-3-5-haiku-20241022-v1:0", bogus))


@pytest.mark.parametrize(("provider", "request_", "rule"), [
    ("bedrock:cohere.command-r-v1:0", chat(), "not in a family batchkit can encode"),
    (CLAUDE_PROVIDER, bk.EmbedRequest(custom_id="c1", text="x"), "takes ChatRequests only"),
    ("bedrock:amazon.titan-embed-text-v2:0", chat(), "takes EmbedRequests only"),
    ("bedrock:amazon.titan-embed-text-v2:0",
     bk.EmbedRequest(custom_id="c1", text="x", dimensions=300), "256, 512 or 1024"),
    ("bedrock:amazon.titan-embed-text-v1",
     bk.EmbedRequest(custom_id="c1", text="x", dimensions=256), "fixed 1536"),
    (CLAUDE_PROVIDER, chat(temperature=1.5), "temperature between 0 and 1"),
    (CLAUDE_PROVIDER, chat(seed=3), "no 'seed'"),
    (CLAUDE_PROVIDER, chat(params={"stream": True}), "stream"),
    (CLAUDE_PROVIDER, chat(response_model=Label, params={"tools": []}), "tools/tool_choice"),
    ("bedrock:amazon.nova-lite-v1:0", chat(messages=[{"role": "user", "content": [
        {"type": "image", "url": "https://example.com/cat.png"}]}]), "not a link"),
    ("bedrock:amazon.nova-lite-v1:0", chat(messages=[{"role": "user", "content": [
        {"type": "image", "data": "aGk=", "media_type": "image/tiff"}]}]), "image/tiff"),
])
def test_check_refuses_with_one_line_naming_the_request(
    provider: str, request_: Any, rule: str
) -> None:
    with pytest.raises(InvalidRequestError, match=re.escape(rule)) as caught:
        make_adapter(provider).check(request_)
    assert caught.value.custom_id == "c1" and "\n" not in str(caught.value)


# -- decode ----------------------------------------------------------------------------------


def out_line(model: str, body: dict[str, Any], rid: str = "r1") -> bytes:
    return orjson.dumps({"recordId": rid, "modelInput": body,
                         "modelOutput": default_responder(model, body, rid)})


def test_decode_claude_text_and_forced_tool() -> None:
    model = "anthropic.claude-3-5-haiku-20241022-v1:0"
    text = decode_line(out_line(model, body_of(encode_record(chat(), "r1", CLAUDE, {}))))
    assert text.status == "succeeded" and text.text and text.text.startswith("Emulated answer")
    assert text.finish_reason == "stop" and text.usage and text.usage.input_tokens > 0
    tool = decode_line(out_line(model, body_of(encode_record(chat(response_model=Label),
                                                             "r1", CLAUDE, {}))))
    assert tool.finish_reason == "stop" and Label.model_validate_json(tool.text or "")


def test_decode_nova_text_tool_and_usage() -> None:
    reply = decode_line(out_line("amazon.nova-lite-v1:0",
                                 body_of(encode_record(chat(), "r1", NOVA, {}))))
    assert reply.status == "succeeded" and reply.text and reply.finish_reason == "stop"
    structured = decode_line(out_line("amazon.nova-lite-v1:0", body_of(
        encode_record(chat(response_model=Label), "r1", NOVA, {}))))
    assert Label.model_validate_json(structured.text or "") and structured.finish_reason == "stop"
    cached = decode_line(orjson.dumps({"recordId": "r", "modelOutput": {
        "output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}},
        "stopReason": "max_tokens", "usage": {"inputTokens": 10, "outputTokens": 3,
                                              "cacheReadInputTokenCount": 90}}}))
    assert cached.usage is not None and cached.usage.input_tokens == 100
    assert cached.usage.cached_input_tokens == 90 and cached.finish_reason == "length"


def test_decode_titan_vectors() -> None:
    result = decode_line(out_line("amazon.titan-embed-text-v2:0",
                                  {"inputText": "hello", "dimensions": 512,
                                   "embeddingTypes": ["float", "binary"]}))
    assert result.embedding is not None and result.embedding.shape == (512,)
    assert result.embedding.dtype == np.float32
    assert abs(float(np.linalg.norm(result.embedding)) - 1.0) < 1e-4
    assert result.embeddings_by_type is not None
    assert result.embeddings_by_type["binary"].dtype == np.uint8
    assert result.usage is not None and result.usage.input_tokens > 0


@pytest.mark.parametrize(("code", "name", "retryable"), [
    (400, "validation_error", False), (429, "throttling", True), (408, "model_timeout", True),
    (500, "internal_server_error", True), (418, "http_418", False), (502, "http_502", True),
])
def test_error_rows_become_errored_results(code: int, name: str, retryable: bool) -> None:
    result = decode_line(orjson.dumps({"recordId": "r9", "modelInput": {},
                                       "error": {"errorCode": code, "errorMessage": "bad"}}))
    assert (result.custom_id, result.status) == ("r9", "errored")
    assert result.error is not None and result.error.code == name
    assert result.error.retryable is retryable and result.error.http_status == code
    assert result.error.message == "bad"


def test_error_row_with_a_named_code() -> None:
    result = decode_line(b'{"recordId": "r", "error": {"errorCode": "ThrottlingException"}}')
    assert result.error is not None and result.error.code == "ThrottlingException"


@pytest.mark.parametrize("line", [b"not json", b'{"modelOutput": {}}', b'{"recordId": 7}'])
def test_lines_bedrock_could_not_write_raise_value_error(line: bytes) -> None:
    with pytest.raises(ValueError):
        decode_line(line)


@pytest.mark.parametrize(("line", "code"), [
    (b'{"recordId": "r-1_a"}', "missing_output"),
    (b'{"recordId": "r-1_a", "modelOutput": {"unknown": 1}}', "unknown_output"),
])
def test_rows_without_a_readable_reply_are_kept_whole_under_their_id(line: bytes,
                                                                    code: str) -> None:
    result = decode_line(line)
    assert (result.custom_id, result.status) == ("r-1_a", "errored")
    assert result.error is not None and result.error.code == code
    assert result.raw == orjson.loads(line)


# -- status ----------------------------------------------------------------------------------


def test_status_map_covers_botocores_enum_exactly() -> None:
    enum = BEDROCK.shape_for("ModelInvocationJobStatus").enum
    assert sorted(STATUS_MAP) == sorted(enum)


@pytest.mark.parametrize(("status", "state"), [
    ("Submitted", bk.JobState.VALIDATING), ("Validating", bk.JobState.VALIDATING),
    ("Scheduled", bk.JobState.QUEUED), ("InProgress", bk.JobState.RUNNING),
    ("Completed", bk.JobState.COMPLETED), ("PartiallyCompleted", bk.JobState.EXPIRED),
    ("Failed", bk.JobState.FAILED), ("Stopping", bk.JobState.CANCELLING),
    ("Stopped", bk.JobState.CANCELLED), ("Expired", bk.JobState.EXPIRED),
])
def test_status_mapping_table(status: str, state: bk.JobState) -> None:
    mapped = map_status({"jobArn": "a", "status": status, "totalRecordCount": 5,
                         "successRecordCount": 3, "errorRecordCount": 1, "message": "why"})
    assert mapped.state is state and mapped.vendor_status == status
    assert (mapped.total, mapped.succeeded, mapped.failed) == (5, 3, 1)
    assert bool(mapped.errors) == (state is bk.JobState.FAILED)
    if mapped.errors:
        assert mapped.errors[0].message == "why"


def test_unknown_status_raises() -> None:
    with pytest.raises(ProviderError, match="Paused"):
        map_status({"jobArn": "a", "status": "Paused"})


def test_offline_decode_of_a_downloaded_output_file(tmp_path: Any) -> None:
    requests = [chat(custom_id=f"row {i}") for i in range(3)]
    model = "anthropic.claude-3-5-haiku-20241022-v1:0"
    lines = [out_line(model, body_of(encode_record(r, vendor_id(r.custom_id), CLAUDE, {})),
                      vendor_id(r.custom_id)) for r in requests[:2]]
    path = tmp_path / "part.jsonl.out"
    path.write_bytes(b"\n".join(lines) + b"\n")
    results = bk.decode(path, provider="bedrock", requests=requests)
    assert [r.custom_id for r in results] == ["row 0", "row 1", "row 2"]
    assert [r.status for r in results] == ["succeeded", "succeeded", "errored"]
    assert results[2].error is not None and results[2].error.code == "missing_result"
    assert "modelInput" not in results[0].raw and "modelOutput" in results[0].raw
