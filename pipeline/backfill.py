"""Backfill: run the pipeline over the objects already under a prefix of the trigger bucket.

A second STANDARD state machine holds one Distributed Map state (docs/ARCHITECTURE.md,
"Bursts and backfill")::

    ListObjectsV2(trigger bucket, $.prefix) -> batches of backfillBatchSize objects ->
      each batch: one EXPRESS child execution, its documents two at a time through the
      pipeline's own states -> results (per batch, per document) under backfill/

A child execution of a Distributed Map costs one state transition, and the states inside
an EXPRESS child cost none (Express is billed by request and duration): batching several
documents into one Express child is what keeps a backfill's orchestration a small share
of its Lambda time (README, "Bursts and backfill", gives the figures). Each batch runs
:data:`SIDE_BY_SIDE` documents at a time, the next one starting as one ends, so a batch
keeps its share of the functions busy until its last document; the map runs
``backfillMaxConcurrency`` documents at once (that many divided by :data:`SIDE_BY_SIDE`
batches), so a backfill of any size meets few throttled invocations.

Each document runs the states of the pipeline (:func:`pipeline.definition.document_states`)
with its own job id, named after the backfill run and the key (a re-driven batch finds
the same job), so its status document, failure report and metrics are the usual ones. A
document that fails ends its own iteration with its report written and never stops the
rest of its batch. Express executions end after five minutes, so an object larger than
:data:`EXPRESS_MAX_BYTES` is handed to the STANDARD pipeline state machine instead (an
execution of the same name, started and not waited for). Documents already processed
are recognised by ingest's claim on the object version: they end in ``AlreadyProcessed``,
so a second backfill of the same prefix processes none again.

:func:`pipeline.commands.backfill.start_backfill` starts one (``python -m pipeline backfill``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.definition import ITERATION, document_states
from pipeline.iam import invoke_the_pipeline_functions

LIST_OBJECTS = "arn:aws:states:::s3:listObjectsV2"
PUT_OBJECT = "arn:aws:states:::s3:putObject"
START_PIPELINE = "arn:aws:states:::states:startExecution"
RESULTS_PREFIX = "backfill"
# A batch whose execution failed (a document's report could not be written, or the
# batch outlived Express's five minutes) is counted by the map run, which goes on.
TOLERATED_FAILURE_PERCENTAGE = 100.0
# Larger objects run as STANDARD pipeline executions: well inside five minutes, the
# documents below it are streamed, normalised, OCR'd (fanned out) and compressed.
EXPRESS_MAX_BYTES = 20 * 1024 * 1024
# Starting a pipeline execution can fail for a moment (API throttling, an open-execution
# quota); retried with backoff.
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
# Documents of one batch in flight at once: more batches of fewer documents each keep
# a batch short of Express's five minutes; two keep its tail from idling its share.
SIDE_BY_SIDE = 2
# One job id per (backfill run, key): a re-driven batch finds the same job.
JOB_ID = (
    "States.Format('backfill-{}', States.Hash(States.Format('{}/{}', "
    "$$.Map.Item.Value.run, $$.Map.Item.Value.key), 'SHA-1'))"
)


def backfill_name(pipeline_name: str) -> str:
    """Returns the backfill state machine's name for the pipeline's state machine."""
    return f"{pipeline_name}-backfill"


def batch_states(
    pipeline_arn: Any,
    functions: tuple[Any, Any, Any],
    *,
    task_timeout_seconds: int,
    ocr_max_concurrency: int,
) -> dict[str, Any]:
    """The states one document of a batch runs: a route by size, then the pipeline's."""
    states = document_states(
        functions,
        ITERATION,
        task_timeout_seconds=task_timeout_seconds,
        ocr_max_concurrency=ocr_max_concurrency,
    )
    # A failed document ends its own iteration (its report is written); the Fail state
    # of a pipeline execution would end the whole batch.
    states["Failed"] = {
        "Type": "Pass",
        "Comment": "The document could not be processed; failed/<S>.json says why.",
        "Parameters": {"job.$": "$.job", "failed.$": "$.report.code"},
        "End": True,
    }
    states["Route"] = {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.input.size", "NumericGreaterThan": EXPRESS_MAX_BYTES, "Next": "Handoff"}
        ],
        "Default": "Ingest",
    }
    states["Handoff"] = {
        "Type": "Task",
        "Resource": START_PIPELINE,
        "Parameters": {
            "StateMachineArn": pipeline_arn,
            "Name.$": "$.job",
            "Input.$": "$.input",
        },
        "ResultSelector": {"handedOff.$": "$.ExecutionArn"},
        "Retry": [RETRY_START],
        "Catch": [
            {
                # Started before (a re-driven batch): the execution runs or ran.
                "ErrorEquals": ["StepFunctions.ExecutionAlreadyExistsException"],
                "ResultPath": None,
                "Next": "HandedOff",
            }
        ],
        "End": True,
    }
    states["HandedOff"] = {"Type": "Pass", "Parameters": {"handedOff.$": "$.job"}, "End": True}
    return states


def batch_processor(
    pipeline_arn: Any,
    functions: tuple[Any, Any, Any],
    *,
    task_timeout_seconds: int,
    ocr_max_concurrency: int,
) -> dict[str, Any]:
    """The item processor of a batch's inline Map (a backfill's, and queued uploads'):
    each item, ``{"input", "job"}``, runs :func:`batch_states`."""
    return {
        "ProcessorConfig": {"Mode": "INLINE"},
        "StartAt": "Route",
        "States": batch_states(
            pipeline_arn,
            functions,
            task_timeout_seconds=task_timeout_seconds,
            ocr_max_concurrency=ocr_max_concurrency,
        ),
    }


def backfill_definition(
    pipeline_arn: Any,
    functions: tuple[Any, Any, Any],
    trigger_bucket: Any,
    output_bucket: Any,
    *,
    max_concurrency: int,
    batch_size: int = 6,
    task_timeout_seconds: int = 960,
    ocr_max_concurrency: int = 10,
) -> dict[str, Any]:
    """Returns the backfill state machine's definition.

    Args:
        pipeline_arn: The pipeline state machine's ARN (a string or a pulumi Output),
            which runs the objects too large for an Express batch.
        functions: The ingest, transform and compress function ARNs.
        trigger_bucket: The bucket whose objects are listed.
        output_bucket: Where the map run writes its results (under ``backfill/``).
        max_concurrency: Documents processed at once (rounded up to whole batches of
            :data:`SIDE_BY_SIDE`).
        batch_size: Documents per Express child execution.
        task_timeout_seconds: Upper bound of one task attempt, as in the pipeline.
        ocr_max_concurrency: Most page ranges of one document OCR'd at once.

    The execution input is ``{"prefix": str, "profile": str | null}``.
    """
    if max_concurrency < 1:
        raise ValueError("max_concurrency must be at least 1")
    if not 1 <= batch_size <= 40:  # an inline Map runs at most 40 iterations at once
        raise ValueError("batch_size must be from 1 to 40")
    side_by_side = min(SIDE_BY_SIDE, batch_size)
    batch = {
        "Type": "Map",
        "ItemsPath": "$.Items",
        "MaxConcurrency": side_by_side,
        "ItemSelector": {
            "input": {
                "bucket.$": "$$.Map.Item.Value.bucket",
                "key.$": "$$.Map.Item.Value.key",
                "versionId": None,
                "etag.$": "$$.Map.Item.Value.etag",
                "size.$": "$$.Map.Item.Value.size",
                "profile.$": "$$.Map.Item.Value.profile",
            },
            "job.$": JOB_ID,
        },
        "ItemProcessor": batch_processor(
            pipeline_arn,
            functions,
            task_timeout_seconds=task_timeout_seconds,
            ocr_max_concurrency=ocr_max_concurrency,
        ),
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
        "ItemBatcher": {"MaxItemsPerBatch": batch_size},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "Batch",
            "States": {"Batch": batch},
        },
        "MaxConcurrency": math.ceil(max_concurrency / side_by_side),
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
        pipeline: The pipeline state machine (objects too large for a batch).
        functions: The ingest, transform and compress functions and their versions and
            aliases (a batch invokes them), as the pipeline's role names them.
        trigger_bucket: The trigger bucket.
        results: The result objects (``<output bucket ARN>/backfill/*``).
    """

    backfill: Any
    backfill_executions: Any
    pipeline: Any
    functions: list[Any]
    trigger_bucket: Any
    results: Any


def backfill_policy(arns: BackfillArns) -> dict[str, Any]:
    """Returns the backfill role's policy: exactly what the map run needs.

    Its own child executions (the map run starts them on this state machine), the three
    functions (a batch runs the pipeline's states under this role), starting pipeline
    executions for the objects too large for a batch, listing the trigger bucket, and
    writing results under ``backfill/`` in the output bucket.
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
            invoke_the_pipeline_functions(arns.functions),
            {
                "Sid": "StartThePipeline",
                "Effect": "Allow",
                "Action": ["states:StartExecution"],
                "Resource": [arns.pipeline],
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


def batch_definition(definition: Mapping[str, Any]) -> dict[str, Any]:
    """Returns what one Express child of the backfill runs, as a state machine of its own.

    For the local stack, whose interpreter cannot run a Distributed Map's children: the
    child's states, exactly as the backfill definition holds them.
    """
    documents = definition["States"][definition["StartAt"]]
    processor = documents["ItemProcessor"]
    return {
        "Comment": "one batch of a docpipe backfill",
        "StartAt": processor["StartAt"],
        "States": processor["States"],
    }


def batch_inputs(
    definition: Mapping[str, Any],
    listed: Sequence[Mapping[str, Any]],
    *,
    run: str,
    prefix: str,
    profile: str | None = None,
) -> list[dict[str, Any]]:
    """Returns the inputs of the Express children the map starts for ``listed`` objects.

    For the local stack: the definition's own ItemSelector and ItemBatcher are applied to
    the entries of a ``ListObjectsV2`` listing (``{"Items": [...]}`` per batch), as the
    map run applies them (paths one field deep, which is all the definition uses;
    anything else raises ``ValueError``).
    """
    documents = definition["States"][definition["StartAt"]]
    execution = {"prefix": prefix, "profile": profile}
    items = [
        _resolve(
            documents["ItemSelector"],
            execution,
            {
                "$$.Map.Item.Value.Key": entry["Key"],
                "$$.Map.Item.Value.ETag": entry["ETag"],
                "$$.Map.Item.Value.Size": entry["Size"],
                "$$.Execution.Name": run,
            },
        )
        for entry in listed
    ]
    size = int(documents["ItemBatcher"]["MaxItemsPerBatch"])
    return [{"Items": items[start : start + size]} for start in range(0, len(items), size)]
