"""The typed contracts: each parses what its to_json() writes, and refuses other shapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from functions.contracts import (
    BundleManifest,
    BundleMember,
    CompressResult,
    ContractError,
    ExecutionInput,
    FailureReport,
    IngestResult,
    Source,
    TransformResult,
    parse_bundle_manifest,
    parse_compress_result,
    parse_document_manifest,
    parse_execution_input,
    parse_failure_report,
    parse_ingest_result,
    parse_transform_result,
)
from functions.errors import DocumentError
from tests import docgen
from tests.jobs import Job, body, upload

SOURCE = Source("trigger", "in/a.pdf", "v1", "e1", 10, "00A1", "ff", "pdf")


def test_every_state_round_trips() -> None:
    """Each state parses back to itself from its JSON form."""
    execution = ExecutionInput("trigger", "in/a.pdf", "v1", "e1", 10, "00A1", "screen", True)
    assert parse_execution_input(execution.to_json()) == execution
    ingested = IngestResult("job", SOURCE, profile="ebook", documents=1, manifest="jobs/job/m")
    assert parse_ingest_result(ingested.to_json()) == ingested
    transformed = TransformResult("job", SOURCE, "ebook", True, 3, 1, "jobs/job/t")
    assert parse_transform_result(transformed.to_json()) == transformed
    compressed = CompressResult("job", "succeeded", ("a", "b"), 10, 5, 2, 1, 0)
    assert parse_compress_result(compressed.to_json()) == compressed
    bundle = BundleManifest(
        {"key": "b.zip"}, "ebook", (BundleMember("a.pdf", "succeeded", ("x",)),), 1, 2, 3, "j"
    )
    assert parse_bundle_manifest(bundle.to_json()) == bundle
    report = FailureReport({"key": "a"}, "ingest", "TOO_LARGE", "Too big.", "j", "t", "arn")
    assert parse_failure_report(report.to_json()) == report


@pytest.mark.parametrize(
    "raw", [None, [], {"bucket": "b"}, {"key": "k"}, {"bucket": 1, "key": "k"}]
)
def test_an_input_naming_no_object_is_source_not_found(raw: Any) -> None:
    """A malformed execution input is a document error, not a crash."""
    with pytest.raises(DocumentError) as caught:
        parse_execution_input(raw)
    assert caught.value.code == "SOURCE_NOT_FOUND"


@pytest.mark.parametrize(
    ("parse", "raw"),
    [
        (parse_ingest_result, {"job": "j"}),
        (parse_transform_result, {"job": "j", "source": {"bucket": "b", "key": "k"}}),
        (parse_compress_result, {"status": "succeeded"}),
        (parse_bundle_manifest, {"source": {}, "profile": "ebook", "job": "j"}),
        (parse_failure_report, {"error": {"code": 1}}),
        (parse_document_manifest, "not an object"),
    ],
)
def test_other_shapes_are_refused(parse: Any, raw: Any) -> None:
    """A value missing what its contract needs raises ContractError."""
    with pytest.raises(ContractError):
        parse(raw)


def test_published_documents_parse_as_their_contracts(s3: Any, mount: Path) -> None:
    """The manifest and the report the handlers publish parse."""
    Job("job-ok", upload(s3, "ok.pdf", docgen.text_pdf(2))).run()
    manifest = parse_document_manifest(json.loads(body(s3, "processed/ok.pdf.json")))
    assert (manifest.output["pages"], manifest.job) == (2, "job-ok")
    Job("job-bad", upload(s3, "bad.pdf", b"%PDF-1.7\n\x00junk")).run()
    report = parse_failure_report(json.loads(body(s3, "failed/bad.pdf.json")))
    assert (report.code, report.stage) == ("CORRUPT_DOCUMENT", "transform")
