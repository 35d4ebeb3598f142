"""Bedrock end to end: bk.submit through boto3 against the Bedrock and S3 emulators."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import orjson
import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit._exceptions import (
    BatchFailedError,
    ConfigError,
    InvalidRequestError,
    MissingCredentialsError,
    ProviderError,
)
from batchkit._registry import make_adapter
from batchkit.providers.bedrock.codec import job_name, vendor_id

from .conftest import CLAUDE, NOVA, TITAN

BUCKET = "batchkit-sandbox"


class Verdict(BaseModel):
    spam: bool
    reason: str


def chats(n: int, **kw: Any) -> list[bk.ChatRequest]:
    return [bk.ChatRequest(custom_id=f"mail {i}/ü", max_tokens=80, metadata={"row": i},
                           messages=[{"role": "system", "content": "Is this spam?"},
                                     {"role": "user", "content": f"mail body {i}"}], **kw)
            for i in range(n)]


def objects(handle: Any, prefix: str = "batchkit/") -> list[str]:
    return list(handle.apps["s3"].keys(BUCKET, prefix))


def test_claude_job_accounts_for_error_rows_and_missing_records(handle: Any) -> None:
    app = handle.apps["bedrock"]
    requests = chats(150, response_model=Verdict)
    requests[9] = requests[9].model_copy(update={"params": {"top_k": -1}})
    app.fault_record(vendor_id(requests[3].custom_id), 429, "Too many requests, slow down.")
    app.fault_record(vendor_id(requests[5].custom_id), 424, "The model failed.")
    app.drop_record(vendor_id(requests[7].custom_id))
    job = bk.submit(requests, CLAUDE)
    results = job.wait().results()

    assert len(results) == 150 and app.creates == 1
    assert [r.custom_id for r in results] == [r.custom_id for r in requests]
    assert [r.metadata["row"] for r in results] == list(range(150))
    assert results.counts() == {"succeeded": 146, "errored": 4}
    codes = {i: (r.error.code, r.error.retryable) for i, r in enumerate(results) if r.error}
    assert codes == {3: ("throttling", True), 5: ("model_error", True),
                     7: ("missing_result", True), 9: ("validation_error", False)}
    assert results[9].error is not None and "top_k" in results[9].error.message
    ok = [r for r in results if r.ok]
    assert all(isinstance(r.parsed, Verdict) and r.usage and r.usage.input_tokens for r in ok)
    assert results.cost_usd is not None and results.cost_usd > 0
    [shard] = job.shards
    assert shard.vendor_status == "Completed"
    keys = objects(handle, f"batchkit/{job.id}/")
    assert f"batchkit/{job.id}/shard-0000.jsonl" in keys
    assert sum(k.endswith("shard-0000.jsonl.out") for k in keys) == 1
    assert sum(k.endswith("manifest.json.out") for k in keys) == 1


def test_nova_structured_job(handle: Any) -> None:
    requests = chats(120, response_model=Verdict, temperature=0)
    results = bk.run(requests, NOVA)
    assert results.counts() == {"succeeded": 120}
    parsed, unparsed = results.split()
    assert len(parsed) == 120 and not unparsed
    assert all(r.finish_reason == "stop" for r in results)


def test_titan_embeddings_matrix_with_metadata_and_cost(handle: Any) -> None:
    requests = [bk.EmbedRequest(custom_id=f"doc-{i}", text=f"chunk number {i}", dimensions=512,
                                metadata={"title": f"T{i}"}) for i in range(110)]
    results = bk.run(requests, TITAN)
    matrix = results.embeddings()
    assert matrix.shape == (110, 512) and matrix.dtype == np.float32
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-4)
    assert len({row.tobytes() for row in matrix}) == 110
    assert [r.metadata["title"] for r in results] == [f"T{i}" for i in range(110)]
    assert results.usage.input_tokens > 0 and results.cost_usd is not None


def test_partially_completed_keeps_processed_results_and_expires_the_rest(handle: Any) -> None:
    handle.apps["bedrock"].time_out_next_job(processed=40)
    job = bk.submit(chats(100), CLAUDE).wait()
    assert job.state == bk.JobState.EXPIRED
    assert job.shards[0].vendor_status == "PartiallyCompleted"
    results = job.results()
    assert results.counts() == {"succeeded": 40, "expired": 60}
    assert all(r.error is not None and r.error.code == "batch_expired" and r.error.retryable
               for r in results if r.status == "expired")


def test_expired_job_expires_every_request_and_writes_no_results(handle: Any) -> None:
    handle.apps["bedrock"].expire_next_job()
    job = bk.submit(chats(100), CLAUDE).wait()
    assert job.state == bk.JobState.EXPIRED and job.shards[0].vendor_status == "Expired"
    assert job.results().counts() == {"expired": 100}
    assert not [k for k in objects(handle) if k.endswith(".out")]


def test_failed_job_raises_then_gives_batch_failed_results(handle: Any) -> None:
    handle.apps["bedrock"].fail_next_job("The service role cannot read the input bucket")
    job = bk.submit(chats(100), CLAUDE)
    with pytest.raises(BatchFailedError, match="cannot read the input bucket"):
        job.wait()
    results = job.results()
    assert results.counts() == {"errored": 100}
    assert {r.error.code for r in results if r.error} == {"batch_failed"}
    assert all("cannot read the input bucket" in (r.error.message if r.error else "")
               for r in results)


def test_vendor_validation_enforces_the_record_minimum_too(handle: Any) -> None:
    """With batchkit's own check lowered, the emulated job fails validation as Bedrock's does."""
    job = bk.submit(chats(20), CLAUDE, options={"min_records": 10})
    with pytest.raises(BatchFailedError, match="minimum number of records"):
        job.wait()


def test_too_few_records_is_refused_before_anything_is_sent(handle: Any) -> None:
    with pytest.raises(InvalidRequestError, match=r"below the provider's minimum of 100 per "
                       r"batch; the job sends only 50 chat request\(s\): send at least 100"):
        bk.submit(chats(50), CLAUDE)
    assert handle.apps["bedrock"].creates == 0 and objects(handle) == []
    assert bk.list_jobs() == []


def test_small_last_shard_is_refused_with_an_even_shard_size(handle: Any) -> None:
    options = {"max_records": 120}  # shards of 120, 120 and 60 for 300 requests
    with pytest.raises(InvalidRequestError, match=r"shard 2 would send 60 chat request\(s\).*"
                       r"pass shard_size=100 to split the 300 requests evenly"):
        bk.submit(chats(300), CLAUDE, options=options)
    assert handle.apps["bedrock"].creates == 0
    job = bk.submit(chats(300), CLAUDE, options=options, shard_size=100)
    assert [s.request_count for s in job.shards] == [100, 100, 100]
    assert job.wait().results().counts() == {"succeeded": 300}


def test_fetch_results_returns_every_output_file_and_skips_the_manifest(handle: Any,
                                                                       tmp_path: Any) -> None:
    job = bk.submit(chats(100), CLAUDE).wait()
    arn = str(job.shards[0].remote_id)
    folder = f"batchkit/{job.id}/shard-0000/{arn.rsplit('/', 1)[-1]}/"
    extra = {"recordId": "stray", "modelInput": {}, "error": {"errorCode": 500,
                                                             "errorMessage": "x"}}
    handle.apps["s3"].put_object(BUCKET, f"{folder}second.jsonl.out", orjson.dumps(extra) + b"\n")
    adapter = make_adapter(CLAUDE)
    paths = adapter.fetch_results(arn, adapter.poll(arn), tmp_path / "out")
    assert len(paths) == 2 and all(p.suffix == ".jsonl" and p.exists() for p in paths)
    assert not [p for p in tmp_path.joinpath("out").iterdir() if "manifest" in p.name]
    lines = [adapter.decode(line) for p in paths for line in p.read_bytes().splitlines()]
    assert len(lines) == 101 and {r.custom_id for r in lines} >= {"stray"}


@pytest.mark.parametrize("fault", [
    {"truncate": True},  # created, but the answer arrives cut short (botocore parses no ARN)
    {"drop": True},  # the connection drops: botocore retries the create with the same token
])
def test_a_lost_create_answer_makes_one_job(handle: Any, fault: dict[str, bool]) -> None:
    app = handle.apps["bedrock"]
    app.endpoint_faults.add(None, method="POST", path_prefix="/model-invocation-job", **fault)
    job = bk.submit(chats(100), CLAUDE)
    assert app.creates == 1 and app.jobs_named(job_name(job.shards[0].key)) == 1
    [created] = app.jobs.values()
    assert job.shards[0].remote_id == created.arn
    assert job.wait().results().counts() == {"succeeded": 100}


def test_a_repeated_token_answers_the_first_job(handle: Any) -> None:
    job = bk.submit(chats(100), CLAUDE)
    shard = job.shards[0]
    adapter = make_adapter(CLAUDE)
    from batchkit.providers.base import ShardInput

    again = adapter.submit(ShardInput(job.id, 0, shard.key, "chat", job.folder /
                                      "shard-0000.payload.jsonl", 100))
    assert again == shard.remote_id and handle.apps["bedrock"].creates == 1


KILL_AFTER_CREATE = textwrap.dedent("""
    import os, signal
    import batchkit as bk
    from batchkit.providers.bedrock.adapter import BedrockAdapter

    real_submit = BedrockAdapter.submit

    def submit_then_die(self, shard):
        remote_id = real_submit(self, shard)  # the vendor has the job now
        if shard.index == 1:
            os.kill(os.getpid(), signal.SIGKILL)  # ...and batchkit never writes its id down
        return remote_id

    BedrockAdapter.submit = submit_then_die
    requests = [bk.ChatRequest(custom_id=f"r{i}", messages=[{"role": "user", "content": str(i)}])
                for i in range(300)]
    bk.submit(requests, "bedrock:anthropic.claude-3-5-haiku-20241022-v1:0", shard_size=100)
    print("finished without being killed")
""")


def test_kill_between_create_and_record_resumes_onto_the_same_job(handle: Any) -> None:
    proc = subprocess.run([sys.executable, "-c", KILL_AFTER_CREATE], env=dict(os.environ),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    [record] = bk.list_jobs()
    before = bk.get_job(record.id).shards
    recorded = sum(s.remote_id is not None for s in before)
    app = handle.apps["bedrock"]
    # Shards may be created side by side: shard 1 was created and never recorded; another one
    # may have been in flight when the process died.
    assert before[1].remote_id is None and recorded + 1 <= app.creates <= 3

    results = bk.resume(record.id).wait().results()
    assert results.counts() == {"succeeded": 300}
    shards = bk.get_job(record.id).shards
    assert app.creates == 3
    assert [app.jobs_named(job_name(s.key)) for s in shards] == [1, 1, 1]
    assert shards[1].remote_id in {j.arn for j in app.jobs.values()
                                   if j.name == job_name(shards[1].key)}


def test_cancel_stops_the_job_and_cancelling_a_finished_job_is_quiet(handle: Any) -> None:
    job = bk.submit(chats(100), CLAUDE)
    job.cancel()
    job.wait()
    assert job.state == bk.JobState.CANCELLED and job.shards[0].vendor_status == "Stopped"
    assert job.results().counts() == {"cancelled": 100}
    done = bk.submit(chats(100), CLAUDE).wait()
    adapter = make_adapter(CLAUDE)
    adapter.cancel(str(done.shards[0].remote_id))  # ConflictException at the vendor: ignored
    assert adapter.poll(str(done.shards[0].remote_id)).vendor_status == "Completed"


def test_server_side_validation_surfaces_as_a_provider_error(handle: Any) -> None:
    with pytest.raises(ProviderError, match=r"HTTP 400 \[ValidationException\].*"
                       r"timeoutDurationInHours.*168"):
        bk.submit(chats(100), CLAUDE, options={"timeout_hours": 200})


def test_outside_the_sandbox_role_and_bucket_are_required(monkeypatch: Any, tmp_path: Any) -> None:
    payload = tmp_path / "p.jsonl"
    payload.write_text("")
    from batchkit.providers.base import ShardInput

    shard = ShardInput("bk_x", 0, "bk_x-0000", "chat", payload, 0)
    with pytest.raises(ConfigError, match="BATCHKIT_BEDROCK_BUCKET"):
        make_adapter(CLAUDE).submit(shard)
    monkeypatch.setenv("BATCHKIT_BEDROCK_BUCKET", "my-bucket")
    monkeypatch.setenv("BATCHKIT_BEDROCK_ROLE_ARN", "arn:aws:iam::123456789012:role/batch")
    with pytest.raises(MissingCredentialsError, match="no AWS credentials"):
        make_adapter(CLAUDE, {"region": "us-east-1"}).submit(shard)
    with pytest.raises(ConfigError, match="no AWS region"):
        make_adapter(CLAUDE).find_by_key(shard)


def test_a_missing_role_is_named_before_anything_is_uploaded(tmp_path: Any,
                                                             monkeypatch: Any) -> None:
    from batchkit.providers.base import ShardInput

    monkeypatch.setenv("BATCHKIT_BEDROCK_BUCKET", "my-bucket")
    payload = tmp_path / "p.jsonl"
    payload.write_text("")
    with pytest.raises(ConfigError, match="BATCHKIT_BEDROCK_ROLE_ARN"):
        make_adapter(CLAUDE).submit(ShardInput("bk_x", 0, "bk_x-0000", "chat", payload, 0))
