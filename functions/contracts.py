"""The typed contracts between the stages, and the documents docpipe publishes.

Each contract is a frozen dataclass with ``to_json()`` (the JSON form Step Functions
carries or S3 stores) and one parse function that checks a raw value and returns the
dataclass. The handlers, the runner, the CLI and the tests read states and documents
only through these (docs/ARCHITECTURE.md, "Stage contracts"). The published documents'
contracts live in :mod:`functions.manifests` and are re-exported here.

- :class:`ExecutionInput` (``parse_execution_input``): what starts a job.
- :class:`Source`: the source object version as ingest resolved and read it.
- :class:`IngestResult` (``parse_ingest_result``): Ingest -> Transform.
- :class:`TransformResult` (``parse_transform_result``): Transform -> Compress.
- :class:`CompressResult` (``parse_compress_result``): the job's output.
- :class:`DocumentManifest` (``parse_document_manifest``): ``processed/S.json``.
- :class:`BundleManifest` (``parse_bundle_manifest``): a bundle's ``processed/S.json``.
- :class:`FailureReport` (``parse_failure_report``): ``failed/S.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.errors import DocumentError, ErrorCode
from functions.manifests import (
    BundleManifest,
    BundleMember,
    DocumentManifest,
    FailureReport,
    parse_bundle_manifest,
    parse_document_manifest,
    parse_failure_report,
)
from functions.shapes import ContractError, number, required, text, to_object

__all__ = [
    "BundleManifest",
    "BundleMember",
    "CompressResult",
    "ContractError",
    "DocumentManifest",
    "ExecutionInput",
    "FailureReport",
    "IngestResult",
    "Source",
    "TransformResult",
    "parse_bundle_manifest",
    "parse_compress_result",
    "parse_document_manifest",
    "parse_execution_input",
    "parse_failure_report",
    "parse_ingest_result",
    "parse_source",
    "parse_transform_result",
]


@dataclass(frozen=True)
class ExecutionInput:
    """The execution input: which object to process, and how."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    sequencer: str | None = None
    profile: str | None = None
    rerun: bool = False

    def to_json(self) -> dict[str, Any]:
        """The input as the trigger or an operator writes it."""
        optional = {
            "versionId": self.version_id,
            "etag": self.etag,
            "size": self.size,
            "sequencer": self.sequencer,
            "profile": self.profile,
        }
        raw: dict[str, Any] = {"bucket": self.bucket, "key": self.key}
        raw.update((name, value) for name, value in optional.items() if value is not None)
        if self.rerun:
            raw["rerun"] = True
        return raw


def parse_execution_input(raw: Any) -> ExecutionInput:
    """Reads an execution input.

    Raises:
        DocumentError: ``SOURCE_NOT_FOUND`` when the input names no object.
    """
    if not isinstance(raw, dict):
        raise DocumentError(ErrorCode.SOURCE_NOT_FOUND, "The execution input is not a JSON object.")
    bucket, key = text(raw, "bucket"), text(raw, "key")
    if bucket is None or key is None:
        raise DocumentError(
            ErrorCode.SOURCE_NOT_FOUND,
            'The execution input must name the object with "bucket" and "key".',
        )
    size = raw.get("size")
    return ExecutionInput(
        bucket=bucket,
        key=key,
        version_id=text(raw, "versionId"),
        etag=text(raw, "etag"),
        size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        sequencer=text(raw, "sequencer"),
        profile=text(raw, "profile"),
        rerun=raw.get("rerun") is True,
    )


@dataclass(frozen=True)
class Source:
    """The source object version a job is about, as ingest resolved and read it."""

    bucket: str
    key: str
    version_id: str | None
    etag: str | None
    size: int
    sequencer: str | None = None
    sha256: str | None = None
    type: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``source`` object of states, manifests and reports."""
        raw: dict[str, Any] = {
            "bucket": self.bucket,
            "key": self.key,
            "versionId": self.version_id,
            "etag": self.etag,
            "size": self.size,
            "sequencer": self.sequencer,
        }
        if self.sha256 is not None:
            raw["sha256"] = self.sha256
        if self.type is not None:
            raw["type"] = self.type
        return raw


def parse_source(raw: Any) -> Source:
    """Reads a ``source`` object."""
    value = to_object(raw, "the source")
    return Source(
        bucket=required(value, "bucket", str, "the source"),
        key=required(value, "key", str, "the source"),
        version_id=text(value, "versionId"),
        etag=text(value, "etag"),
        size=number(value, "size"),
        sequencer=text(value, "sequencer"),
        sha256=text(value, "sha256"),
        type=text(value, "type"),
    )


@dataclass(frozen=True)
class IngestResult:
    """Ingest's result: the source, and where its manifest lies on the workspace.

    ``duplicate`` (the version is published or being processed by another job) and
    ``skipped`` (not a document: a console folder marker) end the job successfully.
    """

    job: str
    source: Source
    duplicate: bool = False
    skipped: bool = False
    reason: str | None = None
    profile: str | None = None
    bundle: bool = False
    documents: int = 0
    manifest: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The state Step Functions passes to Transform."""
        return {
            "job": self.job,
            "duplicate": self.duplicate,
            "skipped": self.skipped,
            "reason": self.reason,
            "source": self.source.to_json(),
            "profile": self.profile,
            "bundle": self.bundle,
            "documents": self.documents,
            "manifest": self.manifest,
        }


def parse_ingest_result(raw: Any) -> IngestResult:
    """Reads Ingest's result."""
    value = to_object(raw, "the ingest result")
    return IngestResult(
        job=required(value, "job", str, "the ingest result"),
        source=parse_source(value.get("source")),
        duplicate=value.get("duplicate") is True,
        skipped=value.get("skipped") is True,
        reason=text(value, "reason"),
        profile=text(value, "profile"),
        bundle=value.get("bundle") is True,
        documents=number(value, "documents"),
        manifest=text(value, "manifest"),
    )


@dataclass(frozen=True)
class TransformResult:
    """Transform's result: where the transformed documents' manifest lies."""

    job: str
    source: Source
    profile: str
    bundle: bool
    documents: int
    failed_members: int
    manifest: str

    def to_json(self) -> dict[str, Any]:
        """The state Step Functions passes to Compress."""
        return {
            "job": self.job,
            "source": self.source.to_json(),
            "profile": self.profile,
            "bundle": self.bundle,
            "documents": self.documents,
            "failed_members": self.failed_members,
            "manifest": self.manifest,
        }


def parse_transform_result(raw: Any) -> TransformResult:
    """Reads Transform's result."""
    value = to_object(raw, "the transform result")
    what = "the transform result"
    return TransformResult(
        job=required(value, "job", str, what),
        source=parse_source(value.get("source")),
        profile=required(value, "profile", str, what),
        bundle=value.get("bundle") is True,
        documents=number(value, "documents"),
        failed_members=number(value, "failed_members"),
        manifest=required(value, "manifest", str, what),
    )


@dataclass(frozen=True)
class CompressResult:
    """The job's result: ``succeeded``, or ``superseded`` when a newer version owns the key."""

    job: str
    status: str
    outputs: tuple[str, ...] = ()
    bytes_in: int = 0
    bytes_out: int = 0
    pages: int = 0
    documents: int = 0
    failed_members: int = 0

    def to_json(self) -> dict[str, Any]:
        """The execution's output."""
        return {
            "job": self.job,
            "status": self.status,
            "outputs": list(self.outputs),
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "pages": self.pages,
            "documents": self.documents,
            "failed_members": self.failed_members,
        }


def parse_compress_result(raw: Any) -> CompressResult:
    """Reads a job's result."""
    value = to_object(raw, "the compress result")
    outputs = value.get("outputs") or []
    return CompressResult(
        job=required(value, "job", str, "the compress result"),
        status=required(value, "status", str, "the compress result"),
        outputs=tuple(str(key) for key in outputs),
        bytes_in=number(value, "bytes_in"),
        bytes_out=number(value, "bytes_out"),
        pages=number(value, "pages"),
        documents=number(value, "documents"),
        failed_members=number(value, "failed_members"),
    )
