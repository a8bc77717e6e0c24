"""Queued uploads (``uploads: queued``) as the Pulumi program deploys them, under mocks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest

from functions.dispatch import PIPELINE_STATE_MACHINE, UPLOADS_STATE_MACHINE
from pipeline.trigger import INPUT_PATHS, INPUT_TEMPLATE
from pipeline.uploads import (
    BATCHING_WINDOW_SECONDS,
    DISPATCH_HANDLER,
    MAX_RECEIVE_COUNT,
    VISIBILITY_TIMEOUT_SECONDS,
)
from pipeline.workflow_policies import LOG_DELIVERY_ACTIONS, STATES_XRAY_ACTIONS
from tests.pipeline.test_infrastructure import (
    ACCOUNT,
    FUNCTION,
    REGION,
    ROLE_POLICY,
    Program,
    run_program,
)

STAGES = ("ingest", "transform", "compress")
STATES = f"arn:aws:states:{REGION}:{ACCOUNT}"
QUEUE = "aws:sqs/queue:Queue"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"


@pytest.fixture(scope="module")
def queued() -> Iterator[Program]:
    yield run_program({"uploads": "queued", "uploadsMaxConcurrency": 12, "batchSize": 8})
    pulumi.runtime.set_all_config({})


def _grants(program: Program, policy_name: str) -> dict[str, tuple[list[str], Any]]:
    policy = next(p for p in program.of_type(ROLE_POLICY) if p.name == policy_name)
    document = json.loads(policy.inputs["policy"])
    return {
        statement["Sid"]: (sorted(statement["Action"]), statement["Resource"])
        for statement in document["Statement"]
    }


def _queue_arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:queue/{name}"


@pulumi.runtime.test
def test_the_trigger_rule_queues_uploads_instead_of_starting_executions(
    queued: Program,
) -> pulumi.Output[Any]:
    """This test ensures that with queued uploads the trigger rule sends the same
    execution input to the uploads queue (no role: the queue's policy lets exactly that
    rule send, over TLS only), keeps its retries and dead-letter queue, that nothing may
    start the pipeline from the rule any more, and that the dashboard shows how many
    uploads wait and for how long."""

    def check(values: list[str]) -> None:
        queue_arn, dead_letters, queue_name = values
        targets = {
            t.name: t.inputs for t in queued.of_type("aws:cloudwatch/eventTarget:EventTarget")
        }
        target = targets["docpipe-dev-trigger-target"]
        assert target["arn"] == queue_arn
        assert "roleArn" not in target
        assert target["inputTransformer"] == {
            "inputPaths": INPUT_PATHS,
            "inputTemplate": INPUT_TEMPLATE,
        }
        assert target["deadLetterConfig"]["arn"] == dead_letters
        assert not [r for r in queued.of_type("aws:iam/role:Role") if "trigger-role" in r.name]
        policy = next(
            json.loads(p.inputs["policy"])["Statement"]
            for p in queued.of_type("aws:sqs/queuePolicy:QueuePolicy")
            if p.name == "docpipe-dev-uploads-policy"
        )
        rule = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:eventRule/docpipe-dev-trigger"
        assert [s for s in policy if s["Effect"] == "Allow"] == [
            {
                "Sid": "TriggerRuleSendsUploads",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule}},
            }
        ]
        [deny] = [s for s in policy if s["Effect"] == "Deny"]
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert queued.exports["uploadsQueue"] is not None
        dashboard = json.loads(
            queued.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"]
        )
        waiting = {
            tuple(m for m in metric if not isinstance(m, dict))
            for widget in dashboard["widgets"]
            if widget["type"] == "metric"
            for metric in widget["properties"]["metrics"]
        }
        assert ("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", queue_name) in waiting

    workflow = queued.globals["workflow"]
    return pulumi.Output.all(
        workflow.uploads.queue_arn, workflow.dead_letter_queue_arn, workflow.uploads.queue_name
    ).apply(check)


@pulumi.runtime.test
def test_the_uploads_queue_redrives_to_the_dead_letter_queue(
    queued: Program,
) -> pulumi.Output[Any]:
    """This test ensures that the uploads queue is encrypted, hides a delivered batch
    for six times the dispatch function's timeout, and moves a message to the dead-letter
    queue after its last delivery, so a document that can never run is kept and alarmed
    on, never dropped."""

    def check(dead_letters: str) -> None:
        queue = next(q.inputs for q in queued.of_type(QUEUE) if q.name == "docpipe-dev-uploads")
        assert queue["visibilityTimeoutSeconds"] == VISIBILITY_TIMEOUT_SECONDS == 6 * 330
        assert json.loads(queue["redrivePolicy"]) == {
            "deadLetterTargetArn": dead_letters,
            "maxReceiveCount": MAX_RECEIVE_COUNT,
        }
        assert queue["sqsManagedSseEnabled"] is True
        dlq = next(q.inputs for q in queued.of_type(QUEUE) if q.name == "docpipe-dev-trigger-dlq")
        assert dlq["messageRetentionSeconds"] > queue["messageRetentionSeconds"]

    return queued.globals["workflow"].dead_letter_queue_arn.apply(check)


@pulumi.runtime.test
def test_the_dispatch_function_reads_the_queue_in_bounded_batches(
    queued: Program,
) -> pulumi.Output[Any]:
    """This test ensures that the dispatch function runs the shared code outside the VPC
    without the file system, is fed batches of batchSize messages with at most
    uploadsMaxConcurrency / 2 batches at once and partial batch responses, names the
    uploads state machine and the pipeline, and may do exactly that: read the queue,
    start synchronous executions of the uploads state machine, start pipeline executions
    (for a message delivered again), write its logs and traces."""

    def check(values: list[str]) -> None:
        queue_arn, machine_arn, pipeline_arn = values
        dispatch = next(f.inputs for f in queued.of_type(FUNCTION) if f.name.endswith("dispatch"))
        assert dispatch["handler"] == DISPATCH_HANDLER
        assert "vpcConfig" not in dispatch
        assert "fileSystemConfig" not in dispatch
        assert dispatch["environment"]["variables"] == {
            UPLOADS_STATE_MACHINE: machine_arn,
            PIPELINE_STATE_MACHINE: pipeline_arn,
        }
        assert machine_arn == f"{STATES}:stateMachine:docpipe-dev-uploads"
        mapping = queued.one(MAPPING).inputs
        assert mapping["eventSourceArn"] == queue_arn
        assert mapping["functionName"].endswith(":function:docpipe-dev-dispatch")
        assert mapping["batchSize"] == 8
        assert mapping["maximumBatchingWindowInSeconds"] == BATCHING_WINDOW_SECONDS
        assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["scalingConfig"] == {"maximumConcurrency": 6}
        grants = _grants(queued, "docpipe-dev-dispatch-policy")
        logs = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/docpipe-dev-dispatch"
        assert grants == {
            "WriteOwnLogs": (
                ["logs:CreateLogStream", "logs:PutLogEvents"],
                f"{logs}:log-stream:*",
            ),
            "ReadTheUploadsQueue": (
                [
                    "sqs:ChangeMessageVisibility",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "sqs:ReceiveMessage",
                ],
                queue_arn,
            ),
            "RunBatches": (["states:StartSyncExecution"], machine_arn),
            "StartThePipeline": (["states:StartExecution"], pipeline_arn),
            "UploadTraces": (["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "*"),
        }

    workflow = queued.globals["workflow"]
    return pulumi.Output.all(
        workflow.uploads.queue_arn, workflow.uploads.state_machine_arn, workflow.state_machine_arn
    ).apply(check)


@pulumi.runtime.test
def test_the_uploads_state_machine_runs_the_pipeline_states_in_express_batches(
    queued: Program,
) -> pulumi.Output[Any]:
    """This test ensures that the uploads state machine is EXPRESS, runs the items of a
    batch two at a time through the deployed functions with each item's own job id,
    hands large objects to the pipeline state machine, and that its role may invoke
    exactly the three functions and start exactly the pipeline."""
    functions = queued.globals["functions"].functions

    def check(values: list[str]) -> None:
        pipeline_arn, *function_arns = values
        machine = next(
            m.inputs
            for m in queued.of_type("aws:sfn/stateMachine:StateMachine")
            if m.inputs["name"] == "docpipe-dev-uploads"
        )
        assert machine["type"] == "EXPRESS"
        assert machine["loggingConfiguration"]["includeExecutionData"] is False
        documents = json.loads(machine["definition"])["States"]["Documents"]
        assert (documents["ItemsPath"], documents["MaxConcurrency"]) == ("$.Items", 2)
        assert documents["ItemSelector"] == {
            "input.$": "$$.Map.Item.Value.input",
            "job.$": "$$.Map.Item.Value.job",
        }
        states = documents["ItemProcessor"]["States"]
        assert [states[s.capitalize()]["Parameters"]["FunctionName"] for s in STAGES] == (
            function_arns
        )
        assert states["Handoff"]["Parameters"]["StateMachineArn"] == pipeline_arn
        assert states["Failed"]["Type"] == "Pass"
        grants = _grants(queued, "docpipe-dev-uploads-role-policy")
        assert grants == {
            "InvokeThePipelineFunctions": (
                ["lambda:InvokeFunction"],
                [a for arn in function_arns for a in (arn, f"{arn}:*")],
            ),
            "StartThePipeline": (["states:StartExecution"], [pipeline_arn]),
            "DeliverLogs": (sorted(LOG_DELIVERY_ACTIONS), "*"),
            "UploadTraces": (sorted(STATES_XRAY_ACTIONS), "*"),
        }

    return pulumi.Output.all(
        queued.globals["workflow"].state_machine_arn, *(functions[s].arn for s in STAGES)
    ).apply(check)


@pulumi.runtime.test
def test_direct_uploads_deploy_no_queue_consumer() -> pulumi.Output[Any]:
    """This test ensures that the default, direct uploads deploy neither the uploads
    queue nor the dispatch function nor the uploads state machine."""
    program = run_program()

    def check(_: Any) -> None:
        assert program.globals["workflow"].uploads is None
        assert not program.of_type(MAPPING)
        assert not [f for f in program.of_type(FUNCTION) if f.name.endswith("dispatch")]

    return program.done().apply(check)


@pytest.fixture(scope="module")
def queued_with_key() -> Iterator[Program]:
    yield run_program({"uploads": "queued", "kmsKey": "stack"})
    pulumi.runtime.set_all_config({})


@pulumi.runtime.test
def test_queued_uploads_use_the_stack_key_through_sqs_only(
    queued_with_key: Program,
) -> pulumi.Output[Any]:
    """This test ensures that with kmsKey: stack the uploads queue, the dispatch
    function's environment and both new log groups are under the stack's key, and that
    the dispatch function may decrypt queue messages through SQS only."""
    program = queued_with_key

    def check(key_arn: str) -> None:
        queue = next(q.inputs for q in program.of_type(QUEUE) if q.name == "docpipe-dev-uploads")
        assert queue["kmsMasterKeyId"] == key_arn
        dispatch = next(f.inputs for f in program.of_type(FUNCTION) if f.name.endswith("dispatch"))
        assert dispatch["kmsKeyArn"] == key_arn
        groups = {
            g.inputs["name"]: g.inputs.get("kmsKeyId")
            for g in program.of_type("aws:cloudwatch/logGroup:LogGroup")
        }
        assert groups["/aws/lambda/docpipe-dev-dispatch"] == key_arn
        assert groups["/aws/vendedlogs/states/docpipe-dev-uploads"] == key_arn
        policy = next(
            json.loads(p.inputs["policy"])
            for p in program.of_type(ROLE_POLICY)
            if p.name == "docpipe-dev-dispatch-policy"
        )
        [through] = [s for s in policy["Statement"] if s["Sid"] == "UseTheKeyThroughItsServices"]
        assert through["Action"] == ["kms:Decrypt"]
        assert through["Condition"] == {
            "StringEquals": {"kms:ViaService": [f"sqs.{REGION}.amazonaws.com"]}
        }

    return program.globals["key_arn"].apply(check)
