"""The Step Functions state machine, as a pure function of the three function ARNs.

``pulumi up`` serialises this dict with ``pulumi.Output.json_dumps``; the local runner
serialises the same dict with :func:`json.dumps` and hands it to moto's ASL interpreter.

Flow::

    Ingest -> (duplicate? -> AlreadyProcessed; skipped? -> NothingToProcess)
      -> Transform -> (pages to OCR? -> Ocr (Map) -> OcrMerge) -> Compress
      \\ Catch (every stage) -> <Stage>Failed -> ReportFailure -> Failed (error = code)

Every task retries Lambda's transient errors and ``INFRASTRUCTURE_UNAVAILABLE``; the
failure step also retries its own errors (docs/ARCHITECTURE.md, "Transient errors").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from functions.claims import EXPRESS_CLAIM_LEASE_SECONDS

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
        # The throttling retrier comes first: Step Functions uses the first that matches.
        "Retry": [RETRY_THROTTLED, RETRY_TRANSIENT, RETRY_INFRASTRUCTURE],
    }
    if next_state is None:
        state["End"] = True
    else:
        state["Next"] = next_state
    return state


def _catch_to(stage: str) -> list[dict[str, Any]]:
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": f"{stage}Failed"}]


def _ocr_states(transform_arn: Arn, max_concurrency: int, timeout: int, job: str) -> dict[str, Any]:
    """The OCR fan-out (ARCHITECTURE.md "OCR"): a Map over the page ranges transform left
    in ``$.ocr``, each read by the transform function's ``ocr`` action, then one merge."""
    read = _task(transform_arn, {"Payload.$": "$"}, None, timeout)
    read["Parameters"]["Payload.$"] = read["Parameters"].pop("Payload")["Payload.$"]
    merge = _task(
        transform_arn,
        {"action": "ocr_merge", "transform.$": "$", "job.$": job},
        "Compress",
        timeout,
    )
    merge["Catch"] = _catch_to("Transform")
    return {
        "NeedsOcr": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.ocr", "IsPresent": True, "Next": "Ocr"}],
            "Default": "Compress",
        },
        "Ocr": {
            "Type": "Map",
            "ItemsPath": "$.ocr",
            "MaxConcurrency": max_concurrency,
            "ItemSelector": {
                "action": "ocr",
                "job.$": job,
                "item.$": "$$.Map.Item.Value",
            },
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "OcrPages",
                "States": {"OcrPages": read},
            },
            # The parts are on EFS; the state going on is transform's, unchanged.
            "ResultPath": None,
            "Next": "OcrMerge",
            "Catch": _catch_to("Transform"),
        },
        "OcrMerge": merge,
    }


@dataclass(frozen=True)
class DocumentPaths:
    """Where the document states find their job id and the document's input.

    A pipeline execution is one document: its name is the job id and its input the
    document's (:data:`EXECUTION`). A backfill batch runs several documents in one
    execution, each carrying ``{"input": ..., "job": ...}`` into its Map iteration and
    every stage's result carrying ``job`` on (:data:`ITERATION`); its failure report
    then reads the document from the failed state (``state``), not the execution input.
    Those batches are EXPRESS executions, which end within five minutes: ingest is told
    to trust the document's claim only that long (``claim_lease_seconds``), so that a
    later job takes over a document whose batch was cut short within minutes, not an hour.
    """

    job: str
    ingest_input: str
    report_source: tuple[str, str]
    claim_lease_seconds: float | None = None


EXECUTION = DocumentPaths("$$.Execution.Name", "$", ("input.$", "$$.Execution.Input"))
ITERATION = DocumentPaths(
    "$.job", "$.input", ("state.$", "$"), claim_lease_seconds=EXPRESS_CLAIM_LEASE_SECONDS
)


def document_states(
    functions: tuple[Arn, Arn, Arn],
    paths: DocumentPaths,
    *,
    task_timeout_seconds: int,
    ocr_max_concurrency: int,
) -> dict[str, Any]:
    """Returns the states that take one document from ``Ingest`` to its end.

    Args:
        functions: The ingest, transform and compress function ARNs (strings, or pulumi
            Outputs of them).
        paths: Where the job id and the document's input come from.
        task_timeout_seconds: Upper bound of one task attempt.
        ocr_max_concurrency: Most page ranges of one document OCR'd at once.
    """
    ingest_arn, transform_arn, compress_arn = functions
    job, timeout = paths.job, task_timeout_seconds
    ingest_payload: dict[str, Any] = {"input.$": paths.ingest_input, "job.$": job}
    if paths.claim_lease_seconds is not None:
        ingest_payload["claimLeaseSeconds"] = paths.claim_lease_seconds
    ingest = _task(ingest_arn, ingest_payload, "CheckDuplicate", timeout)
    transform = _task(transform_arn, {"Payload.$": "$"}, "NeedsOcr", timeout)
    transform["Parameters"]["Payload"] = {"ingest.$": "$", "job.$": job}
    compress = _task(
        compress_arn,
        {"action": "compress", "transform.$": "$", "job.$": job},
        None,
        timeout,
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
    states.update(_ocr_states(transform_arn, ocr_max_concurrency, timeout, job))
    for name in STAGE_STATES:
        states[name]["Catch"] = _catch_to(name)
        states[f"{name}Failed"] = {
            "Type": "Pass",
            "Result": name.lower(),
            "ResultPath": "$.stage",
            "Next": "ReportFailure",
        }
    source_field, source_path = paths.report_source
    report = _task(
        compress_arn,
        {
            "action": "report_failure",
            "job.$": job,
            "execution.$": "$$.Execution.Id",
            source_field: source_path,
            "stage.$": "$.stage",
            "error.$": "$.error",
        },
        "Failed",
        timeout,
    )
    del report["OutputPath"]
    report["Retry"] = [RETRY_THROTTLED, RETRY_TRANSIENT, RETRY_INFRASTRUCTURE, RETRY_REPORT]
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
    return states


def state_machine_definition(
    ingest_arn: Arn,
    transform_arn: Arn,
    compress_arn: Arn,
    *,
    task_timeout_seconds: int = 960,
    ocr_max_concurrency: int = 10,
    execution_timeout_seconds: int = 24 * 3600,
) -> dict[str, Any]:
    """Returns the Amazon States Language definition of the document pipeline.

    Args:
        ingest_arn: ARN of the ingest function (a string, or a pulumi Output of one).
        transform_arn: ARN of the transform function.
        compress_arn: ARN of the compress function, which also writes failure reports.
        task_timeout_seconds: Upper bound of one task attempt; a little above the
            functions' own timeout, so that a hung invocation still ends the job.
        ocr_max_concurrency: Most page ranges of one document OCR'd at once.
        execution_timeout_seconds: The execution's own ``TimeoutSeconds``: a document
            waiting out throttling (which is retried without a limit) still ends.

    Each stage receives the previous stage's small JSON result; files travel through the
    EFS workspace. ``$$.Execution.Name`` is the job id.
    """
    if task_timeout_seconds <= 0:
        raise ValueError("task_timeout_seconds must be positive")
    if ocr_max_concurrency <= 0:
        raise ValueError("ocr_max_concurrency must be positive")
    if execution_timeout_seconds <= task_timeout_seconds:
        raise ValueError("execution_timeout_seconds must be longer than one task")
    states = document_states(
        (ingest_arn, transform_arn, compress_arn),
        EXECUTION,
        task_timeout_seconds=task_timeout_seconds,
        ocr_max_concurrency=ocr_max_concurrency,
    )
    return {
        "Comment": "docpipe: ingest -> transform -> compress, with a failure report on error",
        "StartAt": "Ingest",
        "TimeoutSeconds": execution_timeout_seconds,
        "States": states,
    }
