"""Ingest: bring the source object onto the workspace and say what it is.

The object is streamed from S3 to ``jobs/<job>/ingest/source`` in 1 MiB chunks (memory
stays flat whatever its size) while its SHA-256 is computed; the type is sniffed from the
content; a ZIP bundle is unpacked safely into ``ingest/members/``. A claim on the object
version makes a duplicate of a published version a no-op, and the key's status document
says ``processing`` once real work starts (docs/ARCHITECTURE.md, "Exactly once"). The
stage returns a small reference to ``ingest/manifest.json``, which lists the documents
for the next stage.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote_plus

from functions import archive, claims, commit
from functions.claims import Claimed
from functions.commit import SourceVersion
from functions.contracts import ExecutionInput, IngestResult, Source, parse_execution_input
from functions.errors import DocumentError, ErrorCode
from functions.handler import stage_handler
from functions.logs import StageLogger
from functions.settings import OCR_MODES, PROFILES, Settings, load_settings
from functions.sniff import sniff
from functions.transient import s3_client
from functions.workspace import Workspace, atomic_writer, write_json

_CHUNK = 1 << 20
PROFILE_METADATA = "docpipe-profile"
OCR_METADATA = "docpipe-ocr"
# S3 answers 403 rather than 404 for a missing key when the caller may not list the
# bucket, which is how the ingest role is scoped: both mean "not there for us".
_MISSING = {
    "404",
    "403",
    "NoSuchKey",
    "NoSuchVersion",
    "NoSuchBucket",
    "AccessDenied",
    "InvalidArgument",
}


@dataclass(frozen=True)
class SourceObject:
    """The object as S3 describes it, once the key is resolved."""

    bucket: str
    key: str
    version_id: str | None
    etag: str
    size: int
    metadata: dict[str, str]


def _error_code(err: Exception) -> str | None:
    response = getattr(err, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


def _head(s3: Any, ref: ExecutionInput, key: str) -> dict[str, Any] | None:
    """HeadObject of one candidate key; None when it names no readable object."""
    from botocore.exceptions import ClientError, ParamValidationError

    params: dict[str, Any] = {"Bucket": ref.bucket, "Key": key}
    if ref.version_id:
        params["VersionId"] = ref.version_id
    try:
        return dict(s3.head_object(**params))
    except ParamValidationError:
        raise DocumentError(
            ErrorCode.SOURCE_NOT_FOUND,
            f"{ref.bucket!r} is not a valid S3 bucket name, so it names no object.",
        ) from None
    except ClientError as err:
        if _error_code(err) in _MISSING:
            return None
        raise


def resolve_source(s3: Any, ref: ExecutionInput) -> SourceObject:
    """Finds the object, trying the key as given and then URL-decoded.

    S3 event notifications may carry keys URL-encoded (spaces as ``+``); a key that
    really contains ``+`` or ``%`` must still be found as given, hence both, in order.
    With only an ETag (no version id), the candidate whose ETag matches is the object.

    Raises:
        DocumentError: ``SOURCE_NOT_FOUND`` if neither key names a readable object, or the
            object was replaced after the event that names it.
    """
    candidates = [ref.key]
    decoded = unquote_plus(ref.key)
    if decoded != ref.key:
        candidates.append(decoded)
    replaced = None
    for key in candidates:
        head = _head(s3, ref, key)
        if head is None:
            continue
        etag = str(head.get("ETag", "")).strip('"')
        if ref.etag and not ref.version_id and ref.etag.strip('"') != etag:
            replaced = replaced or key
            continue
        return SourceObject(
            bucket=ref.bucket,
            key=key,
            version_id=head.get("VersionId") or ref.version_id,
            etag=etag,
            size=int(head["ContentLength"]),
            metadata={k.lower(): v for k, v in (head.get("Metadata") or {}).items()},
        )
    if replaced is not None:
        raise DocumentError(
            ErrorCode.SOURCE_NOT_FOUND,
            f"s3://{ref.bucket}/{replaced} was replaced after the event that named it; "
            "the newer object is processed by its own event.",
        )
    raise DocumentError(
        ErrorCode.SOURCE_NOT_FOUND,
        f"s3://{ref.bucket}/{ref.key} does not exist or docpipe may not read it.",
    )


def claim_digest(source: SourceObject, requested_profile: str | None) -> str:
    """Names the claim of one object version (one processing request for it).

    The profile asked for in the input is part of it: a duplicate event never carries
    one, and a deliberate re-run with another profile is a new request.
    """
    identity = [source.bucket, source.key, source.version_id or source.etag, requested_profile]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()


def download(s3: Any, source: SourceObject, destination: Path, max_bytes: int) -> str:
    """Streams the object to ``destination`` and returns its SHA-256.

    Raises:
        DocumentError: ``TOO_LARGE`` as soon as more than ``max_bytes`` arrive,
            ``SOURCE_NOT_FOUND`` if the object disappeared since it was resolved.
    """
    from botocore.exceptions import ClientError

    params: dict[str, Any] = {"Bucket": source.bucket, "Key": source.key}
    if source.version_id:
        params["VersionId"] = source.version_id
    else:
        params["IfMatch"] = source.etag
    try:
        body = s3.get_object(**params)["Body"]
    except ClientError as err:
        if _error_code(err) in (*_MISSING, "PreconditionFailed"):
            raise DocumentError(
                ErrorCode.SOURCE_NOT_FOUND,
                f"s3://{source.bucket}/{source.key} disappeared or changed while it was read.",
            ) from None
        raise
    digest = hashlib.sha256()
    received = 0
    with body, atomic_writer(destination) as target:
        for chunk in body.iter_chunks(_CHUNK):
            received += len(chunk)
            if received > max_bytes:
                raise _too_large(max_bytes)
            digest.update(chunk)
            target.write(chunk)
    return digest.hexdigest()


def _too_large(max_bytes: int) -> DocumentError:
    return DocumentError(
        ErrorCode.TOO_LARGE,
        f"The document is larger than {max_bytes} bytes, the most docpipe accepts.",
    )


def choose_profile(
    ref: ExecutionInput, source: SourceObject, default: str
) -> tuple[str, list[str]]:
    """Returns the profile (input, then object metadata, then default) and any warning."""
    for origin, value in (
        ("input", ref.profile),
        ("metadata", source.metadata.get(PROFILE_METADATA)),
    ):
        if value is None:
            continue
        if value in PROFILES:
            return value, []
        warning = (
            f"The {origin} asked for an unknown profile {value!r}; "
            f"the {default!r} profile was used."
        )
        return default, [warning]
    return default, []


def choose_ocr(ref: ExecutionInput, source: SourceObject, default: str) -> tuple[str, list[str]]:
    """Returns the OCR mode (input, then object metadata, then default) and any warning."""
    for origin, value in (("input", ref.ocr), ("metadata", source.metadata.get(OCR_METADATA))):
        if value is None:
            continue
        if value in OCR_MODES:
            return value, []
        return default, [
            f"The {origin} asked for an unknown OCR mode {value!r}; {default!r} was used."
        ]
    return default, []


def _documents(
    workspace: Workspace, source_path: Path, kind: str, name: str, settings: Settings
) -> list[dict[str, Any]]:
    """Lists the documents of a source: itself, or each member of a bundle."""
    if kind != "zip":
        document = {"name": name, "type": kind, "size": source_path.stat().st_size}
        return [{**document, "path": workspace.relative(source_path), "error": None}]
    members = archive.unpack(source_path, source_path.parent / "members", settings.limits)
    documents = []
    for member in members:
        entry: dict[str, Any] = {
            "name": member.name,
            "path": workspace.relative(member.path),
            "type": None,
            "size": member.size,
            "error": None,
        }
        try:
            entry["type"] = sniff(member.path)
        except DocumentError as err:
            entry["error"] = err.to_dict()
        documents.append(entry)
    return documents


def _is_folder_marker(source: SourceObject) -> bool:
    """The S3 console's "Create folder" writes an empty object whose key ends in ``/``."""
    return source.size == 0 and source.key.endswith("/")


def _ended(job: str, source: Source, *, duplicate: bool, reason: str) -> IngestResult:
    return IngestResult(
        job=job, source=source, duplicate=duplicate, skipped=not duplicate, reason=reason
    )


def _lease(event: dict[str, Any]) -> float:
    """How long this job's claim is trusted: the state machine says a shorter time for a
    job inside an Express execution (``claimLeaseSeconds``); anything else, the default."""
    asked = event.get("claimLeaseSeconds")
    if (
        isinstance(asked, int | float)
        and not isinstance(asked, bool)
        and 0 < asked < claims.CLAIM_LEASE_SECONDS
    ):
        return float(asked)
    return claims.CLAIM_LEASE_SECONDS


def ingest(event: dict[str, Any], s3: Any, settings: Settings, log: StageLogger) -> dict[str, Any]:
    """Runs the ingest stage for one execution; returns the state for the next stage."""
    started = time.monotonic()
    ref = parse_execution_input(event.get("input"))
    workspace = Workspace(settings.mount_path, str(event.get("job", "")))
    log = log.bind(key=ref.key, bucket=ref.bucket)

    source = resolve_source(s3, ref)
    described = Source(
        bucket=source.bucket,
        key=source.key,
        version_id=source.version_id,
        etag=source.etag,
        size=source.size,
        sequencer=ref.sequencer,
    )
    if _is_folder_marker(source):
        log.info("folder marker skipped: an empty object whose key ends in a slash")
        return _ended(workspace.job, described, duplicate=False, reason="folder marker").to_json()
    if source.size == 0:
        raise DocumentError(ErrorCode.EMPTY_DOCUMENT, "The document is empty (0 bytes).")
    if source.size > settings.limits.max_input_bytes:
        raise _too_large(settings.limits.max_input_bytes)
    profile, warnings = choose_profile(ref, source, settings.default_profile)
    digest = claim_digest(source, ref.profile)
    workspace.remember_claim(digest)
    outcome = claims.acquire(
        settings.mount_path, digest, workspace.job, rerun=ref.rerun, lease_seconds=_lease(event)
    )
    if outcome is not Claimed.CLAIMED:
        log.info(
            "duplicate event: the version is published or being processed", extra={"claim": outcome}
        )
        workspace.remove()
        return _ended(workspace.job, described, duplicate=True, reason=outcome.value).to_json()
    version = SourceVersion.of(described.to_json())
    if not commit.mark_processing(s3, settings, version, workspace.job, log, profile=profile):
        claims.settle(settings.mount_path, digest, workspace.job, "done")
        workspace.remove()
        return _ended(workspace.job, described, duplicate=False, reason="superseded").to_json()

    directory = workspace.reset_stage("ingest")
    source_path = directory / "source"
    sha256 = download(s3, source, source_path, settings.limits.max_input_bytes)
    kind = sniff(source_path)
    ocr, ocr_warnings = choose_ocr(ref, source, settings.ocr.mode)
    warnings = [*warnings, *ocr_warnings]
    documents = _documents(workspace, source_path, kind, PurePosixPath(source.key).name, settings)
    described = replace(described, sha256=sha256, type=kind)
    manifest = {
        "source": described.to_json(),
        "profile": profile,
        "ocr": ocr,
        "bundle": kind == "zip",
        "documents": documents,
        "warnings": warnings,
        "seconds": round(time.monotonic() - started, 3),
    }
    manifest_path = directory / "manifest.json"
    write_json(manifest_path, manifest)
    log.info(
        "document ingested", extra={"type": kind, "bytes": source.size, "documents": len(documents)}
    )
    return IngestResult(
        job=workspace.job,
        source=described,
        profile=profile,
        bundle=kind == "zip",
        documents=len(documents),
        manifest=workspace.relative(manifest_path),
    ).to_json()


@stage_handler("ingest")
def handler(event: dict[str, Any], log: StageLogger) -> dict[str, Any]:
    """Lambda entry point of the ingest function."""
    return ingest(event, s3_client(), load_settings(), log)
