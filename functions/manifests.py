"""The documents docpipe publishes: manifests and failure reports, typed.

Re-exported by :mod:`functions.contracts` (docs/ARCHITECTURE.md, "Stage contracts").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.shapes import ContractError, number, required, text, to_object


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
    value = to_object(raw, "the manifest")
    what = "the manifest"
    output = to_object(value.get("output"), "the manifest's output")
    required(output, "key", str, "the manifest's output")
    ratio = value.get("ratio")
    return DocumentManifest(
        source=to_object(value.get("source"), "the manifest's source"),
        output=output,
        profile=required(value, "profile", str, what),
        ratio=float(ratio) if isinstance(ratio, (int, float)) else None,
        compression=to_object(value.get("compression", {}), "the manifest's compression"),
        timings=to_object(value.get("timings", {}), "the manifest's timings"),
        warnings=tuple(str(w) for w in value.get("warnings") or ()),
        facts=to_object(value.get("facts", {}), "the manifest's facts"),
        job=required(value, "job", str, what),
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
    value = to_object(raw, "the bundle manifest")
    members = value.get("members")
    if not isinstance(members, list):
        raise ContractError("the bundle manifest has no members")
    parsed = []
    for member in members:
        entry = to_object(member, "a bundle member")
        error = entry.get("error")
        parsed.append(
            BundleMember(
                name=required(entry, "name", str, "a bundle member"),
                status=required(entry, "status", str, "a bundle member"),
                outputs=tuple(str(key) for key in entry.get("outputs") or ()),
                error=error if isinstance(error, dict) else None,
            )
        )
    return BundleManifest(
        source=to_object(value.get("source"), "the bundle manifest's source"),
        profile=required(value, "profile", str, "the bundle manifest"),
        members=tuple(parsed),
        bytes_in=number(value, "bytes_in"),
        bytes_out=number(value, "bytes_out"),
        pages=number(value, "pages"),
        job=required(value, "job", str, "the bundle manifest"),
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
    value = to_object(raw, "the failure report")
    error = to_object(value.get("error"), "the failure report's error")
    return FailureReport(
        source=to_object(value.get("source", {}), "the failure report's source"),
        stage=str(value.get("stage", "unknown")),
        code=required(error, "code", str, "the failure report's error"),
        message=required(error, "message", str, "the failure report's error"),
        job=str(value.get("job", "")),
        time=str(value.get("time", "")),
        execution=text(value, "execution"),
    )
