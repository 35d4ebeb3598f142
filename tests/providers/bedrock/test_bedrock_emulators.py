"""The Bedrock and S3 emulators through boto3 directly: wire shapes, errors, faults, transfers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from batchkit.testing.emulators._aws import ShapeChecker

ROLE = "arn:aws:iam::123456789012:role/batch"
CLAUDE_ID = "anthropic.claude-3-5-haiku-20241022-v1:0"
BUCKET = "batchkit-sandbox"
KEYS = {"region_name": "us-east-1", "aws_access_key_id": "k", "aws_secret_access_key": "s"}


@pytest.fixture
def clients(handle: Any) -> Iterator[tuple[Any, Any, list[tuple[str, bytes]]]]:
    """``(s3, bedrock, raw bedrock answers)``; retries off so faults show."""
    config = Config(retries={"mode": "standard", "total_max_attempts": 1})
    s3 = boto3.client("s3", endpoint_url=handle.base_url("s3"), config=config, **KEYS)
    bedrock = boto3.client("bedrock", endpoint_url=handle.base_url("bedrock"), config=config,
                           **KEYS)
    raw: list[tuple[str, bytes]] = []

    def keep(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        if response_dict["status_code"] == 200:
            raw.append((operation_model.name, response_dict["body"]))

    bedrock.meta.events.register("before-parse.bedrock.*", keep)
    yield s3, bedrock, raw


def claude_line(record_id: str, **body: Any) -> dict[str, Any]:
    return {"recordId": record_id, "modelInput": {
        "anthropic_version": "bedrock-2023-05-31", "max_tokens": 20,
        "messages": [{"role": "user", "content": f"hello {record_id}"}], **body}}


def upload(s3: Any, key: str, lines: list[Any]) -> str:
    s3.put_object(Bucket=BUCKET, Key=key, Body="".join(
        (line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines).encode())
    return f"s3://{BUCKET}/{key}"


def create(bedrock: Any, input_uri: str, name: str = "job1", model: str = CLAUDE_ID,
           output: str = f"s3://{BUCKET}/out/", **kw: Any) -> str:
    return str(bedrock.create_model_invocation_job(
        jobName=name, roleArn=ROLE, modelId=model,
        inputDataConfig={"s3InputDataConfig": {"s3Uri": input_uri}},
        outputDataConfig={"s3OutputDataConfig": {"s3Uri": output}}, **kw)["jobArn"])


def run_to_end(bedrock: Any, arn: str) -> dict[str, Any]:
    for _ in range(20):
        job = bedrock.get_model_invocation_job(jobIdentifier=arn)
        if job["status"] not in ("Submitted", "Validating", "Scheduled", "InProgress",
                                 "Stopping"):
            return dict(job)
    raise AssertionError("the job did not end")


def output_rows(s3: Any, arn: str) -> list[dict[str, Any]]:
    prefix = f"out/{arn.rsplit('/', 1)[-1]}/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]]
    [out] = [k for k in keys if k.endswith(".jsonl.out")]
    body = s3.get_object(Bucket=BUCKET, Key=out)["Body"].read()
    return [json.loads(line) for line in body.splitlines()]


# -- Bedrock control plane -------------------------------------------------------------------


def test_every_answer_satisfies_botocores_output_shapes(handle: Any, clients: Any) -> None:
    s3, bedrock, raw = clients
    arn = create(bedrock, upload(s3, "in/a.jsonl", [claude_line(f"r{i}") for i in range(100)]))
    job = run_to_end(bedrock, arn)
    bedrock.list_model_invocation_jobs(maxResults=5)
    assert job["status"] == "Completed" and job["successRecordCount"] == 100
    assert job["submitTime"] < job["endTime"] and job["clientRequestToken"]
    checker = ShapeChecker("bedrock")
    seen = set()
    for operation, body in raw:
        checker.check_output(operation, json.loads(body))
        seen.add(operation)
    assert seen == {"CreateModelInvocationJob", "GetModelInvocationJob",
                    "ListModelInvocationJobs"}
    manifest_key = f"out/{arn.rsplit('/', 1)[-1]}/manifest.json.out"
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=manifest_key)["Body"].read())
    assert manifest["processedRecordCount"] == 100 and manifest["inputTokenCount"] > 0


def test_statuses_step_one_per_poll_in_order(handle: Any, clients: Any) -> None:
    s3, bedrock, _ = clients
    arn = create(bedrock, upload(s3, "in/a.jsonl", [claude_line(f"r{i}") for i in range(100)]))
    seen = [bedrock.get_model_invocation_job(jobIdentifier=arn)["status"] for _ in range(5)]
    assert seen == ["Validating", "Scheduled", "InProgress", "Completed", "Completed"]


@pytest.mark.parametrize(("change", "message"), [
    ({"jobName": "bad_name"}, "at 'jobName' failed to satisfy constraint"),
    ({"jobName": "x" * 64}, "less than or equal to 63"),
    ({"roleArn": "not-an-arn"}, "at 'roleArn'"),
    ({"timeoutDurationInHours": 200}, "less than or equal to 168"),
    ({"modelInvocationType": "Chat"}, "enum value set"),
    ({"inputDataConfig": {}}, "union"),
    ({"inputDataConfig": {"s3InputDataConfig": {"s3Uri": "s3://Bad_Bucket/x"}}}, "s3Uri"),
    ({"jobName": None}, "Missing required parameter"),
    ({"clientRequestToken": "no spaces allowed"}, "at 'clientRequestToken'"),
    ({"modelId": "cohere.command-r-v1:0"}, "does not support batch inference"),
])
def test_bad_create_input_answers_validation_exception(
    handle: Any, change: dict[str, Any], message: str
) -> None:
    """Sent with boto3's own checks off, so the emulator's are what is tested."""
    bedrock = boto3.client("bedrock", endpoint_url=handle.base_url("bedrock"),
                           config=Config(parameter_validation=False), **KEYS)
    params = {"jobName": "ok", "roleArn": ROLE, "modelId": CLAUDE_ID,
              "inputDataConfig": {"s3InputDataConfig": {"s3Uri": f"s3://{BUCKET}/a.jsonl"}},
              "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": f"s3://{BUCKET}/o/"}},
              **change}
    with pytest.raises(ClientError) as caught:
        bedrock.create_model_invocation_job(**{k: v for k, v in params.items() if v is not None})
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException" and message in error["Message"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert handle.apps["bedrock"].creates == 0


def test_token_dedupes_and_lookups_fail_like_aws(handle: Any, clients: Any) -> None:
    s3, bedrock, _ = clients
    uri = upload(s3, "in/a.jsonl", [claude_line(f"r{i}") for i in range(100)])
    first = create(bedrock, uri, clientRequestToken="tok-1")
    assert create(bedrock, uri, name="other", clientRequestToken="tok-1") == first
    assert handle.apps["bedrock"].creates == 1
    job_id = first.rsplit("/", 1)[-1]
    assert bedrock.get_model_invocation_job(jobIdentifier=job_id)["jobArn"] == first
    missing = first[:-12] + "zzzzzzzzzzzz"
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        bedrock.get_model_invocation_job(jobIdentifier=missing)
    with pytest.raises(ClientError, match="ValidationException"):
        bedrock.get_model_invocation_job(jobIdentifier="NOT-AN-ID")
    run_to_end(bedrock, first)
    with pytest.raises(ClientError, match="ConflictException"):
        bedrock.stop_model_invocation_job(jobIdentifier=first)


def test_list_filters_sorts_and_pages(handle: Any, clients: Any) -> None:
    s3, bedrock, _ = clients
    uri = upload(s3, "in/a.jsonl", [claude_line(f"r{i}") for i in range(100)])
    arns = []
    for i in range(5):
        arns.append(create(bedrock, uri, name=f"batch-{i}"))
        handle.clock.advance(10)
    run_to_end(bedrock, arns[0])
    handle.clock.auto = False  # a listing is a poll in auto mode: hold still to test filters
    pages = list(bedrock.get_paginator("list_model_invocation_jobs").paginate(
        PaginationConfig={"PageSize": 2}, sortOrder="Ascending"))
    assert [len(p["invocationJobSummaries"]) for p in pages] == [2, 2, 1]
    listed = [j["jobArn"] for p in pages for j in p["invocationJobSummaries"]]
    assert listed == arns
    done = bedrock.list_model_invocation_jobs(statusEquals="Completed")
    assert [j["jobArn"] for j in done["invocationJobSummaries"]] == [arns[0]]
    named = bedrock.list_model_invocation_jobs(nameContains="batch-3")
    assert [j["jobName"] for j in named["invocationJobSummaries"]] == ["batch-3"]
    third = bedrock.get_model_invocation_job(jobIdentifier=arns[2])["submitTime"]
    newest = bedrock.list_model_invocation_jobs(submitTimeAfter=third + timedelta(seconds=1))
    assert {j["jobArn"] for j in newest["invocationJobSummaries"]} == set(arns[3:])


def test_unsigned_requests_and_throttling(handle: Any, clients: Any) -> None:
    _, bedrock, _ = clients
    unsigned = boto3.client("bedrock", endpoint_url=handle.base_url("bedrock"),
                            config=Config(signature_version=botocore.UNSIGNED), **KEYS)
    with pytest.raises(ClientError, match="MissingAuthenticationTokenException"):
        unsigned.list_model_invocation_jobs()
    handle.apps["bedrock"].endpoint_faults.add(429, path_prefix="/model-invocation-jobs")
    with pytest.raises(ClientError, match="ThrottlingException"):
        bedrock.list_model_invocation_jobs()


def test_bodies_the_models_reject_become_error_rows(handle: Any, clients: Any) -> None:
    s3, bedrock, _ = clients
    lines = [claude_line(f"ok{i}") for i in range(100)]
    lines += [claude_line("role", messages=[{"role": "bot", "content": "x"}]),
              {"recordId": "version", "modelInput": {"max_tokens": 5, "messages": []}},
              claude_line("extra", model=CLAUDE_ID)]
    arn = create(bedrock, upload(s3, "in/claude.jsonl", lines))
    assert run_to_end(bedrock, arn)["errorRecordCount"] == 3
    errors = {r["recordId"]: r["error"] for r in output_rows(s3, arn) if "error" in r}
    assert set(errors) == {"role", "version", "extra"}
    assert all(e["errorCode"] == 400 and e["errorMessage"].startswith("Malformed input request")
               for e in errors.values())
    assert "extraneous key [model]" in errors["extra"]["errorMessage"]

    nova = [{"recordId": f"n{i}", "modelInput": {"messages": [
        {"role": "user", "content": [{"text": "hi"}]}], "inferenceConfig": {"maxTokens": 5}}}
        for i in range(100)]
    nova.append({"recordId": "zero", "modelInput": {"messages": [
        {"role": "user", "content": [{"text": "hi"}]}], "inferenceConfig": {"maxTokens": 0}}})
    nova.append({"recordId": "plain", "modelInput": {"messages": [
        {"role": "user", "content": "not blocks"}]}})
    arn = create(bedrock, upload(s3, "in/nova.jsonl", nova), name="nova",
                 model="amazon.nova-lite-v1:0")
    assert run_to_end(bedrock, arn)["errorRecordCount"] == 2
    rows = {r["recordId"]: r for r in output_rows(s3, arn)}
    assert "maxTokens" in rows["zero"]["error"]["errorMessage"]
    assert rows["n1"]["modelOutput"]["output"]["message"]["content"][0]["text"]

    titan = [{"recordId": f"t{i}", "modelInput": {"inputText": f"t{i}", "dimensions": 256}}
             for i in range(100)]
    titan.append({"recordId": "dims", "modelInput": {"inputText": "x", "dimensions": 300}})
    arn = create(bedrock, upload(s3, "in/titan.jsonl", titan), name="titan",
                 model="amazon.titan-embed-text-v2:0")
    assert run_to_end(bedrock, arn)["errorRecordCount"] == 1
    rows = {r["recordId"]: r for r in output_rows(s3, arn)}
    assert len(rows["t0"]["modelOutput"]["embedding"]) == 256


@pytest.mark.parametrize(("lines", "key", "output", "message"), [
    ([claude_line("bad-id")] * 100, "in/a.jsonl", "out/", "not alphanumeric"),
    (["{not json"], "in/a.jsonl", "out/", "not valid JSON"),
    ([{"recordId": "a"}], "in/a.jsonl", "out/", "no modelInput"),
    ([claude_line("r")], "in/a.json", "out/", ".jsonl extension"),
    ([claude_line(f"r{i}") for i in range(99)], "in/a.jsonl", "out/", "minimum number"),
    ([claude_line(f"r{i}") for i in range(100)], "in/a.jsonl", "s3://nowhere/o/",
     "output S3 location"),
])
def test_jobs_fail_validation_like_bedrock(
    handle: Any, clients: Any, lines: list[Any], key: str, output: str, message: str
) -> None:
    s3, bedrock, _ = clients
    uri = upload(s3, key, lines)
    arn = create(bedrock, uri, output=output if output.startswith("s3://")
                 else f"s3://{BUCKET}/{output}")
    job = run_to_end(bedrock, arn)
    assert job["status"] == "Failed" and message in job["message"]


def test_missing_input_object_fails_the_job(handle: Any, clients: Any) -> None:
    _, bedrock, _ = clients
    job = run_to_end(bedrock, create(bedrock, f"s3://{BUCKET}/in/none.jsonl"))
    assert job["status"] == "Failed" and "input S3 location" in job["message"]


def test_stop_keeps_finished_records(handle: Any, clients: Any) -> None:
    s3, bedrock, _ = clients
    handle.clock.auto = False
    arn = create(bedrock, upload(s3, "in/a.jsonl", [claude_line(f"r{i}") for i in range(100)]))
    phases = handle.apps["bedrock"].phases
    handle.clock.advance(phases.submitted + phases.validating + phases.scheduled
                         + phases.in_progress / 4 + 0.001)
    assert bedrock.get_model_invocation_job(jobIdentifier=arn)["status"] == "InProgress"
    bedrock.stop_model_invocation_job(jobIdentifier=arn)
    assert bedrock.get_model_invocation_job(jobIdentifier=arn)["status"] == "Stopping"
    handle.clock.advance(phases.stopping)
    job = bedrock.get_model_invocation_job(jobIdentifier=arn)
    assert job["status"] == "Stopped" and job["processedRecordCount"] == 25
    assert len(output_rows(s3, arn)) == 25


# -- S3 ----------------------------------------------------------------------------------------


def test_multipart_upload_and_ranged_download_round_trip(handle: Any, clients: Any,
                                                         tmp_path: Path) -> None:
    s3, _, _ = clients
    source = tmp_path / "big.jsonl"
    source.write_bytes(b"".join(f"line {i:08d}\n".encode() for i in range(900_000)))  # ~12 MB
    s3.upload_file(str(source), BUCKET, "big/file.jsonl")
    ops = handle.apps["s3"].operations
    assert ops["CreateMultipartUpload"] == 1 and ops["UploadPart"] >= 2
    assert ops["CompleteMultipartUpload"] == 1 and ops["PutObject"] == 0
    head = s3.head_object(Bucket=BUCKET, Key="big/file.jsonl")
    assert head["ContentLength"] == source.stat().st_size and head["ETag"].endswith('-2"')
    target = tmp_path / "back.jsonl"
    s3.download_file(BUCKET, "big/file.jsonl", str(target))
    assert ops["GetObject"] >= 2  # s3transfer fetched it in ranges
    assert hashlib.sha256(target.read_bytes()).digest() == \
        hashlib.sha256(source.read_bytes()).digest()


def test_s3_refuses_what_s3_refuses(handle: Any, clients: Any) -> None:
    s3, _, _ = clients
    with pytest.raises(ClientError, match="BadDigest"):
        s3.put_object(Bucket=BUCKET, Key="k", Body=b"data", ChecksumCRC32="AAAAAA==")
    with pytest.raises(ClientError, match="NoSuchBucket"):
        s3.put_object(Bucket="no-such-bucket", Key="k", Body=b"data")
    with pytest.raises(ClientError, match="NoSuchKey"):
        s3.get_object(Bucket=BUCKET, Key="absent")
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket=BUCKET, Key="absent")
    assert caught.value.response["Error"]["Code"] == "404"
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="m")["UploadId"]
    tags = [s3.upload_part(Bucket=BUCKET, Key="m", UploadId=upload, PartNumber=n,
                           Body=b"tiny")["ETag"] for n in (1, 2)]
    with pytest.raises(ClientError, match="InvalidPart"):
        s3.complete_multipart_upload(Bucket=BUCKET, Key="m", UploadId=upload, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": '"0"'}]})
    with pytest.raises(ClientError, match="EntityTooSmall"):
        s3.complete_multipart_upload(Bucket=BUCKET, Key="m", UploadId=upload, MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": t} for n, t in zip((1, 2), tags, strict=True)]})
    s3.abort_multipart_upload(Bucket=BUCKET, Key="m", UploadId=upload)
    with pytest.raises(ClientError, match="NoSuchUpload"):
        s3.abort_multipart_upload(Bucket=BUCKET, Key="m", UploadId=upload)


def test_listing_pages_and_odd_keys(handle: Any, clients: Any) -> None:
    s3, _, _ = clients
    keys = [f"odd/{name}" for name in ("a b.jsonl", "ü.jsonl", "plus+sign", "x/y/z", "q?=&")]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Prefix="odd/", PaginationConfig={"PageSize": 2}))
    listed = [o["Key"] for p in pages for o in p.get("Contents", [])]
    assert sorted(listed) == sorted(keys) and len(pages) == 3
    for key in keys:
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == key.encode()
    ranged = s3.get_object(Bucket=BUCKET, Key=keys[0], Range="bytes=4-7")
    assert ranged["Body"].read() == keys[0].encode()[4:8]
    assert ranged["ContentRange"] == f"bytes 4-7/{len(keys[0].encode())}"
    s3.create_bucket(Bucket="second-bucket")
    with pytest.raises(ClientError, match="BucketAlreadyOwnedByYou"):
        s3.create_bucket(Bucket="second-bucket")
