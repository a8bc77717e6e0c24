"""The Step Functions state machine, as a pure function of the three function ARNs.

``pulumi up`` serialises this dict with ``pulumi.Output.json_dumps``; the local runner
serialises the same dict with :func:`json.dumps` and hands it to moto's ASL interpreter.

Flow::

    Ingest -> (duplicate? -> AlreadyProcessed; skipped? -> NothingToProcess)
      -> Transform -> Compress
      \\ Catch (every stage) -> <Stage>Failed -> ReportFailure -> Failed (error = code)

Every task retries Lambda's transient errors and ``INFRASTRUCTURE_UNAVAILABLE``; the
failure step also retries its own errors (docs/ARCHITECTURE.md, "Transient errors").
"""

from __future__ import annotations

from typing import Any, TypeVar

# Transient Lambda and EFS errors, retried with backoff and jitter. Document errors (the
# codes in functions.errors) are deterministic and are never retried.
TRANSIENT_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.EFSMountFailureException",
    "Lambda.EFSMountTimeoutException",
    "Lambda.EFSMountConnectivityException",
    "Lambda.EFSIOException",
)

RETRY_TRANSIENT: dict[str, Any] = {
    "ErrorEquals": list(TRANSIENT_ERRORS),
    "IntervalSeconds": 2,
    "MaxAttempts": 6,
    "BackoffRate": 2.0,
    "MaxDelaySeconds": 60,
    "JitterStrategy": "FULL",
}

# S3 or EFS failing after the functions' own retries (functions.transient): the stage is
# retried from its start (stages are idempotent), later and with jitter, so that a burst of
# jobs does not come back at the same instant.
RETRY_INFRASTRUCTURE: dict[str, Any] = {
    "ErrorEquals": ["INFRASTRUCTURE_UNAVAILABLE"],
    "IntervalSeconds": 5,
    "MaxAttempts": 4,
    "BackoffRate": 2.0,
    "MaxDelaySeconds": 60,
    "JitterStrategy": "FULL",
}
# The failure step retries any error of its own: a report must be written.
RETRY_REPORT: dict[str, Any] = {
    "ErrorEquals": ["States.ALL"],
    "IntervalSeconds": 2,
    "MaxAttempts": 4,
    "BackoffRate": 2.0,
    "MaxDelaySeconds": 30,
    "JitterStrategy": "FULL",
}

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
STAGE_STATES = ("Ingest", "Transform", "Compress")

Arn = TypeVar("Arn")


def _task(
    function_arn: Arn, payload: dict[str, Any], next_state: str | None, timeout: int
) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {"FunctionName": function_arn, "Payload": payload},
        "OutputPath": "$.Payload",
        "TimeoutSeconds": timeout,
        "Retry": [RETRY_TRANSIENT, RETRY_INFRASTRUCTURE],
    }
    if next_state is None:
        state["End"] = True
    else:
        state["Next"] = next_state
    return state


def _catch_to(stage: str) -> list[dict[str, Any]]:
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": f"{stage}Failed"}]


def state_machine_definition(
    ingest_arn: Arn,
    transform_arn: Arn,
    compress_arn: Arn,
    *,
    task_timeout_seconds: int = 960,
) -> dict[str, Any]:
    """Returns the Amazon States Language definition of the document pipeline.

    Args:
        ingest_arn: ARN of the ingest function (a string, or a pulumi Output of one).
        transform_arn: ARN of the transform function.
        compress_arn: ARN of the compress function, which also writes failure reports.
        task_timeout_seconds: Upper bound of one task attempt; a little above the
            functions' own timeout, so that a hung invocation still ends the job.

    Each stage receives the previous stage's small JSON result; files travel through the
    EFS workspace. ``$$.Execution.Name`` is the job id.
    """
    if task_timeout_seconds <= 0:
        raise ValueError("task_timeout_seconds must be positive")
    ingest = _task(
        ingest_arn,
        {"input.$": "$", "job.$": "$$.Execution.Name"},
        "CheckDuplicate",
        task_timeout_seconds,
    )
    transform = _task(transform_arn, {"Payload.$": "$"}, "Compress", task_timeout_seconds)
    transform["Parameters"]["Payload"] = {"ingest.$": "$", "job.$": "$$.Execution.Name"}
    compress = _task(
        compress_arn,
        {"action": "compress", "transform.$": "$", "job.$": "$$.Execution.Name"},
        None,
        task_timeout_seconds,
    )
    states: dict[str, Any] = {
        "Ingest": ingest,
        "CheckDuplicate": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.duplicate", "BooleanEquals": True, "Next": "AlreadyProcessed"},
                {"Variable": "$.skipped", "BooleanEquals": True, "Next": "NothingToProcess"},
            ],
            "Default": "Transform",
        },
        "AlreadyProcessed": {
            "Type": "Succeed",
            "Comment": "This object version is published or being processed by another job.",
        },
        "NothingToProcess": {
            "Type": "Succeed",
            "Comment": "Not a document (a folder marker), or a newer version of the key exists.",
        },
        "Transform": transform,
        "Compress": compress,
    }
    for name in STAGE_STATES:
        states[name]["Catch"] = _catch_to(name)
        states[f"{name}Failed"] = {
            "Type": "Pass",
            "Result": name.lower(),
            "ResultPath": "$.stage",
            "Next": "ReportFailure",
        }
    report = _task(
        compress_arn,
        {
            "action": "report_failure",
            "job.$": "$$.Execution.Name",
            "execution.$": "$$.Execution.Id",
            "input.$": "$$.Execution.Input",
            "stage.$": "$.stage",
            "error.$": "$.error",
        },
        "Failed",
        task_timeout_seconds,
    )
    del report["OutputPath"]
    report["Retry"] = [RETRY_TRANSIENT, RETRY_INFRASTRUCTURE, RETRY_REPORT]
    report["ResultSelector"] = {"code.$": "$.Payload.code", "message.$": "$.Payload.message"}
    report["ResultPath"] = "$.report"
    report["Catch"] = [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.reportError", "Next": "ReportFailed"}
    ]
    states["ReportFailure"] = report
    states["Failed"] = {
        "Type": "Fail",
        "Comment": "The document could not be processed; failed/<S>.json says why.",
        "ErrorPath": "$.report.code",
        "CausePath": "$.report.message",
    }
    states["ReportFailed"] = {
        "Type": "Fail",
        "Error": "INTERNAL_ERROR",
        "Cause": "The document failed and its failure report could not be written.",
    }
    return {
        "Comment": "docpipe: ingest -> transform -> compress, with a failure report on error",
        "StartAt": "Ingest",
        "States": states,
    }
