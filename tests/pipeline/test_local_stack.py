"""The local stack: deployed once, kept up, and triggered by any upload as on AWS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from pipeline.config import Settings
from pipeline.local.events import matches
from pipeline.local.stack import LocalStack
from pipeline.trigger import event_pattern
from tests import docgen

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def test_the_rule_pattern_matches_only_its_bucket_and_prefix() -> None:
    """This test ensures that the local rule applies the deployed pattern: the trigger
    bucket's new objects under the prefix match, other buckets and keys do not."""
    pattern = event_pattern("trigger", "inbox/")

    def event(bucket: str, key: str, detail_type: str = "Object Created") -> dict[str, Any]:
        detail = {"bucket": {"name": bucket}, "object": {"key": key}}
        return {"source": "aws.s3", "detail-type": detail_type, "detail": detail}

    assert matches(pattern, event("trigger", "inbox/a.pdf"))
    assert not matches(pattern, event("trigger", "inbox/a.pdf", "Object Deleted"))
    assert not matches(pattern, event("trigger", "outbox/a.pdf"))
    assert not matches(pattern, event("output", "inbox/a.pdf"))


@pytest.mark.slow
def test_any_upload_to_the_trigger_bucket_starts_an_execution(tmp_path: Path) -> None:
    """This test ensures that put() returns the execution the rule started, that an
    upload from another client (as the AWS CLI would make) starts one too, with the
    execution input the rule's transformer makes, that keys outside the trigger prefix
    start nothing, and that the workspace is clean once every execution ended."""
    with LocalStack(Settings(trigger_prefix="inbox/"), tmp_path / "efs") as stack:
        arn = stack.put("inbox/letter.pdf", docgen.text_pdf(1), {"docpipe-profile": "screen"})
        outside = _client_of(stack)
        body = docgen.image_bytes("PNG")
        put = outside.put_object(Bucket=stack.trigger_bucket, Key="inbox/scan.png", Body=body)
        outside.put_object(Bucket=stack.trigger_bucket, Key="elsewhere/scan.png", Body=body)
        with pytest.raises(ValueError, match="outside the trigger prefix"):
            stack.put("x.pdf", b"x")
        stack.wait(timeout=120)
        listed = stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)
        inputs = {
            item["executionArn"]: json.loads(
                stack.sfn.describe_execution(executionArn=item["executionArn"])["input"]
            )
            for item in listed["executions"]
        }
        assert sorted(value["key"] for value in inputs.values()) == [
            "inbox/letter.pdf",
            "inbox/scan.png",
        ]
        assert inputs[arn]["key"] == "inbox/letter.pdf"
        (scan,) = [value for value in inputs.values() if value["key"] == "inbox/scan.png"]
        assert len(scan.pop("sequencer")) == 16, "the event's sequencer orders a key's versions"
        assert scan == {
            "bucket": stack.trigger_bucket,
            "key": "inbox/scan.png",
            "versionId": put["VersionId"],
            "etag": put["ETag"].strip('"'),
            "size": len(body),
        }
        assert {item["status"] for item in listed["executions"]} == {"SUCCEEDED"}
        manifest = stack.s3.get_object(
            Bucket=stack.output_bucket, Key="processed/inbox/letter.pdf.json"
        )
        assert json.loads(manifest["Body"].read())["profile"] == "screen"
        assert stack.workspace_leftovers() == []


def _client_of(stack: LocalStack) -> S3Client:
    """An S3 client of its own, configured only from the environment serve prints."""
    env = stack.environment()
    session = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
        region_name=env["AWS_REGION"],
    )
    return session.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
