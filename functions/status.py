"""The status of a source key: one small JSON document per key in the output bucket.

``status/S.json`` (see :mod:`functions.naming`) says what became of the newest version of
the key ``K``: ``processing`` (with the stage and the execution), ``succeeded`` (outputs,
pages, ratio), or ``failed`` (code, message, stage, report). Any tool reads it with one
GetObject, without listing executions; it costs nothing while idle. The pipeline writes
it (docs/ARCHITECTURE.md, "Status per key" says when and how races are settled); the CLI,
the HTTP API and the local runner read it through :func:`read_status`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

from functions.naming import outputs_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

State = Literal["pending", "processing", "succeeded", "failed"]
STATES: tuple[State, ...] = ("pending", "processing", "succeeded", "failed")


@dataclass(frozen=True)
class StatusError:
    """Why a document failed: the stable code and a sentence for a person."""

    code: str
    message: str


@dataclass(frozen=True)
class KeyStatus:
    """The status document of one source key, for its newest version.

    Attributes:
        key: The source key ``K``.
        state: ``pending``, ``processing``, ``succeeded`` or ``failed``.
        updated: When this status was written (ISO 8601, UTC).
        version_id: The source object version the status is about (None when unversioned).
        etag: The source object's ETag.
        sequencer: The S3 event sequencer of that version, when the event carried one
            (hex; a longer or greater value is a newer write of the key).
        execution: The execution (job id) that wrote this status.
        stage: The stage running (``processing``) or the stage that failed.
        profile: The compression profile.
        outputs: Output keys, the manifest last (``succeeded``).
        manifest: The manifest's key (``succeeded``).
        pages: Pages published (``succeeded``).
        ratio: Output bytes over input bytes (``succeeded``).
        error: Code and message (``failed``).
        report: The failure report's key (``failed``).
    """

    key: str
    state: State
    updated: str
    version_id: str | None = None
    etag: str | None = None
    sequencer: str | None = None
    execution: str | None = None
    stage: str | None = None
    profile: str | None = None
    outputs: tuple[str, ...] = field(default_factory=tuple)
    manifest: str | None = None
    pages: int | None = None
    ratio: float | None = None
    error: StatusError | None = None
    report: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Returns the JSON form (camelCase keys, as every document docpipe publishes)."""
        raw = asdict(self)
        return {
            "key": raw["key"],
            "state": raw["state"],
            "updated": raw["updated"],
            "versionId": raw["version_id"],
            "etag": raw["etag"],
            "sequencer": raw["sequencer"],
            "execution": raw["execution"],
            "stage": raw["stage"],
            "profile": raw["profile"],
            "outputs": list(raw["outputs"]),
            "manifest": raw["manifest"],
            "pages": raw["pages"],
            "ratio": raw["ratio"],
            "error": raw["error"],
            "report": raw["report"],
        }

    @classmethod
    def from_json(cls, raw: Any) -> KeyStatus:
        """Parses a status document.

        Raises:
            ValueError: The document is not a status document.
        """
        if not isinstance(raw, dict) or raw.get("state") not in STATES:
            raise ValueError("not a docpipe status document")
        error = raw.get("error")
        return cls(
            key=str(raw["key"]),
            state=cast(State, raw["state"]),
            updated=str(raw.get("updated", "")),
            version_id=raw.get("versionId"),
            etag=raw.get("etag"),
            sequencer=raw.get("sequencer"),
            execution=raw.get("execution"),
            stage=raw.get("stage"),
            profile=raw.get("profile"),
            outputs=tuple(raw.get("outputs") or ()),
            manifest=raw.get("manifest"),
            pages=raw.get("pages"),
            ratio=raw.get("ratio"),
            error=StatusError(str(error["code"]), str(error["message"]))
            if isinstance(error, dict)
            else None,
            report=raw.get("report"),
        )


def status_key(source_key: str) -> str:
    """Returns ``status/S.json``, where the status of ``source_key`` lives."""
    return outputs_of(source_key).status


def read_status(s3: S3Client, bucket: str, source_key: str) -> KeyStatus | None:
    """Reads the status of a source key; None when the key has none (never seen).

    Raises:
        botocore.exceptions.ClientError: S3 refused for another reason than a missing key.
    """
    try:
        body = s3.get_object(Bucket=bucket, Key=status_key(source_key))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return KeyStatus.from_json(json.loads(body))


def rerun_input(bucket: str, status: KeyStatus) -> dict[str, Any]:
    """Returns the execution input that re-runs the version ``status`` is about."""
    execution_input: dict[str, Any] = {"bucket": bucket, "key": status.key, "rerun": True}
    if status.version_id:
        execution_input["versionId"] = status.version_id
    if status.etag:
        execution_input["etag"] = status.etag
    return execution_input


def start_rerun(
    sfn: SFNClient, state_machine_arn: str, bucket: str, status: KeyStatus
) -> tuple[str, str]:
    """Starts the pipeline again on the version ``status`` is about, with ``"rerun":
    true`` (docs/ARCHITECTURE.md, "Exactly once"): the HTTP API's retry and
    ``python -m pipeline retry`` both start re-runs this way.

    Returns:
        The execution's name (the re-run's job id, which its status will carry) and ARN.

    Raises:
        botocore.exceptions.ClientError: Step Functions refused to start it.
    """
    # Named as the trigger names executions: the name is the job id of the re-run.
    name = str(uuid.uuid4())
    started = sfn.start_execution(
        stateMachineArn=state_machine_arn,
        name=name,
        input=json.dumps(rerun_input(bucket, status)),
    )
    return name, started["executionArn"]
