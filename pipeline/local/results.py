"""How documents ended: results from executions and failure reports, and the summary.

The ``--json`` summary and the exit status follow docs/ARCHITECTURE.md, "Local runner
summary and exit status".
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from functions.errors import ErrorCode
from functions.naming import outputs_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import DescribeExecutionOutputTypeDef

# A document the trigger bucket refused (moto refuses some keys that S3 accepts): it
# never reached the pipeline, so it has no failure report. A code of the local summary
# only, not one the pipeline reports.
UPLOAD_REFUSED = "UPLOAD_REFUSED"


@dataclass(frozen=True)
class DocumentResult:
    """How one document ended; :meth:`summary` is its entry in the ``--json`` summary.

    Attributes:
        reported: For a failed document, whether its failure report exists in the
            output bucket (a failure without one is a defect of the pipeline).
        failed_members: The bundle members that failed, ``{"member", "code",
            "message"}`` each (the bundle itself succeeds).
        failed_attempts: ``(state, error)`` of every task attempt that failed, from the
            execution history, e.g. ``("Transform", "Lambda.ServiceException")`` for an
            attempt that the definition then retried.
    """

    source: str
    status: str
    outputs: tuple[str, ...]
    error: dict[str, str] | None
    bytes_in: int
    bytes_out: int
    pages: int
    seconds: float
    execution_arn: str
    reported: bool = True
    failed_members: tuple[dict[str, str], ...] = ()
    failed_attempts: tuple[tuple[str, str], ...] = ()

    @property
    def accounted_for(self) -> bool:
        """Whether it succeeded, or failed for its input and says why in a report.

        A document that ended ``INTERNAL_ERROR`` is a defect of the pipeline even with a
        report, so it is not accounted for (the run exits 1).
        """
        if self.status == "succeeded":
            return True
        code = (self.error or {}).get("code")
        return self.reported and code != ErrorCode.INTERNAL_ERROR.value

    def summary(self) -> dict[str, Any]:
        """Returns the document's entry of the ``--json`` summary."""
        entry: dict[str, Any] = {
            "source": self.source,
            "status": self.status,
            "outputs": list(self.outputs),
            "error": self.error,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "pages": self.pages,
            "seconds": round(self.seconds, 3),
        }
        if self.failed_members:
            entry["failed_members"] = [dict(member) for member in self.failed_members]
        return entry


@dataclass(frozen=True)
class RunResult:
    """The outcome of a local run.

    Attributes:
        documents: One result per input, sorted by source key.
        seconds: Wall time of the whole run, set-up included.
        out_dir: Where the output bucket was copied to.
        leftovers: Workspace entries no job removed (relative to the mount); must be empty.
        problems: Anything else that went wrong in the pipeline rather than in a document.
        transient_failures_injected: Invocations failed on purpose (tests only).
    """

    documents: tuple[DocumentResult, ...]
    seconds: float
    out_dir: Path
    leftovers: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    transient_failures_injected: int = 0

    @property
    def succeeded(self) -> int:
        """How many documents succeeded."""
        return sum(1 for doc in self.documents if doc.status == "succeeded")

    @property
    def failed(self) -> int:
        """How many documents failed (with or without a report)."""
        return len(self.documents) - self.succeeded

    @property
    def exit_code(self) -> int:
        """0 when every document is accounted for and the workspace is clean, else 1."""
        clean = not self.leftovers and not self.problems
        return 0 if clean and all(doc.accounted_for for doc in self.documents) else 1

    def summary(self) -> dict[str, Any]:
        """Returns the ``--json`` summary."""
        return {
            "documents": [doc.summary() for doc in self.documents],
            "succeeded": self.succeeded,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class Started:
    """A document put into the trigger bucket, and its execution.

    Attributes:
        error: Why it never got an execution (``{"code", "message"}``), else None.
    """

    source: str
    size: int
    arn: str = ""
    error: dict[str, str] | None = None


def not_started(started: Started) -> DocumentResult:
    """Returns the result of a document that never got an execution (no report)."""
    return DocumentResult(
        source=started.source,
        status="failed",
        outputs=(),
        error=started.error,
        bytes_in=started.size,
        bytes_out=0,
        pages=0,
        seconds=0.0,
        execution_arn="",
        reported=False,
    )


def _error_of(code: str | None, message: str | None) -> dict[str, str]:
    known = {item.value for item in ErrorCode}
    if code in known:
        return {"code": str(code), "message": message or ""}
    return {
        "code": ErrorCode.INTERNAL_ERROR.value,
        "message": f"The execution failed with {code}: {message}",
    }


def _seconds(description: DescribeExecutionOutputTypeDef) -> float:
    started, stopped = description.get("startDate"), description.get("stopDate")
    return (stopped - started).total_seconds() if started and stopped else 0.0


def _failed_members(
    s3: S3Client, bucket: str, output: dict[str, Any]
) -> tuple[dict[str, str], ...]:
    """Returns the failed members of a bundle, from its bundle manifest (the last output)."""
    outputs = output.get("outputs") or []
    if not int(output.get("failed_members") or 0) or not outputs:
        return ()
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=outputs[-1])["Body"].read())
    return tuple(
        {
            "member": str(member.get("name", "")),
            "code": str((member.get("error") or {}).get("code", "")),
            "message": str((member.get("error") or {}).get("message", "")),
        }
        for member in manifest.get("members", ())
        if member.get("status") == "failed"
    )


def _succeeded(
    started: Started, description: DescribeExecutionOutputTypeDef, s3: S3Client, bucket: str
) -> DocumentResult:
    output = json.loads(description.get("output") or "{}")
    return DocumentResult(
        source=started.source,
        status="succeeded",
        outputs=tuple(output.get("outputs", ())),
        error=None,
        bytes_in=int(output.get("bytes_in", started.size)),
        bytes_out=int(output.get("bytes_out", 0)),
        pages=int(output.get("pages", 0)),
        seconds=_seconds(description),
        execution_arn=started.arn,
        failed_members=_failed_members(s3, bucket, output),
    )


def _report(s3: S3Client, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        report = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("NoSuchKey", "404"):
            raise
        return None
    return report if isinstance(report, dict) and isinstance(report.get("error"), dict) else None


def _failed(
    started: Started, description: DescribeExecutionOutputTypeDef, s3: S3Client, bucket: str
) -> DocumentResult:
    report_key = outputs_of(started.source).report
    report = _report(s3, bucket, report_key)
    status = description["status"]
    if report is not None:
        error = _error_of(report["error"].get("code"), report["error"].get("message"))
    elif status == "FAILED":
        error = _error_of(description.get("error"), description.get("cause"))
    else:  # TIMED_OUT, ABORTED
        error = {
            "code": ErrorCode.INTERNAL_ERROR.value,
            "message": f"The execution ended {status} without a failure report.",
        }
    return DocumentResult(
        source=started.source,
        status="failed",
        outputs=(report_key,) if report is not None else (),
        error=error,
        bytes_in=started.size,
        bytes_out=0,
        pages=0,
        seconds=_seconds(description),
        execution_arn=started.arn,
        reported=report is not None,
    )


def document_result(
    started: Started, description: DescribeExecutionOutputTypeDef, s3: S3Client, bucket: str
) -> DocumentResult:
    """Returns how an ended execution's document ended (output, or failure report)."""
    if description["status"] == "SUCCEEDED":
        return _succeeded(started, description, s3, bucket)
    return _failed(started, description, s3, bucket)


def failed_attempts(sfn: SFNClient, execution_arn: str) -> tuple[tuple[str, str], ...]:
    """Returns ``(state, error)`` for each failed task attempt in an execution's history."""
    attempts: list[tuple[str, str]] = []
    state = ""
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        for event in page["events"]:
            entered = event.get("stateEnteredEventDetails")
            if entered is not None:
                state = entered["name"]
            failed = event.get("taskFailedEventDetails")
            if event["type"] == "TaskFailed" and failed is not None:
                attempts.append((state, str(failed.get("error", ""))))
    return tuple(attempts)


def download_bucket(
    s3: S3Client, bucket: str, out_dir: Path, prefixes: tuple[str, ...]
) -> set[str]:
    """Copies the objects under ``prefixes`` of ``bucket`` into ``out_dir``; returns their keys.

    Raises:
        RuntimeError: A key would be written outside ``out_dir``.
    """
    root = out_dir.resolve()
    keys: set[str] = set()
    for prefix in prefixes:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", ()):
                keys.add(_download(s3, bucket, item["Key"], root))
    return keys


def download_keys(s3: S3Client, bucket: str, keys: Sequence[str], out_dir: Path) -> None:
    """Copies the given keys of ``bucket`` into ``out_dir`` (mirroring the keys)."""
    root = out_dir.resolve()
    for key in keys:
        _download(s3, bucket, key, root)


def _download(s3: S3Client, bucket: str, key: str, root: Path) -> str:
    target = (root / key).resolve()
    if not target.is_relative_to(root) or key.endswith("/"):
        raise RuntimeError(f"output key {key!r} cannot be written under {root}")
    target.parent.mkdir(parents=True, exist_ok=True)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    tmp = target.with_name(f".tmp-{uuid.uuid4().hex}-{target.name}")
    with open(tmp, "wb") as handle:
        shutil.copyfileobj(body, handle)
    tmp.replace(target)
    return key
