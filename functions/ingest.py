"""Ingest: bring the source object onto the workspace and say what it is.

The object is streamed from S3 to ``jobs/<job>/ingest/source`` in 1 MiB chunks (memory
stays flat whatever its size) while its SHA-256 is computed; the type is sniffed from the
content; a ZIP bundle is unpacked safely into ``ingest/members/``. A claim on the object
version makes a duplicate event a no-op. The stage returns a small reference to
``ingest/manifest.json``, which lists the documents for the next stage.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from functions import archive
from functions.errors import DocumentError, ErrorCode
from functions.handler import stage_handler
from functions.logs import StageLogger
from functions.settings import OCR_MODES, PROFILES, Settings, load_settings
from functions.sniff import sniff
from functions.workspace import Workspace, atomic_writer, claim, write_json

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
class SourceRef:
    """The execution input: which object to process, and how."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    profile: str | None = None
    ocr: str | None = None

    @classmethod
    def parse(cls, raw: Any) -> SourceRef:
        """Reads the execution input of DESIGN section 3.

        Raises:
            DocumentError: ``SOURCE_NOT_FOUND`` when the input names no object.
        """
        if not isinstance(raw, dict):
            raise DocumentError(
                ErrorCode.SOURCE_NOT_FOUND, "The execution input is not a JSON object."
            )
        bucket, key = raw.get("bucket"), raw.get("key")
        if not (isinstance(bucket, str) and bucket and isinstance(key, str) and key):
            raise DocumentError(
                ErrorCode.SOURCE_NOT_FOUND,
                'The execution input must name the object with "bucket" and "key".',
            )

        def text(name: str) -> str | None:
            value = raw.get(name)
            return value if isinstance(value, str) and value else None

        size = raw.get("size")
        return cls(
            bucket=bucket,
            key=key,
            version_id=text("versionId"),
            etag=text("etag"),
            size=size if isinstance(size, int) and not isinstance(size, bool) else None,
            profile=text("profile"),
            ocr=text("ocr"),
        )


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


def resolve_source(s3: Any, ref: SourceRef) -> SourceObject:
    """Finds the object, trying the key as given and then URL-decoded.

    S3 event notifications may carry keys URL-encoded (spaces as ``+``); a key that
    really contains ``+`` or ``%`` must still be found as given, hence both, in order.

    Raises:
        DocumentError: ``SOURCE_NOT_FOUND`` if neither key names a readable object, or the
            object was replaced after the event that names it.
    """
    from botocore.exceptions import ClientError

    candidates = [ref.key]
    decoded = unquote_plus(ref.key)
    if decoded != ref.key:
        candidates.append(decoded)
    for key in candidates:
        params: dict[str, Any] = {"Bucket": ref.bucket, "Key": key}
        if ref.version_id:
            params["VersionId"] = ref.version_id
        try:
            head = s3.head_object(**params)
        except ClientError as err:
            if _error_code(err) in _MISSING:
                continue
            raise
        etag = str(head.get("ETag", "")).strip('"')
        if ref.etag and not ref.version_id and ref.etag.strip('"') != etag:
            raise DocumentError(
                ErrorCode.SOURCE_NOT_FOUND,
                f"s3://{ref.bucket}/{key} was replaced after the event that named it; "
                "the newer object is processed by its own event.",
            )
        return SourceObject(
            bucket=ref.bucket,
            key=key,
            version_id=head.get("VersionId") or ref.version_id,
            etag=etag,
            size=int(head["ContentLength"]),
            metadata={k.lower(): v for k, v in (head.get("Metadata") or {}).items()},
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


def choose_profile(ref: SourceRef, source: SourceObject, default: str) -> tuple[str, list[str]]:
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


def choose_ocr(ref: SourceRef, source: SourceObject, default: str) -> tuple[str, list[str]]:
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
        return [
            {
                "slot": "",
                "name": name,
                "path": workspace.relative(source_path),
                "type": kind,
                "size": source_path.stat().st_size,
                "error": None,
            }
        ]
    members = archive.unpack(source_path, source_path.parent / "members", settings.limits)
    documents = []
    for member in members:
        entry: dict[str, Any] = {
            "slot": member.path.name,
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


def ingest(event: dict[str, Any], s3: Any, settings: Settings, log: StageLogger) -> dict[str, Any]:
    """Runs the ingest stage for one execution; returns the state for the next stage."""
    started = time.monotonic()
    ref = SourceRef.parse(event.get("input"))
    workspace = Workspace(settings.mount_path, str(event.get("job", "")))
    directory = workspace.reset_stage("ingest")
    log = log.bind(key=ref.key, bucket=ref.bucket)

    source = resolve_source(s3, ref)
    if source.size == 0:
        raise DocumentError(ErrorCode.EMPTY_DOCUMENT, "The document is empty (0 bytes).")
    if source.size > settings.limits.max_input_bytes:
        raise _too_large(settings.limits.max_input_bytes)
    described = {
        "bucket": source.bucket,
        "key": source.key,
        "versionId": source.version_id,
        "etag": source.etag,
        "size": source.size,
    }
    if not claim(settings.mount_path, claim_digest(source, ref.profile), workspace.job):
        log.info("duplicate event: another job claimed this object version")
        workspace.remove()
        return {"job": workspace.job, "duplicate": True, "source": described}

    source_path = directory / "source"
    sha256 = download(s3, source, source_path, settings.limits.max_input_bytes)
    kind = sniff(source_path)
    profile, warnings = choose_profile(ref, source, settings.default_profile)
    ocr, ocr_warnings = choose_ocr(ref, source, settings.ocr.mode)
    warnings += ocr_warnings
    documents = _documents(workspace, source_path, kind, Path(source.key).name, settings)
    described.update(sha256=sha256, type=kind)
    manifest = {
        "source": described,
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
    return {
        "job": workspace.job,
        "duplicate": False,
        "source": described,
        "profile": profile,
        "bundle": kind == "zip",
        "documents": len(documents),
        "manifest": workspace.relative(manifest_path),
    }


@functools.cache
def s3_client() -> Any:
    """The S3 client, created once per execution environment (boto3 imported lazily)."""
    import boto3

    return boto3.client("s3")


@stage_handler("ingest")
def handler(event: dict[str, Any], log: StageLogger) -> dict[str, Any]:
    """Lambda entry point of the ingest function."""
    return ingest(event, s3_client(), load_settings(), log)
