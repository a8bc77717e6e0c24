"""``DELETE /documents/{key}`` and ``POST /documents/{key}/retry``.

A delete removes what the pipeline made of a key (the PDF, text and manifest, a bundle's
member outputs, the failure report and the status document) and keeps the uploaded
original, unless asked to delete that too, in every version. The output bucket is
versioned: deleted outputs stay as noncurrent versions until the lifecycle rule expires
them (``noncurrentVersionDays``). A retry starts the pipeline again on the version the key's
status is about, with ``"rerun": true``: the input the exactly-once rules treat as a
deliberate new run (the same input ``python -m pipeline retry`` starts).
A document that is being processed can be neither deleted nor retried (``409``): its
execution would write outputs after the delete, or race the retry.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from functions.api.errors import ApiError, ApiErrorCode
from functions.api.settings import ApiSettings
from functions.api.uploads import iso
from functions.naming import FAILED, PROCESSED, outputs_of
from functions.status import KeyStatus, read_status, start_rerun

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

# DeleteObjects takes at most this many keys per request.
_DELETE_BATCH = 1000
_BUSY_STATES = ("pending", "processing")


def _refuse_busy(key: str, status: KeyStatus | None, action: str) -> None:
    if status is not None and status.state in _BUSY_STATES:
        raise ApiError(
            ApiErrorCode.DOCUMENT_BUSY,
            f"{key!r} is being processed ({status.stage or status.state}); {action} it "
            "once its status is succeeded or failed.",
        )


def _list_keys(s3: S3Client, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(entry["Key"] for entry in page.get("Contents", []))
    return keys


def _delete(s3: S3Client, bucket: str, objects: list[dict[str, str]]) -> None:
    for start in range(0, len(objects), _DELETE_BATCH):
        chunk = objects[start : start + _DELETE_BATCH]
        result = s3.delete_objects(
            Bucket=bucket,
            Delete={"Objects": chunk, "Quiet": True},  # type: ignore[typeddict-item]
        )
        errors = result.get("Errors") or []
        if errors:
            first = errors[0]
            raise RuntimeError(
                f"S3 refused to delete {len(errors)} object(s), first {first.get('Key')!r}: "
                f"{first.get('Code')}"
            )


def existing_outputs(s3: S3Client, bucket: str, key: str) -> list[str]:
    """Returns every object the pipeline wrote for ``key`` that exists now."""
    outputs = outputs_of(key)
    exact = {outputs.pdf, outputs.text, outputs.manifest, outputs.report, outputs.status}
    found: list[str] = []
    # One listing per top-level prefix finds the named outputs and a bundle's members
    # (which share the base's prefix) without a request per possible key.
    for prefix in (f"{PROCESSED}/{outputs.base}", f"{FAILED}/{outputs.base}", outputs.status):
        found.extend(
            candidate
            for candidate in _list_keys(s3, bucket, prefix)
            if candidate in exact or candidate.startswith(outputs.members_prefix)
        )
    return sorted(set(found))


def _original_versions(s3: S3Client, bucket: str, key: str) -> list[dict[str, str]]:
    versions: list[dict[str, str]] = []
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=key):
        entries = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        versions.extend(
            {"Key": key, "VersionId": entry.get("VersionId") or "null"}
            for entry in entries
            if entry["Key"] == key
        )
    return versions


@dataclass(frozen=True)
class DeleteResult:
    """What a delete removed."""

    key: str
    outputs: tuple[str, ...]
    original_versions: int | None

    def to_json(self) -> dict[str, Any]:
        """Returns the body of a delete that also removed the original."""
        return {
            "key": self.key,
            "deletedOutputs": list(self.outputs),
            "originalDeleted": self.original_versions is not None,
            "originalVersionsDeleted": self.original_versions or 0,
        }


def delete_document(
    s3: S3Client, settings: ApiSettings, key: str, *, original: bool
) -> DeleteResult:
    """Removes a key's outputs and reports, and with ``original`` every version of it.

    Raises:
        ApiError: ``DOCUMENT_BUSY`` while it is processed; ``NOT_FOUND`` when there is
            nothing to delete.
    """
    _refuse_busy(key, read_status(s3, settings.output_bucket, key), "delete")
    outputs = existing_outputs(s3, settings.output_bucket, key)
    versions = _original_versions(s3, settings.trigger_bucket, key) if original else []
    if not outputs and not versions:
        raise ApiError(ApiErrorCode.NOT_FOUND, f"No document {key!r}: nothing to delete.")
    # The status document goes last, on its own: should a delete fail half-way, the key
    # still reads as known and the delete can be repeated.
    status_key = outputs_of(key).status
    _delete(s3, settings.output_bucket, [{"Key": k} for k in outputs if k != status_key])
    if status_key in outputs:
        _delete(s3, settings.output_bucket, [{"Key": status_key}])
    if versions:
        _delete(s3, settings.trigger_bucket, versions)
    return DeleteResult(key, tuple(outputs), len(versions) if original else None)


def retry_document(
    s3: S3Client,
    sfn: SFNClient,
    settings: ApiSettings,
    key: str,
    now: datetime.datetime,
) -> dict[str, Any]:
    """Starts the pipeline again on ``key`` and returns the ``202`` body.

    Raises:
        ApiError: ``NOT_FOUND`` for a key without a status; ``DOCUMENT_BUSY`` while it
            is processed.
    """
    status = read_status(s3, settings.output_bucket, key)
    if status is None:
        raise ApiError(ApiErrorCode.NOT_FOUND, f"No document {key!r} to retry.")
    _refuse_busy(key, status, "retry")
    _, execution_arn = start_rerun(sfn, settings.state_machine_arn, settings.trigger_bucket, status)
    return {
        "key": key,
        "execution": execution_arn,
        "startedAt": iso(now),
        "previousState": status.state,
    }
