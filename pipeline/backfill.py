"""Backfill: run the pipeline over the objects already under a prefix of the trigger bucket.

A second STANDARD state machine holds one Distributed Map state (docs/ARCHITECTURE.md,
"Bursts and backfill")::

    ListObjectsV2(trigger bucket, $.prefix) -> each object: StartExecution.sync:2 of the
    pipeline -> results (counts, failed items) to the output bucket under backfill/

The map runs at most ``backfillMaxConcurrency`` documents at once, so a backfill of any
size never meets more than a few throttled invocations. Each document runs as an ordinary
execution of the pipeline, named after the backfill run and the key (a retried start is
the same execution), so its status document, failure report and alarms are the usual
ones. Documents already processed are recognised by ingest's claim on the object version:
their executions end in ``AlreadyProcessed`` without transforming anything, so a second
backfill of the same prefix processes none again. A document that fails is counted by the
map run (ToleratedFailurePercentage 100: a failed document has its own failure report and
never stops the others).

:func:`start_backfill` starts one, for ``python -m pipeline backfill``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

LIST_OBJECTS = "arn:aws:states:::s3:listObjectsV2"
PUT_OBJECT = "arn:aws:states:::s3:putObject"
START_PIPELINE = "arn:aws:states:::states:startExecution.sync:2"
RESULTS_PREFIX = "backfill"
# A document that fails has its own failure report; the map run counts it and goes on.
TOLERATED_FAILURE_PERCENTAGE = 100.0
# The rule Step Functions manages to learn that a .sync child execution ended.
SYNC_EVENTS_RULE = "StepFunctionsGetEventsForStepFunctionsExecutionRule"
# Starting a child execution can fail for a moment (API throttling, an open-execution
# quota); retried with backoff. A child that failed (States.TaskFailed) is not retried:
# its document has failed, with a report.
START_ERRORS = (
    "StepFunctions.ExecutionLimitExceededException",
    "StepFunctions.SdkClientException",
    "StepFunctions.AWSStepFunctionsException",
    "StepFunctions.StepFunctionsException",
)
RETRY_START: dict[str, Any] = {
    "ErrorEquals": list(START_ERRORS),
    "IntervalSeconds": 2,
    "MaxAttempts": 10,
    "BackoffRate": 2.0,
    "MaxDelaySeconds": 300,
    "JitterStrategy": "FULL",
}


def backfill_name(pipeline_name: str) -> str:
    """Returns the backfill state machine's name for the pipeline's state machine."""
    return f"{pipeline_name}-backfill"


def backfill_definition(
    pipeline_arn: Any, trigger_bucket: Any, output_bucket: Any, *, max_concurrency: int
) -> dict[str, Any]:
    """Returns the backfill state machine's definition.

    Args:
        pipeline_arn: The pipeline state machine's ARN (a string or a pulumi Output).
        trigger_bucket: The bucket whose objects are listed.
        output_bucket: Where the map run writes its results (under ``backfill/``).
        max_concurrency: Documents processed at once.

    The execution input is ``{"prefix": str, "profile": str | null}``.
    """
    if max_concurrency < 1:
        raise ValueError("max_concurrency must be at least 1")
    process = {
        "Type": "Task",
        "Resource": START_PIPELINE,
        "Parameters": {
            "StateMachineArn": pipeline_arn,
            # One name per (backfill run, key): a retried start finds the same execution.
            "Name.$": "States.Format('backfill-{}', "
            "States.Hash(States.Format('{}/{}', $.run, $.key), 'SHA-1'))",
            "Input": {
                "bucket.$": "$.bucket",
                "key.$": "$.key",
                "versionId": None,
                "etag.$": "$.etag",
                "size.$": "$.size",
                "profile.$": "$.profile",
                # Links each document's execution to the backfill in the console.
                "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id",
            },
        },
        "ResultSelector": {"execution.$": "$.ExecutionArn", "status.$": "$.Status"},
        "Retry": [RETRY_START],
        "End": True,
    }
    documents = {
        "Type": "Map",
        "Label": "Documents",
        "ItemReader": {
            "Resource": LIST_OBJECTS,
            "Parameters": {"Bucket": trigger_bucket, "Prefix.$": "$.prefix"},
        },
        "ItemSelector": {
            "bucket": trigger_bucket,
            "key.$": "$$.Map.Item.Value.Key",
            "etag.$": "$$.Map.Item.Value.ETag",
            "size.$": "$$.Map.Item.Value.Size",
            "profile.$": "$.profile",
            "run.$": "$$.Execution.Name",
        },
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Process",
            "States": {"Process": process},
        },
        "MaxConcurrency": max_concurrency,
        "ToleratedFailurePercentage": TOLERATED_FAILURE_PERCENTAGE,
        "ResultWriter": {
            "Resource": PUT_OBJECT,
            "Parameters": {"Bucket": output_bucket, "Prefix": RESULTS_PREFIX},
        },
        "End": True,
    }
    return {
        "Comment": "docpipe backfill: the pipeline over every object under a prefix",
        "StartAt": "Documents",
        "States": {"Documents": documents},
    }


@dataclass(frozen=True)
class BackfillArns:
    """The ARNs the backfill role's policy names (strings or pulumi Outputs).

    Attributes:
        backfill: The backfill state machine.
        backfill_executions: Its executions, map run children included (``.../*``).
        pipeline: The pipeline state machine.
        pipeline_executions: The pipeline's executions (``execution:<name>:*``).
        sync_rule: Step Functions' managed rule for ``.sync`` tasks.
        trigger_bucket: The trigger bucket.
        results: The result objects (``<output bucket ARN>/backfill/*``).
    """

    backfill: Any
    backfill_executions: Any
    pipeline: Any
    pipeline_executions: Any
    sync_rule: Any
    trigger_bucket: Any
    results: Any


def backfill_policy(arns: BackfillArns) -> dict[str, Any]:
    """Returns the backfill role's policy: exactly what the map run needs.

    Its own child executions (the map run starts them on this state machine), the
    pipeline's executions (``.sync:2`` starts and watches them, and stops them when the
    backfill is stopped, learning of their end through Step Functions' managed rule),
    listing the trigger bucket, and writing results under ``backfill/`` in the output
    bucket.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RunTheMap",
                "Effect": "Allow",
                "Action": ["states:StartExecution"],
                "Resource": [arns.backfill],
            },
            {
                "Sid": "WatchTheMap",
                "Effect": "Allow",
                "Action": ["states:DescribeExecution", "states:StopExecution"],
                "Resource": [arns.backfill_executions],
            },
            {
                "Sid": "StartThePipeline",
                "Effect": "Allow",
                "Action": ["states:StartExecution"],
                "Resource": [arns.pipeline],
            },
            {
                "Sid": "WatchThePipeline",
                "Effect": "Allow",
                "Action": ["states:DescribeExecution", "states:StopExecution"],
                "Resource": [arns.pipeline_executions],
            },
            {
                "Sid": "LearnWhenThePipelineEnds",
                "Effect": "Allow",
                "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                "Resource": [arns.sync_rule],
            },
            {
                "Sid": "ListTheObjects",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [arns.trigger_bucket],
            },
            {
                "Sid": "WriteTheResults",
                "Effect": "Allow",
                "Action": [
                    "s3:PutObject",
                    "s3:GetObject",
                    "s3:ListMultipartUploadParts",
                    "s3:AbortMultipartUpload",
                ],
                "Resource": [arns.results],
            },
        ],
    }


def _resolve(template: Any, value: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
    if not isinstance(template, dict):
        return template
    resolved: dict[str, Any] = {}
    for key, item in template.items():
        if not key.endswith(".$"):
            resolved[key] = _resolve(item, value, context)
        elif item in context:
            resolved[key[:-2]] = context[item]
        elif item.startswith("$.") and "." not in item[2:]:
            resolved[key[:-2]] = value[item[2:]]
        else:
            raise ValueError(f"the local item processor cannot evaluate {item!r}")
    return resolved


def item_inputs(
    definition: Mapping[str, Any],
    listed: Sequence[Mapping[str, Any]],
    *,
    run: str,
    prefix: str,
    profile: str | None = None,
) -> list[dict[str, Any]]:
    """Returns the pipeline execution inputs the map starts for ``listed`` objects.

    For the local stack, whose interpreter cannot run the map's ``.sync:2`` child tasks:
    the definition's own ItemSelector and Input templates are applied to each entry of a
    ``ListObjectsV2`` listing, as the map run applies them (paths one field deep, which
    is all the definition uses; anything else raises ``ValueError``).
    """
    documents = definition["States"][definition["StartAt"]]
    process = documents["ItemProcessor"]["States"]["Process"]
    execution = {"prefix": prefix, "profile": profile}
    inputs = []
    for entry in listed:
        context = {
            "$$.Map.Item.Value.Key": entry["Key"],
            "$$.Map.Item.Value.ETag": entry["ETag"],
            "$$.Map.Item.Value.Size": entry["Size"],
            "$$.Execution.Name": run,
            "$$.Execution.Id": f"local:{run}",
        }
        item = _resolve(documents["ItemSelector"], execution, context)
        inputs.append(_resolve(process["Parameters"]["Input"], item, context))
    return inputs


class BackfillError(Exception):
    """A backfill cannot start; the message says why, for a person."""


@dataclass(frozen=True)
class BackfillStarted:
    """A started backfill.

    Attributes:
        execution_arn: The backfill execution (``aws stepfunctions describe-execution``).
        state_machine_arn: The backfill state machine.
        prefix: The prefix listed.
    """

    execution_arn: str
    state_machine_arn: str
    prefix: str


def _find_state_machine(sfn: Any, name: str) -> str | None:
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return str(machine["stateMachineArn"])
    return None


def start_backfill(
    stack: str,
    prefix: str = "",
    profile: str | None = None,
    *,
    sfn: Any = None,
    state_machine_arn: str | None = None,
) -> BackfillStarted:
    """Starts a backfill of the objects under ``prefix`` in the stack's trigger bucket.

    Args:
        stack: The Pulumi stack (its backfill state machine is ``docpipe-<stack>-backfill``).
        prefix: Only keys starting with it ("" for the whole bucket).
        profile: A compress profile for every document (else each one's own choice).
        sfn: A Step Functions client (default: boto3's, from the usual AWS settings).
        state_machine_arn: The backfill state machine (default: found by name).

    Raises:
        BackfillError: The prefix or profile is unusable, or the stack has no backfill
            state machine in this account and region.
    """
    from functions.settings import PROFILES

    if profile is not None and profile not in PROFILES:
        raise BackfillError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    if prefix.startswith("/") or len(prefix.encode("utf-8")) > 1024:
        raise BackfillError(
            f"{prefix!r} is not an S3 key prefix (no leading slash, at most 1,024 bytes)"
        )
    if sfn is None:
        import boto3

        sfn = boto3.client("stepfunctions")
    name = backfill_name(f"docpipe-{stack}")
    arn = state_machine_arn or _find_state_machine(sfn, name)
    if arn is None:
        raise BackfillError(
            f"no state machine {name!r} in this account and region: is stack {stack!r} "
            "deployed here (pulumi up), and are AWS_PROFILE / AWS_REGION the stack's?"
        )
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    started = sfn.start_execution(
        stateMachineArn=arn,
        name=f"backfill-{stamp}-{uuid.uuid4().hex[:8]}",
        input=json.dumps({"prefix": prefix, "profile": profile}),
    )
    return BackfillStarted(
        execution_arn=str(started["executionArn"]), state_machine_arn=arn, prefix=prefix
    )


def add_backfill_parser(commands: Any) -> None:
    """Adds ``backfill --stack S [--prefix P] [--profile P]`` to the CLI's subcommands."""
    from functions.settings import PROFILES

    backfill = commands.add_parser(
        "backfill",
        help="process the objects already in a deployed stack's trigger bucket",
        description=(
            "Start the deployed stack's backfill: every object under the prefix of the "
            "trigger bucket runs through the pipeline, backfillMaxConcurrency at a time; "
            "objects already processed are recognised and skipped. Uses the usual AWS "
            "settings (AWS_PROFILE, AWS_REGION)."
        ),
    )
    backfill.add_argument("--stack", required=True, help="the deployed Pulumi stack")
    backfill.add_argument("--prefix", default="", help="only keys starting with it")
    backfill.add_argument("--profile", choices=PROFILES, help="compress profile for every document")


def backfill_command(
    args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None
) -> int:
    """Runs ``backfill``; returns the exit status (0 started, 1 AWS failed, 2 usage)."""
    from botocore.exceptions import BotoCoreError, ClientError

    out, err = out or sys.stdout, err or sys.stderr
    try:
        started = start_backfill(args.stack, args.prefix, args.profile)
    except BackfillError as exc:
        err.write(f"backfill: {exc}\n")
        return 2
    except (BotoCoreError, ClientError) as exc:
        err.write(f"backfill: could not start it: {exc}\n")
        return 1
    out.write(
        f"backfill started: {started.execution_arn}\n"
        "follow it with: aws stepfunctions describe-execution --execution-arn "
        f"{started.execution_arn}\n"
    )
    return 0
