"""The failure step: failed/S.json with a stable code, and the workspace removed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from functions import compress
from functions.errors import ErrorCode
from functions.workspace import Workspace, write_json
from tests.conftest import OUTPUT_BUCKET, TRIGGER_BUCKET


def lambda_cause(error_type: str, message: str) -> str:
    """The Cause Step Functions records for a Lambda function error."""
    return json.dumps(
        {
            "errorMessage": message,
            "errorType": error_type,
            "requestId": "r",
            "stackTrace": ['  File "/var/task/functions/x.py", line 1, in secret'],
        }
    )


def report(
    s3: Any,
    error: dict[str, Any],
    *,
    key: str = "inbox/a.pdf",
    stage: str = "transform",
    job: str = "job-1",
) -> dict[str, Any]:
    event = {
        "action": "report_failure",
        "job": job,
        "execution": f"arn:aws:states:us-east-1:123456789012:execution:docpipe:{job}",
        "input": json.dumps({"bucket": TRIGGER_BUCKET, "key": key}),
        "stage": stage,
        "error": error,
    }
    result = compress.handler(event, None)
    body = s3.get_object(Bucket=OUTPUT_BUCKET, Key=result["report"])["Body"].read()
    return {"result": result, "report": json.loads(body)}


def test_a_document_error_keeps_its_code_and_sentence(s3: Any, mount: Path) -> None:
    """This test ensures that a stage's code and message reach failed/S.json unchanged."""
    workspace = Workspace(mount, "job-1")
    workspace.reset_stage("ingest")
    write_json(
        workspace.stage_dir("ingest") / "manifest.json",
        {"source": {"bucket": TRIGGER_BUCKET, "key": "inbox/a.pdf", "sha256": "ff", "size": 9}},
    )
    out = report(
        s3,
        {
            "Error": "ENCRYPTED_DOCUMENT",
            "Cause": lambda_cause("ENCRYPTED_DOCUMENT", "The PDF needs a password."),
        },
    )
    assert out["result"]["report"] == "failed/inbox/a.pdf.json"
    assert out["result"]["code"] == "ENCRYPTED_DOCUMENT"
    assert out["report"]["error"] == {
        "code": "ENCRYPTED_DOCUMENT",
        "message": "The PDF needs a password.",
    }
    assert out["report"]["stage"] == "transform"
    assert out["report"]["source"]["sha256"] == "ff"
    assert out["report"]["execution"].endswith(":job-1")
    assert out["report"]["time"].endswith("+00:00")
    assert not workspace.job_dir.exists(), "the failure step removes the workspace"


@pytest.mark.parametrize(
    "error",
    [
        {"Error": "States.Timeout", "Cause": "Task timed out"},
        {
            "Error": "Sandbox.Timedout",
            "Cause": lambda_cause("Sandbox.Timedout", "Task timed out after 900.00 seconds"),
        },
        {"Error": "States.TaskFailed", "Cause": lambda_cause("Sandbox.Timedout", "Task timed out")},
    ],
)
def test_timeouts_become_processing_timeout(s3: Any, mount: Path, error: dict[str, Any]) -> None:
    """This test ensures that every shape of timeout is reported as PROCESSING_TIMEOUT."""
    out = report(s3, error, stage="compress")
    assert out["report"]["error"]["code"] == "PROCESSING_TIMEOUT"
    assert "compress stage" in out["report"]["error"]["message"]


@pytest.mark.parametrize(
    "error",
    [
        {"Error": "Runtime.ExitError", "Cause": lambda_cause("Runtime.ExitError", "exit status 1")},
        {"Error": "KeyError", "Cause": lambda_cause("KeyError", "'pages'")},
        {},
    ],
)
def test_defects_become_internal_error_without_details(
    s3: Any, mount: Path, error: dict[str, Any]
) -> None:
    """This test ensures that crashes are INTERNAL_ERROR with a correlation id, no traceback."""
    out = report(s3, error, job="job-9")
    assert out["report"]["error"]["code"] == "INTERNAL_ERROR"
    message = out["report"]["error"]["message"]
    assert "correlation id job-9" in message
    assert "stackTrace" not in message
    assert "line 1" not in message


def test_lambda_errors_that_outlast_the_retries_say_to_re_run(s3: Any, mount: Path) -> None:
    """This test ensures that a Lambda service error after the retries asks for a re-run."""
    out = report(s3, {"Error": "Lambda.ServiceException", "Cause": "Rate exceeded"})
    assert out["report"]["error"]["code"] == "INFRASTRUCTURE_UNAVAILABLE"
    assert "re-run it" in out["report"]["error"]["message"]


def test_invalid_input_still_gets_a_report(s3: Any, mount: Path) -> None:
    """This test ensures that an execution started with garbage input is still reported."""
    event = {
        "action": "report_failure",
        "job": "job-2",
        "input": "not json",
        "stage": "ingest",
        "error": {
            "Error": "SOURCE_NOT_FOUND",
            "Cause": lambda_cause("SOURCE_NOT_FOUND", "The input names no object."),
        },
    }
    result = compress.handler(event, None)
    assert result["report"] == "failed/%~jobs/job-2.json"
    assert result["code"] == ErrorCode.SOURCE_NOT_FOUND


@pytest.mark.parametrize(
    ("state", "stage"),
    [
        # Ingest failed: the state is the iteration's input.
        (
            {"input": {"bucket": TRIGGER_BUCKET, "key": "old/a.pdf", "size": 9}, "job": "b-1"},
            "ingest",
        ),
        # A later stage failed: the state is a stage result with ingest's source.
        (
            {
                "job": "b-1",
                "duplicate": False,
                "source": {"bucket": TRIGGER_BUCKET, "key": "old/a.pdf"},
            },
            "compress",
        ),
    ],
)
def test_a_backfill_document_is_reported_from_its_failed_state(
    s3: Any, mount: Path, state: dict[str, Any], stage: str
) -> None:
    """This test ensures that a document of a backfill batch, which passes the state it
    failed in instead of an execution input, gets its report at its own key with the
    source and nothing of the state's other fields."""
    event = {
        "action": "report_failure",
        "job": "b-1",
        "state": {**state, "error": {"Error": "X"}, "stage": stage},
        "stage": stage,
        "error": {
            "Error": "CORRUPT_DOCUMENT",
            "Cause": lambda_cause("CORRUPT_DOCUMENT", "The PDF is damaged."),
        },
    }
    result = compress.handler(event, None)
    assert result["report"] == "failed/old/a.pdf.json"
    body = s3.get_object(Bucket=OUTPUT_BUCKET, Key=result["report"])["Body"].read()
    source = json.loads(body)["source"]
    assert (source["bucket"], source["key"]) == (TRIGGER_BUCKET, "old/a.pdf")
    assert not {"job", "error", "stage", "duplicate", "input"} & set(source)


def test_an_unknown_action_is_an_internal_error(mount: Path) -> None:
    """This test ensures that a malformed event surfaces as INTERNAL_ERROR, not a traceback."""
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the type is generated per code
        compress.handler({"action": "explode"}, None)
    assert type(caught.value).__name__ == "INTERNAL_ERROR"
    assert "correlation id" in str(caught.value)


def test_sweep_action_removes_orphans(mount: Path) -> None:
    """This test ensures that the scheduled sweep reaches the workspace through the handler."""
    import os
    import time

    orphan = Workspace(mount, "orphan")
    orphan.reset_stage("transform")
    old = time.time() - 48 * 3600
    os.utime(orphan.job_dir, (old, old))
    assert compress.handler({"action": "sweep"}, None) == {"removed": 1, "entries": ["jobs/orphan"]}
