"""The failure step: one report per failed job, the claim released, the workspace removed.

The state machine's Catch sends every failed stage here (the compress function's
``report_failure`` action). The step classifies the error into a stable code and a
sentence, and commits the failure for the key (:mod:`functions.commit`): processed
outputs of the key are removed, ``failed/S.json`` is written, and ``status/S.json`` says
``failed``. A job whose version was superseded by a newer one publishes nothing: the
newer version owns the key's outputs. Whatever happens, the claim is marked failed (so a
re-run processes the version) and the workspace is removed (docs/ARCHITECTURE.md,
"Exactly once").
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from functions import claims, publish
from functions.commit import SourceVersion, key_commit, now_iso
from functions.contracts import FailureReport
from functions.errors import ErrorCode
from functions.handler import internal_error_message
from functions.logs import DocumentMetrics, StageLogger, emit_document_metrics
from functions.naming import FAILED, encode_segment, outputs_of
from functions.settings import Settings
from functions.status import StatusError
from functions.workspace import Workspace, read_json

_TIMEOUT_ERRORS = {"States.Timeout", "Sandbox.Timedout"}
# What still fails after the state machine's retries of Lambda's own transient errors.
_LAMBDA_UNAVAILABLE = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.EFSMountFailureException",
    "Lambda.EFSMountTimeoutException",
    "Lambda.EFSMountConnectivityException",
    "Lambda.EFSIOException",
}
# Reports without a usable source key go under this prefix, by job id: ``%~`` never
# begins an encoded key's first segment, so these never collide with a key's report.
FALLBACK_PREFIX = f"{FAILED}/%~jobs/"
_UNWRITABLE_KEY = {"KeyTooLongError", "InvalidArgument", "InvalidRequest", "InvalidURI"}


def _cause_message(cause: Any) -> tuple[str | None, str | None]:
    """Returns (errorType, errorMessage) from a Lambda error cause, when it is one."""
    if not isinstance(cause, str):
        return None, None
    try:
        parsed = json.loads(cause)
    except ValueError:
        return None, cause
    if isinstance(parsed, dict):
        kind = parsed.get("errorType")
        message = parsed.get("errorMessage")
        return (
            kind if isinstance(kind, str) else None,
            message if isinstance(message, str) else None,
        )
    return None, cause


def classify_failure(error: Any, stage: str, correlation: str) -> tuple[ErrorCode, str]:
    """Maps a Step Functions error (``{"Error", "Cause"}``) to a stable code and sentence.

    Errors named after a code (raised by a stage) keep their code and message; timeouts
    become ``PROCESSING_TIMEOUT``; Lambda's own transient errors that outlasted the
    retries become ``INFRASTRUCTURE_UNAVAILABLE``; anything else (a crash) is
    ``INTERNAL_ERROR`` with a correlation id, never the raw cause.
    """
    name = error.get("Error") if isinstance(error, dict) else None
    kind, message = _cause_message(error.get("Cause") if isinstance(error, dict) else None)
    codes = {code.value for code in ErrorCode}
    if name in codes and message:
        return ErrorCode(name), message
    if (
        name in _TIMEOUT_ERRORS
        or kind in _TIMEOUT_ERRORS
        or (message and "Task timed out" in message)
    ):
        return ErrorCode.PROCESSING_TIMEOUT, (
            f"The {stage} stage did not finish within its time limit; the document may be "
            "too large or too complex to process."
        )
    if name in _LAMBDA_UNAVAILABLE:
        return ErrorCode.INFRASTRUCTURE_UNAVAILABLE, (
            f"AWS Lambda could not run the {stage} stage ({name}) even after several "
            "attempts. The document itself is not at fault and nothing was published; "
            "re-run it once the service has recovered."
        )
    return ErrorCode.INTERNAL_ERROR, internal_error_message(correlation)


def _source(event: dict[str, Any], workspace: Workspace) -> dict[str, Any]:
    """The source as the input named it, completed by ingest's manifest when there is one.

    A pipeline execution passes its input (``input``); a document of a backfill batch
    passes the state it failed in (``state``): its own input while ingest had not
    finished, else a stage result whose ``source`` ingest resolved.
    """
    raw_input = event.get("input")
    if isinstance(raw_input, str):  # $$.Execution.Input may arrive serialised
        try:
            raw_input = json.loads(raw_input)
        except ValueError:
            raw_input = {}
    state = event.get("state")
    if raw_input is None and isinstance(state, dict):
        raw_input = state.get("input", state.get("source"))
    source: dict[str, Any] = dict(raw_input) if isinstance(raw_input, dict) else {}
    # When ingest did not get that far, the input is all there is.
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        source.update(read_json(workspace.stage_dir("ingest") / "manifest.json")["source"])
    return source


def fallback_report_key(job: str) -> str:
    """Where the report of a job whose source key is unusable goes."""
    return f"{FALLBACK_PREFIX}{encode_segment(job)}.json"


def _put_report(s3: Any, bucket: str, key: str, report: FailureReport) -> str:
    """Writes the report at ``key``, or at the job's fallback key if S3 refuses that key."""
    from botocore.exceptions import ClientError

    metadata = publish.source_metadata(report.source)
    try:
        publish.put_json(s3, bucket, key, report.to_json(), metadata)
        return key
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") not in _UNWRITABLE_KEY:
            raise
    fallback = fallback_report_key(report.job)
    publish.put_json(s3, bucket, fallback, report.to_json(), metadata)
    return fallback


def _commit_failure(
    s3: Any, settings: Settings, report: FailureReport, log: StageLogger
) -> str | None:
    """Commits the failure for the source key; returns the report key (None: superseded)."""
    key = report.source.get("key")
    bucket = report.source.get("bucket")
    if not (isinstance(key, str) and key and isinstance(bucket, str) and bucket):
        return _put_report(s3, settings.output_bucket, fallback_report_key(report.job), report)
    version = SourceVersion.of(report.source)
    with key_commit(s3, settings, version, report.job, log) as commit:
        if commit is None:
            return None
        natural = outputs_of(key).report
        commit.remove_stale(keep={natural})
        written = _put_report(s3, settings.output_bucket, natural, report)
        commit.write(
            commit.status(
                "failed",
                stage=report.stage,
                error=StatusError(report.code, report.message),
                report=written,
            )
        )
        return written


def report_failure(
    event: dict[str, Any], s3: Any, settings: Settings, log: StageLogger
) -> dict[str, Any]:
    """Reports a failed job, marks its claim failed and removes its workspace."""
    if not settings.output_bucket:
        raise ValueError("OUTPUT_BUCKET is not set")
    job = str(event.get("job", ""))
    workspace = Workspace(settings.mount_path, job)
    source = _source(event, workspace)
    stage = str(event.get("stage", "unknown"))
    code, message = classify_failure(event.get("error"), stage, job)
    digest = workspace.claimed()
    if digest is not None:
        claims.settle(settings.mount_path, digest, job, "failed")
    # Keep only what a retry of this step needs (the source as ingest read it).
    workspace.shrink(keep=("claim.json", "ingest/manifest.json"))
    execution = event.get("execution")
    report = FailureReport(
        source=source,
        stage=stage,
        code=code.value,
        message=message,
        job=job,
        time=now_iso(),
        execution=execution if isinstance(execution, str) else None,
    )
    report_key = _commit_failure(s3, settings, report, log)
    workspace.remove()
    log.bind(key=source.get("key")).info(
        "failure reported", extra={"code": code.value, "report": report_key}
    )
    emit_document_metrics(DocumentMetrics("failed", code.value), job=job, key=source.get("key"))
    return {"code": code.value, "message": message, "report": report_key}
