"""Bursts and backfills: throttling is retried until the work is done, never failed.

The local tests run the deployed definition against local functions whose reserved
concurrency is enforced as Lambda enforces it; the backfill's Distributed Map is checked
as a definition, and its Express batches (the pipeline's states for each document of a
batch, with the input the definition builds) run through the local stack.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from pipeline.backfill import (
    EXPRESS_MAX_BYTES,
    RESULTS_PREFIX,
    backfill_definition,
    batch_inputs,
)
from pipeline.commands.backfill import BackfillError, start_backfill
from pipeline.config import Settings, load_stack_settings
from pipeline.definition import (
    RETRY_THROTTLED,
    THROTTLED,
    TRANSIENT_ERRORS,
    state_machine_definition,
)
from pipeline.local.backfill import backfill_locally
from pipeline.local.invoker import FunctionPool, FunctionSpec, ThrottledError
from pipeline.local.moto_hooks import retry_clock
from pipeline.local.results import failed_attempts
from pipeline.local.stack import LocalStack
from tests import docgen

ROOT = Path(__file__).resolve().parents[2]
TASKS = ("Ingest", "Transform", "Compress", "ReportFailure")

GATE_HANDLER = """
import time
from pathlib import Path


def gate(event, context):
    Path(event["inside"]).touch()
    while not Path(event["release"]).exists():
        time.sleep(0.01)
    return {"through": True}
"""


@pytest.fixture
def gated_pool(tmp_path: Path) -> Iterator[FunctionPool]:
    root = tmp_path / "task"
    root.mkdir()
    (root / "handlers.py").write_text(GATE_HANDLER, encoding="utf-8")
    spec = FunctionSpec(
        name="docpipe-test",
        arn="arn:aws:lambda:us-east-1:123456789012:function:docpipe-test",
        handler="handlers.gate",
        task_root=root,
        environment={"PATH": os.environ["PATH"]},
        timeout_seconds=20,
        memory_mb=512,
        reserved_concurrency=1,
    )
    pool = FunctionPool(spec)
    yield pool
    pool.close()


def test_an_invocation_beyond_reserved_concurrency_is_refused_at_once(
    gated_pool: FunctionPool, tmp_path: Path
) -> None:
    """This test ensures that a function at its reserved concurrency refuses another
    invocation at once with Lambda's TooManyRequestsException (HTTP 429), without running
    it, and takes the next one as soon as the running invocation ends."""
    inside, release = tmp_path / "inside", tmp_path / "release"
    event = json.dumps({"inside": str(inside), "release": str(release)})
    results: list[Any] = []
    first = threading.Thread(target=lambda: results.append(gated_pool.invoke(event)))
    first.start()
    deadline = time.monotonic() + 20
    while not inside.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(ThrottledError) as refused:
        gated_pool.invoke(event)
    assert refused.value.code == 429
    assert json.loads(refused.value.get_body())["__type"] == "TooManyRequestsException"
    release.touch()
    first.join(timeout=20)
    assert json.loads(results[0].payload) == {"through": True}
    assert json.loads(gated_pool.invoke(event).payload) == {"through": True}
    assert (gated_pool.throttled, gated_pool.invocations, gated_pool.started) == (1, 2, 1)


def test_throttling_has_its_own_retry_budget_on_every_task() -> None:
    """This test ensures that every task, the failure report included, retries throttling
    first and on a budget that never runs out before the execution's timeout, that the
    transient-error retrier no longer spends its few attempts on throttling, and that the
    execution has a top-level TimeoutSeconds."""
    definition = state_machine_definition("i", "t", "c", execution_timeout_seconds=7200)
    assert definition["TimeoutSeconds"] == 7200
    for name in TASKS:
        first, *others = definition["States"][name]["Retry"]
        assert first["ErrorEquals"] == [THROTTLED]
        assert first["MaxAttempts"] == 99_999_999  # the most Step Functions accepts
        assert all(THROTTLED not in retrier["ErrorEquals"] for retrier in others)
    assert THROTTLED not in TRANSIENT_ERRORS
    # Even with every wait at its longest, the attempts outlast a year-long execution.
    longest = RETRY_THROTTLED["MaxAttempts"] * RETRY_THROTTLED["MaxDelaySeconds"]
    assert longest > 365 * 24 * 3600
    with pytest.raises(ValueError, match="execution_timeout_seconds"):
        state_machine_definition(
            "i", "t", "c", task_timeout_seconds=600, execution_timeout_seconds=600
        )


def test_the_dev_stack_reserves_no_concurrency_and_the_production_example_does() -> None:
    """This test ensures that the dev stack deploys on a fresh account (no reserved
    concurrency) and that the production example reserves it, with a backfill about as
    wide as the functions, queued uploads as wide, and an execution timeout."""
    dev = load_stack_settings("dev", ROOT)
    assert dev.reserved_concurrency == -1
    assert dev.uploads == "direct"
    production = load_stack_settings("prod.example", ROOT)
    assert production.reserved_concurrency == 10
    assert production.backfill_max_concurrency == 15
    assert (production.uploads, production.uploads_max_concurrency) == ("queued", 15)
    assert production.execution_timeout_seconds == 24 * 3600


FUNCTIONS = ("arn:ingest", "arn:transform", "arn:compress")


def test_the_backfill_is_a_distributed_map_of_express_batches() -> None:
    """This test ensures that the backfill lists the given prefix of the trigger bucket,
    batches the objects into EXPRESS children (one state transition per batch) as many at
    once as the documents configured need, runs each document of a batch through the
    pipeline's own states with its own job, tolerates and counts failed batches, and writes
    its results to the output bucket."""
    definition = backfill_definition(
        "arn:pipeline", FUNCTIONS, "trigger", "output", max_concurrency=13, batch_size=6
    )
    pipeline = state_machine_definition(*FUNCTIONS)
    documents = definition["States"][definition["StartAt"]]
    assert documents["Type"] == "Map"
    assert documents["ItemReader"] == {
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": {"Bucket": "trigger", "Prefix.$": "$.prefix"},
    }
    assert documents["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "EXPRESS",
    }
    assert documents["ItemBatcher"]["MaxItemsPerBatch"] == 6
    assert documents["MaxConcurrency"] == 7  # 13 documents, two at a time per batch
    assert documents["ToleratedFailurePercentage"] == 100
    assert documents["ResultWriter"] == {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": "output", "Prefix": RESULTS_PREFIX},
    }
    batch = documents["ItemProcessor"]["States"]["Batch"]
    assert batch["ItemsPath"] == "$.Items"
    assert batch["MaxConcurrency"] == 2
    states = batch["ItemProcessor"]["States"]
    # The pipeline's stages, retriers and catches, with the job carried in the state.
    for name in ("Ingest", "Transform", "OcrPages", "OcrMerge", "Compress", "ReportFailure"):
        expected = (
            pipeline["States"].get(name)
            or pipeline["States"]["Ocr"]["ItemProcessor"]["States"][name]
        )
        got = states.get(name) or states["Ocr"]["ItemProcessor"]["States"][name]
        assert got["Retry"] == expected["Retry"]
        assert got.get("Catch") == expected.get("Catch")
        assert got["Parameters"]["FunctionName"] == expected["Parameters"]["FunctionName"]
    # A job inside an Express child ends within five minutes: its claim is trusted six.
    assert states["Ingest"]["Parameters"]["Payload"] == {
        "input.$": "$.input",
        "job.$": "$.job",
        "claimLeaseSeconds": 360.0,
    }
    pipeline = state_machine_definition(*FUNCTIONS, task_timeout_seconds=600)
    assert "claimLeaseSeconds" not in pipeline["States"]["Ingest"]["Parameters"]["Payload"]
    assert states["ReportFailure"]["Parameters"]["Payload"]["state.$"] == "$"
    # A failed document ends its own iteration, not its batch; large objects go to the
    # STANDARD pipeline, which has no five-minute limit.
    assert states["Failed"]["Type"] == "Pass"
    assert states["ReportFailed"]["Type"] == "Fail"
    route = states["Route"]["Choices"][0]
    assert (route["NumericGreaterThan"], route["Next"]) == (EXPRESS_MAX_BYTES, "Handoff")
    assert states["Handoff"]["Parameters"]["StateMachineArn"] == "arn:pipeline"
    assert states["Handoff"]["Resource"] == "arn:aws:states:::states:startExecution"
    with pytest.raises(ValueError, match="max_concurrency"):
        backfill_definition("arn:pipeline", FUNCTIONS, "t", "o", max_concurrency=0)
    with pytest.raises(ValueError, match="batch_size"):
        backfill_definition("arn:pipeline", FUNCTIONS, "t", "o", max_concurrency=2, batch_size=41)


@mock_aws
def test_start_backfill_starts_the_stacks_backfill_with_the_prefix() -> None:
    """This test ensures that start_backfill finds the stack's backfill state machine by
    name and starts it with the prefix and profile, and says in a sentence when the
    stack has none or the profile is unknown."""
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    definition = backfill_definition("arn:pipeline", FUNCTIONS, "t", "o", max_concurrency=2)
    created = sfn.create_state_machine(
        name="docpipe-prod-backfill", definition=json.dumps(definition), roleArn=role
    )
    started = start_backfill("prod", "scans/2019/", "screen", sfn=sfn)
    assert started.state_machine_arn == created["stateMachineArn"]
    execution = sfn.describe_execution(executionArn=started.execution_arn)
    assert json.loads(execution["input"]) == {"prefix": "scans/2019/", "profile": "screen"}
    with pytest.raises(BackfillError, match="docpipe-test-backfill"):
        start_backfill("test", sfn=sfn)
    with pytest.raises(BackfillError, match="unknown profile"):
        start_backfill("prod", profile="tiny", sfn=sfn)


@pytest.mark.slow
def test_a_burst_beyond_reserved_concurrency_ends_with_every_document_processed() -> None:
    """This test ensures that a burst of uploads at a function limit of one concurrent
    invocation meets throttling (Lambda.TooManyRequestsException) and still ends with
    every document processed and none failed, through the deployed definition."""
    settings = Settings(reserved_concurrency=1)
    with retry_clock(20), LocalStack(settings=settings) as stack:
        arns = [stack.put(f"burst/{i}.pdf", docgen.text_pdf(f"page {i}")) for i in range(6)]
        stack.wait(timeout=300)
        statuses = [stack.sfn.describe_execution(executionArn=arn)["status"] for arn in arns]
        attempts = [a for arn in arns for a in failed_attempts(stack.sfn, arn)]
    assert statuses == ["SUCCEEDED"] * 6
    assert attempts, "the burst should have been throttled"
    assert {error for _, error in attempts} == {THROTTLED}


@pytest.mark.slow
def test_a_backfill_processes_each_object_once_and_a_second_one_none() -> None:
    """This test ensures that the backfill's Express batches, built from a real S3 listing
    by the definition's own templates, process every existing object (outside the trigger
    prefix, so no event started them), that a document that cannot be processed gets its
    failure report without stopping its batch, and that a second backfill of the same
    prefix processes none again."""
    settings = Settings(trigger_prefix="inbox/")
    with LocalStack(settings=settings) as stack:
        for i in range(4):
            body = docgen.text_pdf(f"old {i}")
            stack.s3.put_object(Bucket=stack.trigger_bucket, Key=f"old/{i}.pdf", Body=body)
        stack.s3.put_object(Bucket=stack.trigger_bucket, Key="old/bad.pdf", Body=b"%PDF-1.4 no")
        assert stack.running() == []
        first, second = (
            backfill_locally(stack, "old/", run=run, max_concurrency=4, batch_size=2)
            for run in ("first", "second")
        )
        published = stack.s3.list_objects_v2(Bucket=stack.output_bucket, Prefix="processed/")
        report = json.loads(
            stack.s3.get_object(Bucket=stack.output_bucket, Key="failed/old/bad.pdf.json")[
                "Body"
            ].read()
        )
        assert stack.workspace_leftovers() == []
    assert first == {"processed": 4, "failed": 1}
    assert second == {"already": 4, "failed": 1}
    assert len([o for o in published["Contents"] if o["Key"].endswith(".pdf")]) == 4
    assert report["source"]["key"] == "old/bad.pdf"
    assert set(report["source"]) >= {"versionId", "etag", "size"}  # no state fields
    assert report["error"]["code"] == "CORRUPT_DOCUMENT"


@mock_aws
def test_the_backfill_command_starts_it_or_says_why_not(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """This test ensures that ``python -m pipeline backfill`` starts the stack's backfill
    and prints how to follow it, and that a stack without one is a usage error with a
    sentence, not a traceback."""
    from pipeline.cli import main

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    definition = backfill_definition("arn:pipeline", FUNCTIONS, "t", "o", max_concurrency=2)
    sfn.create_state_machine(
        name="docpipe-dev-backfill", definition=json.dumps(definition), roleArn=role
    )
    assert main(["backfill", "--stack", "dev", "--prefix", "old/"]) == 0
    printed = capsys.readouterr().out
    assert "backfill started: arn:aws:states:us-east-1:" in printed
    assert "aws stepfunctions describe-execution" in printed
    assert main(["backfill", "--stack", "prod"]) == 2
    assert "no state machine 'docpipe-prod-backfill'" in capsys.readouterr().err


def test_the_local_batches_are_the_inputs_the_map_would_give() -> None:
    """This test ensures that the batches applied from the definition's templates hold
    the listed objects' bucket, key, ETag and size, as many per batch as configured, with
    the profile asked for and the backfill run in the batch input, and that the pipeline
    input each document gets from them is the execution input contract."""
    definition = backfill_definition(
        "arn:pipeline", FUNCTIONS, "trigger", "output", max_concurrency=2, batch_size=2
    )
    listed = [{"Key": f"old/{n}.pdf", "ETag": f'"e{n}"', "Size": 7} for n in range(3)]
    made = batch_inputs(definition, listed, run="b-1", prefix="old/", profile="screen")
    assert [len(batch["Items"]) for batch in made] == [2, 1]
    assert made[0]["Items"][0] == {
        "bucket": "trigger",
        "key": "old/0.pdf",
        "etag": '"e0"',
        "size": 7,
        "profile": "screen",
        "run": "b-1",
    }
    selector = definition["States"]["Documents"]["ItemProcessor"]["States"]["Batch"]["ItemSelector"]
    assert set(selector["input"]) == {
        "bucket.$",
        "key.$",
        "versionId",
        "etag.$",
        "size.$",
        "profile.$",
    }
