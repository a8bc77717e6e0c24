"""Exactly once through the state machine: duplicates, re-runs, folder markers, job ids."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from functions.status import read_status
from pipeline.config import Settings
from pipeline.local.stack import LocalStack
from tests import docgen


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(Settings(), tmp_path_factory.mktemp("efs")) as running:
        yield running


def finished(stack: LocalStack, arn: str) -> dict[str, Any]:
    stack.wait(timeout=120)
    return dict(stack.sfn.describe_execution(executionArn=arn))


def versions_under(stack: LocalStack, prefix: str) -> int:
    listed = stack.s3.list_object_versions(Bucket=stack.output_bucket, Prefix=prefix)
    return len(listed.get("Versions", ()))


@pytest.mark.slow
def test_a_folder_marker_ends_at_nothing_to_process(stack: LocalStack) -> None:
    """The console's empty `inbox/` object ends the execution
    successfully, with no report and no status."""
    described = finished(stack, stack.put("marker/", b""))
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["reason"] == "folder marker"
    assert versions_under(stack, "failed/marker") == 0
    assert read_status(stack.s3, stack.output_bucket, "marker/") is None


@pytest.mark.slow
def test_a_duplicate_does_nothing_and_rerun_true_reprocesses(stack: LocalStack) -> None:
    """A second execution of a published version publishes
    nothing, and that one with {"rerun": true} publishes again under its own name."""
    finished(stack, stack.put("dup/a.pdf", docgen.text_pdf(1)))
    before = versions_under(stack, "processed/dup/a.pdf")
    source = {"bucket": stack.trigger_bucket, "key": "dup/a.pdf"}
    duplicate = finished(stack, stack.start(source, name="by-hand.1"))
    assert duplicate["status"] == "SUCCEEDED"
    assert json.loads(duplicate["output"])["duplicate"] is True
    assert versions_under(stack, "processed/dup/a.pdf") == before
    again = finished(stack, stack.start({**source, "rerun": True}, name="rerun.v2"))
    assert again["status"] == "SUCCEEDED"
    status = read_status(stack.s3, stack.output_bucket, "dup/a.pdf")
    assert status is not None
    assert (status.state, status.execution) == ("succeeded", "rerun.v2")
    assert versions_under(stack, "processed/dup/a.pdf") > before
    assert stack.workspace_leftovers() == []


@pytest.mark.slow
@pytest.mark.parametrize("name", ["a+b", "naïve-run", "..", "x.y=z@1"])
def test_execution_names_beyond_the_old_pattern_work(stack: LocalStack, name: str) -> None:
    """Names Step Functions accepts run every stage, and the
    failure step too."""
    key = f"names/{len(name)}-{name.encode().hex()}.pdf"
    stack.s3.put_object(Bucket=stack.trigger_bucket, Key=key, Body=b"%PDF-1.7\n\x00junk")
    stack.wait(timeout=120)  # the upload's own execution fails; the name's re-runs it
    described = finished(
        stack, stack.start({"bucket": stack.trigger_bucket, "key": key}, name=name)
    )
    assert described["status"] == "FAILED"
    assert described["error"] == "CORRUPT_DOCUMENT"
    status = read_status(stack.s3, stack.output_bucket, key)
    assert status is not None
    assert (status.state, status.execution) == ("failed", name)
    assert stack.workspace_leftovers() == []


@pytest.mark.slow
def test_nothing_is_left_on_the_workspace(stack: LocalStack) -> None:
    """After every execution above no job or lock is left."""
    stack.wait(timeout=120)
    assert stack.workspace_leftovers() == []
