"""The Step Functions state machine, as a pure function of the three function ARNs.

``pulumi up`` serialises this dict with ``pulumi.Output.json_dumps``; the local runner
serialises the same dict with :func:`json.dumps` and hands it to moto's ASL interpreter.

Flow::

    Ingest -> (duplicate? -> AlreadyProcessed) -> Transform -> Compress -> Published
      \\ Catch (every stage) -> <Stage>Failed -> ReportFailure -> Failed (error = code)
"""

from __future__ import annotations

from typing import Any, TypeVar

# Transient Lambda and EFS errors, retried with backoff and jitter. Document errors (the
# codes in functions.errors) are deterministic and are never retried.
TRANSIENT_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
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

# Throttling (a function at its reserved concurrency) is load, not a fault: it is retried
# on its own budget, long enough never to run out before the execution's TimeoutSeconds
# (99,999,999 attempts is the most Step Functions accepts), at a pace that keeps freed
# capacity busy. README, "Bursts and backfill", shows the measurements behind the numbers.
THROTTLED = "Lambda.TooManyRequestsException"
RETRY_THROTTLED: dict[str, Any] = {
    "ErrorEquals": [THROTTLED],
    "IntervalSeconds": 2,
    "MaxAttempts": 99_999_999,
    "BackoffRate": 2.0,
    "MaxDelaySeconds": 120,
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
        # The throttling retrier comes first: Step Functions uses the first that matches.
        "Retry": [RETRY_THROTTLED, RETRY_TRANSIENT],
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
    execution_timeout_seconds: int = 24 * 3600,
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
    if execution_timeout_seconds <= task_timeout_seconds:
        raise ValueError("execution_timeout_seconds must be longer than one task")
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
                {"Variable": "$.duplicate", "BooleanEquals": True, "Next": "AlreadyProcessed"}
            ],
            "Default": "Transform",
        },
        "AlreadyProcessed": {
            "Type": "Succeed",
            "Comment": "Another execution claimed this object version; nothing to do.",
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
    report["ResultSelector"] = {"code.$": "$.Payload.code", "message.$": "$.Payload.message"}
    report["ResultPath"] = "$.report"
    report["Catch"] = [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.reportError", "Next": "ReportFailed"}
    ]
    states["ReportFailure"] = report
    states["Failed"] = {
        "Type": "Fail",
        "Comment": "The document could not be processed; failed/<key>.json says why.",
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
        "TimeoutSeconds": execution_timeout_seconds,
        "States": states,
    }
