"""Queued uploads (``uploads: queued``) through the local stack, with no AWS.

The trigger rule sends each new object's execution input to the uploads queue; the local
event source mapping gives the real dispatch handler (``functions/dispatch.py``, in a
local worker) batches of messages, which it runs with StartSyncExecution on the EXPRESS
uploads state machine (the deployed definition, in moto); the operator commands read the
statuses the pipeline writes, as for direct uploads.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from functions.dispatch import JOB_PREFIX
from functions.status import read_status
from pipeline.cli import EXIT_OK
from pipeline.config import Settings
from pipeline.local.event_source import retried_ids
from pipeline.local.invoker import InvocationResult
from pipeline.local.lambdas import Fault, LocalLambda
from pipeline.local.moto_hooks import moto_server, retry_clock
from pipeline.local.names import DUMMY_CREDENTIALS, REGION
from pipeline.local.runner import run
from pipeline.local.stack import LocalStack, StackOptions
from pipeline.uploads import MAX_RECEIVE_COUNT
from tests import docgen
from tests.pipeline.serving import Served, json_command, serving

BUNDLE_MEMBERS = {"a.pdf": docgen.text_pdf(1), "b.png": docgen.image_bytes("PNG")}
QUEUED = Settings(uploads="queued")


def _sfn(endpoint: str) -> Any:
    """A Step Functions client as the dispatch function makes it for a local endpoint."""
    session = boto3.session.Session(
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
    return session.client(
        "stepfunctions", endpoint_url=endpoint, config=Config(inject_host_prefix=False)
    )


def _machine(sfn: Any, iam: Any, name: str, states: dict[str, Any], kind: str) -> str:
    role = iam.create_role(RoleName=f"role-{name}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    definition = {"StartAt": next(iter(states)), "States": states}
    created = sfn.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=role, type=kind
    )
    return str(created["stateMachineArn"])


def test_start_sync_execution_answers_as_the_api_does() -> None:
    """This test ensures that the local moto answers StartSyncExecution on an EXPRESS
    state machine once the execution has ended, with the API's response shape (output
    when it succeeded, error and cause when it failed, TIMED_OUT past Express's limit),
    and refuses a STANDARD one."""
    with moto_server(LocalLambda(), express_timeout_seconds=1) as endpoint:
        sfn = _sfn(endpoint)
        iam = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        passes = {"Echo": {"Type": "Pass", "Parameters": {"got.$": "$.n"}, "End": True}}
        fails = {"Stop": {"Type": "Fail", "Error": "Broken", "Cause": "on purpose"}}
        good = _machine(sfn, iam, "good", passes, "EXPRESS")
        bad = _machine(sfn, iam, "bad", fails, "EXPRESS")
        slow = _machine(
            sfn, iam, "slow", {"Nap": {"Type": "Wait", "Seconds": 30, "End": True}}, "EXPRESS"
        )
        standard = _machine(sfn, iam, "standard", passes, "STANDARD")
        succeeded = sfn.start_sync_execution(stateMachineArn=good, name="one", input='{"n": 7}')
        failed = sfn.start_sync_execution(stateMachineArn=bad, input="{}")
        timed_out = sfn.start_sync_execution(stateMachineArn=slow, input="{}")
        with pytest.raises(ClientError) as refused:
            sfn.start_sync_execution(stateMachineArn=standard, input="{}")
    assert succeeded["status"] == "SUCCEEDED"
    assert (succeeded["name"], succeeded["stateMachineArn"]) == ("one", good)
    assert succeeded["executionArn"].endswith(":good:one")
    assert json.loads(succeeded["output"]) == {"got": 7}
    assert json.loads(succeeded["input"]) == {"n": 7}
    assert succeeded["stopDate"] >= succeeded["startDate"]
    assert succeeded["billingDetails"]["billedDurationInMilliseconds"] >= 100
    assert "error" not in succeeded
    assert failed["status"] == "FAILED"
    assert (failed["error"], failed["cause"]) == ("Broken", "on purpose")
    assert "output" not in failed
    assert {"executionArn", "startDate", "stopDate", "input"} <= set(failed)
    assert (timed_out["status"], timed_out["error"]) == ("TIMED_OUT", "States.Timeout")
    assert "output" not in timed_out
    assert refused.value.response["Error"]["Code"] == "StateMachineTypeNotSupported"


def test_the_mapping_retries_what_the_function_lists_or_all_when_it_fails() -> None:
    """This test ensures that the mapping reads a partial batch response as Lambda does:
    the listed messages come back, an empty answer deletes all, and a function error or
    an answer naming a message outside the batch brings the whole batch back."""
    ids = ["m1", "m2", "m3"]
    listed = InvocationResult(json.dumps({"batchItemFailures": [{"itemIdentifier": "m2"}]}))
    assert retried_ids(listed, ids) == ["m2"]
    assert retried_ids(InvocationResult(json.dumps({"batchItemFailures": []})), ids) == []
    assert retried_ids(InvocationResult("null"), ids) == []
    assert retried_ids(InvocationResult("{}", function_error="Unhandled"), ids) == ids
    stranger = InvocationResult(json.dumps({"batchItemFailures": [{"itemIdentifier": "x"}]}))
    assert retried_ids(stranger, ids) == ids


@pytest.fixture
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``python -m pipeline serve`` of a stack whose settings say ``uploads: queued``
    (one test: a second local stack cannot run beside it in this process)."""
    with serving(tmp_path_factory.mktemp("serve-queued"), drain=120, settings=QUEUED) as running:
        yield running


@pytest.mark.slow
def test_a_queued_stack_processes_uploads_and_the_commands_follow_them(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """This test ensures that serve of a queued stack runs uploads through the queue and
    the Express batches: good documents and a bundle succeed with their outputs, a bad
    one and a damaged one fail with their codes and reports, each document's job is its
    message's, and submit --wait, status, failures and outputs work as for direct uploads."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "letter.pdf").write_bytes(docgen.text_pdf(["Queued letter", "Page two"]))
    (folder / "memo.pdf").write_bytes(docgen.text_pdf("Queued memo"))
    (folder / "note.pdf").write_bytes(b"Only text, named .pdf\n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 damaged")
    (folder / "batch.zip").write_bytes(docgen.zip_bundle(BUNDLE_MEMBERS))
    out = tmp_path / "out"
    code, summary = json_command(
        capsys, served, "submit", str(folder), "--prefix", "q/", "--wait", "--timeout", "180",
        "--out", str(out),
    )  # fmt: skip
    assert code == EXIT_OK
    states = {entry["key"]: entry["state"] for entry in summary["documents"]}
    assert states == {
        "q/batch.zip": "succeeded",
        "q/broken.pdf": "failed",
        "q/letter.pdf": "succeeded",
        "q/memo.pdf": "succeeded",
        "q/note.pdf": "failed",
    }
    codes = {e["key"]: e["error"]["code"] for e in summary["documents"] if e["error"]}
    assert codes == {"q/note.pdf": "UNSUPPORTED_TYPE", "q/broken.pdf": "CORRUPT_DOCUMENT"}
    (letter,) = [e for e in summary["documents"] if e["key"] == "q/letter.pdf"]
    assert letter["pages"] == 2
    assert all((out / key).is_file() for key in letter["outputs"])
    (bundle,) = [e for e in summary["documents"] if e["key"] == "q/batch.zip"]
    assert len([k for k in bundle["outputs"] if k.endswith(".pdf")]) == len(BUNDLE_MEMBERS)
    code, found = json_command(capsys, served, "status", "q/memo.pdf")
    assert found["statuses"][0]["execution"].startswith(JOB_PREFIX)
    code, listed = json_command(capsys, served, "failures", "--since", "1h")
    assert {f["key"]: f["code"] for f in listed["failures"]} == codes
    assert all((out / f["report"]).is_file() for f in listed["failures"])
    code, outputs = json_command(capsys, served, "outputs")
    assert outputs["uploadsQueueUrl"] == served.stack.outputs()["uploadsQueueUrl"]
    with pytest.raises(RuntimeError, match="uploads are queued"):
        served.stack.put("q/other.pdf", docgen.text_pdf(1))
    served.stack.wait(timeout=120)
    assert served.stack.workspace_leftovers() == []


def _stack(visibility_timeout_seconds: int | None = None) -> LocalStack:
    """A queued stack whose functions reserve two concurrent executions, with retry
    waits short enough for a test (run it under ``retry_clock``).

    A shorter visibility timeout brings back what did not finish within the test; it
    stays longer than a batch runs, since a message seen again while its batch still runs
    would run twice at once.
    """
    settings = Settings(
        uploads="queued", reserved_concurrency=2, uploads_max_concurrency=4, batch_size=3
    )
    options = StackOptions(visibility_timeout_seconds=visibility_timeout_seconds)
    return LocalStack(settings=settings, options=options)


def _batches(stack: LocalStack) -> list[dict[str, Any]]:
    """Every execution of the uploads state machine, described, oldest first."""
    assert stack.uploads is not None
    pages = stack.sfn.get_paginator("list_executions").paginate(
        stateMachineArn=stack.uploads.state_machine_arn
    )
    arns = [item["executionArn"] for page in pages for item in page["executions"]]
    described = [dict(stack.sfn.describe_execution(executionArn=arn)) for arn in arns]
    return sorted(described, key=lambda execution: execution["startDate"])


def _jobs(batch: dict[str, Any]) -> list[str]:
    return [item["job"] for item in json.loads(batch["input"])["Items"]]


def _message(job: str | None) -> str | None:
    """The message id in a queued upload's job id (``upload-<message id>-<delivery>``)."""
    assert job is not None
    assert job.startswith(JOB_PREFIX)
    return job.removeprefix(JOB_PREFIX).rsplit("-", 1)[0]


def _alone(stack: LocalStack) -> dict[str, str]:
    """The pipeline executions (messages delivered again), by name, with their status."""
    pages = stack.sfn.get_paginator("list_executions").paginate(
        stateMachineArn=stack.state_machine_arn
    )
    return {item["name"]: item["status"] for page in pages for item in page["executions"]}


@pytest.mark.slow
def test_a_burst_through_the_queue_processes_each_document_exactly_once() -> None:
    """This test ensures that a burst of 20 uploads at a reserved concurrency of two ends
    with every document processed and none failed, each in exactly one batch that
    succeeded, with its status written by its own message's job, no message delivered
    again and a clean workspace."""
    with retry_clock(20), _stack() as stack:
        uploads = [
            stack.upload(f"burst/{n:02}.pdf", docgen.text_pdf(f"burst {n}")) for n in range(20)
        ]
        stack.wait(timeout=600)
        statuses = [read_status(stack.s3, stack.output_bucket, u.key) for u in uploads]
        batches = _batches(stack)
        assert stack.mapping is not None
        stats = stack.mapping.stats
        leftovers = stack.workspace_leftovers()
    assert [status.state if status else None for status in statuses] == ["succeeded"] * 20
    assert [_message(status.execution) if status else None for status in statuses] == [
        upload.delivered for upload in uploads
    ]
    assert {batch["status"] for batch in batches} == {"SUCCEEDED"}
    runs = Counter(_message(job) for batch in batches for job in _jobs(batch))
    assert runs == Counter(upload.delivered for upload in uploads)
    assert all(len(_jobs(batch)) <= 3 for batch in batches)
    assert (stats.records, stats.deleted, stats.retried) == (20, 20, 0)
    assert leftovers == []


@pytest.mark.slow
def test_a_batch_that_did_not_finish_is_delivered_again_and_then_processed_alone() -> None:
    """This test ensures that a batch whose dispatch invocation failed (a Lambda outage)
    and a batch whose Express execution failed (its failure report could not be written)
    come back after the visibility timeout and each message then runs alone, in a
    pipeline execution named after its new delivery's job: the good document succeeds and
    the empty one fails with its report."""
    with retry_clock(20), _stack(visibility_timeout_seconds=6) as stack:
        stack.lambdas.fail_next("dispatch", 1)
        good = stack.upload("again/letter.pdf", docgen.text_pdf("delivered twice"))
        stack.wait(timeout=300)
        # Every attempt of the report crashes: the batch's execution fails.
        stack.lambdas.fail_next("compress", 5, Fault.CRASH)
        bad = stack.upload("again/empty.pdf", b"")
        stack.wait(timeout=300)
        good_status = read_status(stack.s3, stack.output_bucket, good.key)
        bad_status = read_status(stack.s3, stack.output_bucket, bad.key)
        assert bad_status is not None
        report = stack.s3.get_object(Bucket=stack.output_bucket, Key=str(bad_status.report))
        batches = [(_message(job), b["status"]) for b in _batches(stack) for job in _jobs(b)]
        alone = _alone(stack)
        assert stack.mapping is not None
        stats = stack.mapping.stats
        leftovers = stack.workspace_leftovers()
    assert good_status is not None
    assert good_status.state == "succeeded"
    assert bad_status.state == "failed"
    assert bad_status.error is not None
    assert bad_status.error.code == "EMPTY_DOCUMENT"
    assert json.loads(report["Body"].read())["error"]["code"] == "EMPTY_DOCUMENT"
    # The outage failed the good one's first invocation before any batch ran; the bad
    # one's batch failed. Delivered again, each ran alone under its new job.
    assert batches == [(bad.delivered, "FAILED")]
    assert alone == {good_status.execution: "SUCCEEDED", bad_status.execution: "FAILED"}
    assert [_message(good_status.execution), _message(bad_status.execution)] == [
        good.delivered,
        bad.delivered,
    ]
    assert (stats.batches, stats.retried, stats.failed_batches) == (4, 2, 2)
    assert leftovers == []


@pytest.mark.slow
def test_a_message_that_is_no_execution_input_ends_in_the_dead_letter_queue() -> None:
    """This test ensures that a message the dispatch function cannot read is delivered
    maxReceiveCount times and then moves to the dead-letter queue, without running."""
    with _stack(visibility_timeout_seconds=1) as stack:
        assert stack.uploads is not None
        stack.sqs.send_message(QueueUrl=stack.uploads.queue_url, MessageBody="not an input")
        stack.wait(timeout=120)
        dead = stack.sqs.receive_message(
            QueueUrl=stack.uploads.dead_letter_url, AttributeNames=["All"], WaitTimeSeconds=1
        )["Messages"]
        ran = _batches(stack)
        assert stack.mapping is not None
        stats = stack.mapping.stats
    assert [message["Body"] for message in dead] == ["not an input"]
    assert int(dead[0]["Attributes"]["ApproximateReceiveCount"]) > MAX_RECEIVE_COUNT
    # Each delivery is one record (two may share a batch when the message comes back
    # while the mapping still gathers one), none of them deleted.
    assert (stats.records, stats.deleted) == (MAX_RECEIVE_COUNT, 0)
    assert ran == []


@pytest.mark.slow
def test_run_follows_each_document_in_its_own_execution_even_for_a_queued_stack(
    tmp_path: Path,
) -> None:
    """This test ensures that ``python -m pipeline run`` on a stack whose settings say
    ``uploads: queued`` still runs each document in an execution of its own, whose
    failed attempts it reports, and leaves a clean workspace."""
    source = tmp_path / "letter.pdf"
    source.write_bytes(docgen.text_pdf("run keeps direct uploads"))
    result = run([source], tmp_path / "out", settings=QUEUED, transient_failures={"ingest": 1})
    (document,) = result.documents
    assert document.status == "succeeded"
    assert document.execution_arn.startswith("arn:aws:states:")
    assert document.failed_attempts == (("Ingest", "Lambda.ServiceException"),)
    assert result.leftovers == ()
