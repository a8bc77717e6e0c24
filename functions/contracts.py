"""The typed contracts between the stages, and the documents docpipe publishes.

Each contract is a frozen dataclass with ``to_json()`` (the JSON form Step Functions
carries or S3 stores) and one parse function that checks a raw value and returns the
dataclass. The handlers, the runner, the CLI and the tests read states and documents
only through these (docs/ARCHITECTURE.md, "Stage contracts").

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


class ContractError(ValueError):
    """A value does not have the shape of its contract."""


def _object(raw: Any, what: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ContractError(f"{what} is not a JSON object")
    return raw


def _text(raw: dict[str, Any], name: str) -> str | None:
    value = raw.get(name)
    return value if isinstance(value, str) and value else None


def _required(raw: dict[str, Any], name: str, kind: type, what: str) -> Any:
    value = raw.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ContractError(f"{what} has no valid {name!r}")
    return value


def _number(raw: dict[str, Any], name: str) -> int:
    value = raw.get(name, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


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
    bucket, key = _text(raw, "bucket"), _text(raw, "key")
    if bucket is None or key is None:
        raise DocumentError(
            ErrorCode.SOURCE_NOT_FOUND,
            'The execution input must name the object with "bucket" and "key".',
        )
    size = raw.get("size")
    return ExecutionInput(
        bucket=bucket,
        key=key,
        version_id=_text(raw, "versionId"),
        etag=_text(raw, "etag"),
        size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        sequencer=_text(raw, "sequencer"),
        profile=_text(raw, "profile"),
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
    value = _object(raw, "the source")
    return Source(
        bucket=_required(value, "bucket", str, "the source"),
        key=_required(value, "key", str, "the source"),
        version_id=_text(value, "versionId"),
        etag=_text(value, "etag"),
        size=_number(value, "size"),
        sequencer=_text(value, "sequencer"),
        sha256=_text(value, "sha256"),
        type=_text(value, "type"),
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
    value = _object(raw, "the ingest result")
    return IngestResult(
        job=_required(value, "job", str, "the ingest result"),
        source=parse_source(value.get("source")),
        duplicate=value.get("duplicate") is True,
        skipped=value.get("skipped") is True,
        reason=_text(value, "reason"),
        profile=_text(value, "profile"),
        bundle=value.get("bundle") is True,
        documents=_number(value, "documents"),
        manifest=_text(value, "manifest"),
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
    value = _object(raw, "the transform result")
    what = "the transform result"
    return TransformResult(
        job=_required(value, "job", str, what),
        source=parse_source(value.get("source")),
        profile=_required(value, "profile", str, what),
        bundle=value.get("bundle") is True,
        documents=_number(value, "documents"),
        failed_members=_number(value, "failed_members"),
        manifest=_required(value, "manifest", str, what),
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
    value = _object(raw, "the compress result")
    outputs = value.get("outputs") or []
    return CompressResult(
        job=_required(value, "job", str, "the compress result"),
        status=_required(value, "status", str, "the compress result"),
        outputs=tuple(str(key) for key in outputs),
        bytes_in=_number(value, "bytes_in"),
        bytes_out=_number(value, "bytes_out"),
        pages=_number(value, "pages"),
        documents=_number(value, "documents"),
        failed_members=_number(value, "failed_members"),
    )


@dataclass(frozen=True)
class DocumentManifest:
    """``processed/S.json``: one published document, written after its PDF and text."""

    source: dict[str, Any]
    output: dict[str, Any]
    profile: str
    ratio: float | None
    compression: dict[str, Any]
    timings: dict[str, float]
    warnings: tuple[str, ...]
    facts: dict[str, Any]
    job: str

    def to_json(self) -> dict[str, Any]:
        """The manifest as published."""
        return {
            "source": self.source,
            "output": self.output,
            "profile": self.profile,
            "ratio": self.ratio,
            "compression": self.compression,
            "timings": self.timings,
            "warnings": list(self.warnings),
            "facts": self.facts,
            "job": self.job,
        }


def parse_document_manifest(raw: Any) -> DocumentManifest:
    """Reads a published document manifest."""
    value = _object(raw, "the manifest")
    what = "the manifest"
    output = _object(value.get("output"), "the manifest's output")
    _required(output, "key", str, "the manifest's output")
    ratio = value.get("ratio")
    return DocumentManifest(
        source=_object(value.get("source"), "the manifest's source"),
        output=output,
        profile=_required(value, "profile", str, what),
        ratio=float(ratio) if isinstance(ratio, (int, float)) else None,
        compression=_object(value.get("compression", {}), "the manifest's compression"),
        timings=_object(value.get("timings", {}), "the manifest's timings"),
        warnings=tuple(str(w) for w in value.get("warnings") or ()),
        facts=_object(value.get("facts", {}), "the manifest's facts"),
        job=_required(value, "job", str, what),
    )


@dataclass(frozen=True)
class BundleMember:
    """One member in a bundle manifest."""

    name: str
    status: str
    outputs: tuple[str, ...] = ()
    error: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        """The member as listed in the bundle manifest."""
        return {
            "name": self.name,
            "status": self.status,
            "outputs": list(self.outputs),
            "error": self.error,
        }


@dataclass(frozen=True)
class BundleManifest:
    """A bundle's ``processed/S.json``, written after every member's outputs."""

    source: dict[str, Any]
    profile: str
    members: tuple[BundleMember, ...]
    bytes_in: int
    bytes_out: int
    pages: int
    job: str

    @property
    def succeeded(self) -> int:
        """Members published."""
        return sum(1 for member in self.members if member.status == "succeeded")

    def to_json(self) -> dict[str, Any]:
        """The bundle manifest as published."""
        return {
            "source": self.source,
            "profile": self.profile,
            "members": [member.to_json() for member in self.members],
            "succeeded": self.succeeded,
            "failed": len(self.members) - self.succeeded,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "pages": self.pages,
            "job": self.job,
        }


def parse_bundle_manifest(raw: Any) -> BundleManifest:
    """Reads a published bundle manifest."""
    value = _object(raw, "the bundle manifest")
    members = value.get("members")
    if not isinstance(members, list):
        raise ContractError("the bundle manifest has no members")
    parsed = []
    for member in members:
        entry = _object(member, "a bundle member")
        error = entry.get("error")
        parsed.append(
            BundleMember(
                name=_required(entry, "name", str, "a bundle member"),
                status=_required(entry, "status", str, "a bundle member"),
                outputs=tuple(str(key) for key in entry.get("outputs") or ()),
                error=error if isinstance(error, dict) else None,
            )
        )
    return BundleManifest(
        source=_object(value.get("source"), "the bundle manifest's source"),
        profile=_required(value, "profile", str, "the bundle manifest"),
        members=tuple(parsed),
        bytes_in=_number(value, "bytes_in"),
        bytes_out=_number(value, "bytes_out"),
        pages=_number(value, "pages"),
        job=_required(value, "job", str, "the bundle manifest"),
    )


@dataclass(frozen=True)
class FailureReport:
    """``failed/S.json``: why a document failed, in a code and a sentence."""

    source: dict[str, Any]
    stage: str
    code: str
    message: str
    job: str
    time: str
    execution: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The report as published."""
        return {
            "source": self.source,
            "stage": self.stage,
            "error": {"code": self.code, "message": self.message},
            "execution": self.execution,
            "job": self.job,
            "time": self.time,
        }


def parse_failure_report(raw: Any) -> FailureReport:
    """Reads a published failure report."""
    value = _object(raw, "the failure report")
    error = _object(value.get("error"), "the failure report's error")
    return FailureReport(
        source=_object(value.get("source", {}), "the failure report's source"),
        stage=str(value.get("stage", "unknown")),
        code=_required(error, "code", str, "the failure report's error"),
        message=_required(error, "message", str, "the failure report's error"),
        job=str(value.get("job", "")),
        time=str(value.get("time", "")),
        execution=_text(value, "execution"),
    )
