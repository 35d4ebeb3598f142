"""The Azure adapter's pure half, offline: lines, the rules ``check()`` enforces, limits, config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit._exceptions import ConfigError, InvalidRequestError, MissingCredentialsError
from batchkit._registry import make_adapter
from batchkit.providers.azure.adapter import AzureAdapter
from batchkit.providers.base import ShardInput
from batchkit.testing import _spec


class Label(BaseModel):
    spam: bool


@pytest.fixture(autouse=True)
def _no_azure_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "OPENAI_API_VERSION",
                "AZURE_OPENAI_AD_TOKEN"):
        monkeypatch.delenv(var, raising=False)


def _chat(cid: str, **kw: object) -> bk.ChatRequest:
    return bk.ChatRequest(custom_id=cid, messages=[{"role": "user", "content": "hello"}], **kw)


def test_every_line_names_the_deployment_and_azures_endpoint(tmp_path: Path) -> None:
    requests = [_chat(f"r{i}", max_tokens=20, response_model=Label) for i in range(3)]
    (path,) = bk.encode(requests, "azure:my-batch-deployment", tmp_path)
    lines = [json.loads(text) for text in path.read_text().splitlines()]
    assert len(lines) == 3
    assert {line["body"]["model"] for line in lines} == {"my-batch-deployment"}
    assert {(line["method"], line["url"]) for line in lines} == {("POST", "/chat/completions")}
    for line in lines:  # the body is OpenAI's chat request, which Azure documents it as
        assert _spec.validate("openai", "CreateChatCompletionRequest", line["body"]) == []
        assert line["body"]["response_format"]["json_schema"]["strict"] is True


def test_embeddings_are_refused_before_anything_is_sent() -> None:
    adapter = make_adapter("azure:text-embedding-3-small")
    with pytest.raises(InvalidRequestError) as caught:
        adapter.check(bk.EmbedRequest(custom_id="doc-7", text="a chunk"))
    message = str(caught.value)
    assert "doc-7" in message and "embeddings" in message and "\n" not in message


def test_a_second_deployment_cannot_be_smuggled_in_through_params() -> None:
    adapter = make_adapter("azure:prod-batch")
    with pytest.raises(InvalidRequestError, match="'model'"):
        adapter.check(_chat("r1", params={"model": "other-deployment"}))


def test_limits_are_azures_100k_requests_and_200_mb() -> None:
    limits = make_adapter("azure:prod-batch").limits("chat")
    assert (limits.max_requests, limits.max_bytes) == (100_000, 200_000_000)


def _output_line(cid: str) -> dict[str, object]:
    return {"id": "batch_req_1", "custom_id": "r1", "error": None, "response": {
        "status_code": 200, "request_id": "0f1e2d3c-0000-4000-8000-000000000000",
        "body": {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini",
                 "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
                 "choices": [{"index": 0, "finish_reason": "stop",
                              "content_filter_results": {"hate": {"filtered": False}},
                              "message": {"role": "assistant", "content": "hi"}}],
                 "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}}}


def test_an_output_line_with_content_filter_annotations_decodes() -> None:
    result = make_adapter("azure:d").decode(json.dumps(_output_line("r1")).encode())
    assert (result.status, result.text, result.usage and result.usage.input_tokens) == (
        "succeeded", "hi", 5)


def test_the_empty_error_file_of_a_clean_batch_adds_nothing(tmp_path: Path) -> None:
    """Azure writes a zero-byte error file for a batch where nothing failed."""
    output, empty = tmp_path / "output.jsonl", tmp_path / "errors.jsonl"
    output.write_text(json.dumps(_output_line("r1")) + "\n")
    empty.write_bytes(b"")
    results = bk.decode([output, empty], provider="azure", requests=[_chat("r1"), _chat("r2")])
    assert [(r.custom_id, r.status) for r in results] == [("r1", "succeeded"), ("r2", "errored")]
    assert results[1].error is not None and results[1].error.code == "missing_result"
    assert results.unmatched == []


@pytest.mark.parametrize("days", [13, 31, "14"])
def test_file_expiry_outside_azures_range_is_a_config_error(days: object) -> None:
    with pytest.raises(ConfigError, match="file_expiry_days"):
        AzureAdapter("d", {"file_expiry_days": days})


def test_missing_endpoint_and_key_name_the_variables(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    payload = tmp_path / "p.jsonl"
    payload.write_text("")
    shard = ShardInput(job_id="j", index=0, key="j-0", group="chat", payload_path=payload,
                       request_count=0)
    with pytest.raises(ConfigError, match="AZURE_OPENAI_ENDPOINT"):
        make_adapter("azure:d").find_by_key(shard)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://example.invalid")
    with pytest.raises(MissingCredentialsError, match="AZURE_OPENAI_API_KEY"):
        make_adapter("azure:d").find_by_key(shard)


def test_a_missing_sdk_names_the_extra_that_installs_it(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from batchkit._exceptions import MissingDependencyError

    monkeypatch.setitem(sys.modules, "openai", None)  # makes `import openai` fail
    payload = tmp_path / "p.jsonl"
    payload.write_text("")
    shard = ShardInput(job_id="j", index=0, key="j-0", group="chat", payload_path=payload,
                       request_count=0)
    with pytest.raises(MissingDependencyError, match=r'pip install "batchkit\[openai\]"'):
        make_adapter("azure:d").find_by_key(shard)
