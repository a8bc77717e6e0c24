"""The three handlers chained as the state machine chains them, against moto S3.

The state machine itself (Step Functions' retries, Catch, the failure step) runs in
tests/pipeline through the local runner; here each handler receives exactly the payload
the definition gives it, so the hand-offs through the EFS workspace are checked directly.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pypdf
import pytest

from functions import compress, ingest, transform
from functions.errors import StageError
from tests import docgen
from tests.conftest import OUTPUT_BUCKET, TRIGGER_BUCKET


def run_pipeline(
    s3: Any, key: str, body: bytes, job: str = "job-1", **extra: Any
) -> dict[str, Any]:
    s3.put_object(Bucket=TRIGGER_BUCKET, Key=key, Body=body)
    ingested = ingest.handler(
        {"input": {"bucket": TRIGGER_BUCKET, "key": key, **extra}, "job": job}, None
    )
    transformed = transform.handler({"ingest": ingested, "job": job}, None)
    return compress.handler({"action": "compress", "transform": transformed, "job": job}, None)


def output(s3: Any, key: str) -> bytes:
    return s3.get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read()


def pages(data: bytes) -> int:
    return len(pypdf.PdfReader(io.BytesIO(data)).pages)


def assert_workspace_empty(mount: Path) -> None:
    leftovers = list((mount / "jobs").iterdir()) if (mount / "jobs").exists() else []
    assert leftovers == [], f"workspace left behind: {leftovers}"


def test_a_text_pdf_is_published_with_text_and_manifest(s3: Any, mount: Path) -> None:
    """This test ensures that a PDF gives processed/S.pdf, .txt and a matching manifest."""
    source = docgen.text_pdf(["Invoice 42", "Terms and conditions", "Signature"])
    result = run_pipeline(s3, "inbox/invoice.pdf", source)
    assert result["outputs"] == [
        "processed/inbox/invoice.pdf.pdf",
        "processed/inbox/invoice.pdf.txt",
        "processed/inbox/invoice.pdf.json",
    ]
    assert pages(output(s3, "processed/inbox/invoice.pdf.pdf")) == 3
    text = output(s3, "processed/inbox/invoice.pdf.txt").decode()
    assert "Invoice 42" in text
    assert "Terms and conditions" in text
    manifest = json.loads(output(s3, "processed/inbox/invoice.pdf.json"))
    assert manifest["source"]["key"] == "inbox/invoice.pdf"
    assert manifest["source"]["size"] == len(source)
    assert manifest["source"]["type"] == "pdf"
    assert manifest["output"]["pages"] == 3
    assert manifest["output"]["size"] == len(output(s3, "processed/inbox/invoice.pdf.pdf"))
    assert (
        manifest["output"]["sha256"]
        == hashlib.sha256(output(s3, "processed/inbox/invoice.pdf.pdf")).hexdigest()
    )
    assert manifest["profile"] == "ebook"
    assert set(manifest["timings"]) == {"ingest", "transform", "compress"}
    head = s3.head_object(Bucket=OUTPUT_BUCKET, Key="processed/inbox/invoice.pdf.pdf")
    assert head["ContentType"] == "application/pdf"
    assert head["Metadata"]["source-key"] == "inbox/invoice.pdf"
    assert_workspace_empty(mount)


@pytest.mark.parametrize(
    ("key", "body", "expected_pages"),
    [
        ("scan.jpg", docgen.image_bytes("JPEG"), 1),
        ("photo.png", docgen.image_bytes("PNG", mode="RGBA"), 1),
        ("fax.tif", docgen.multipage_tiff(3), 3),
        ("chart.gif", docgen.image_bytes("GIF"), 1),
        ("paint.bmp", docgen.image_bytes("BMP"), 1),
        ("web.webp", docgen.image_bytes("WEBP"), 1),
    ],
)
def test_images_become_pdfs(
    s3: Any, mount: Path, key: str, body: bytes, expected_pages: int
) -> None:
    """This test ensures that each image type is published as a PDF with one page a frame."""
    result = run_pipeline(s3, key, body, profile="lossless")
    assert pages(output(s3, f"processed/{key}.pdf")) == expected_pages
    assert result["pages"] == expected_pages
    assert_workspace_empty(mount)


def test_a_bundle_publishes_each_member_and_a_bundle_manifest(s3: Any, mount: Path) -> None:
    """This test ensures that members are published separately and failures are listed."""
    bundle = docgen.zip_bundle(
        {"a.pdf": docgen.text_pdf(2), "scans/b.jpg": docgen.image_bytes("JPEG"), "c.txt": b"hello"}
    )
    result = run_pipeline(s3, "in/batch.zip", bundle)
    assert result["documents"] == 3
    assert result["failed_members"] == 1
    assert pages(output(s3, "processed/in/batch.zip!/a.pdf.pdf")) == 2
    assert pages(output(s3, "processed/in/batch.zip!/scans/b.jpg.pdf")) == 1
    summary = json.loads(output(s3, "processed/in/batch.zip.json"))
    assert [(m["name"], m["status"]) for m in summary["members"]] == [
        ("a.pdf", "succeeded"),
        ("scans/b.jpg", "succeeded"),
        ("c.txt", "failed"),
    ]
    assert summary["members"][2]["error"]["code"] == "UNSUPPORTED_TYPE"
    member = json.loads(output(s3, "processed/in/batch.zip!/scans/b.jpg.json"))
    assert member["source"]["member"] == "scans/b.jpg"
    assert_workspace_empty(mount)


def test_retried_stages_give_the_same_result(s3: Any, mount: Path) -> None:
    """This test ensures that running each stage twice (a retry) changes nothing."""
    s3.put_object(Bucket=TRIGGER_BUCKET, Key="r.pdf", Body=docgen.text_pdf(2))
    event = {"input": {"bucket": TRIGGER_BUCKET, "key": "r.pdf"}, "job": "job-r"}
    ingested = ingest.handler(event, None)
    assert ingest.handler(event, None) == ingested
    transformed = transform.handler({"ingest": ingested, "job": "job-r"}, None)
    assert transform.handler({"ingest": ingested, "job": "job-r"}, None) == transformed
    compress_event = {"action": "compress", "transform": transformed, "job": "job-r"}
    first = compress.handler(compress_event, None)
    # The response of the first attempt was lost: the retry finds the workspace gone.
    assert compress.handler(compress_event, None) == first
    versions = s3.list_object_versions(Bucket=OUTPUT_BUCKET, Prefix="processed/r.pdf.pdf")
    assert len(versions["Versions"]) == 1, "the retry published nothing twice"
    assert_workspace_empty(mount)


def test_a_document_error_leaves_the_workspace_for_the_failure_step(s3: Any, mount: Path) -> None:
    """This test ensures that a bad PDF fails transform with its code and that the failure
    step then cleans up the workspace."""
    with pytest.raises(StageError) as caught:
        run_pipeline(s3, "broken.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 50)
    assert type(caught.value).__name__ == "CORRUPT_DOCUMENT"
    assert (mount / "jobs" / "job-1").exists()
    compress.handler(
        {
            "action": "report_failure",
            "job": "job-1",
            "stage": "transform",
            "input": {"bucket": TRIGGER_BUCKET, "key": "broken.pdf"},
            "error": {
                "Error": "CORRUPT_DOCUMENT",
                "Cause": json.dumps(
                    {"errorType": "CORRUPT_DOCUMENT", "errorMessage": str(caught.value)}
                ),
            },
        },
        None,
    )
    report = json.loads(output(s3, "failed/broken.pdf.json"))
    assert report["error"]["code"] == "CORRUPT_DOCUMENT"
    assert_workspace_empty(mount)
    original = s3.get_object(Bucket=TRIGGER_BUCKET, Key="broken.pdf")["Body"].read()
    assert original.startswith(b"%PDF-1.7\n\x00garbage"), "the original is never altered"
