"""OCR inside the pipeline: the handlers chained as the state machine chains them."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pypdf
import pytest
from PIL import Image

from functions import compress, ingest, transform
from tests import docgen, scangen
from tests.conftest import OUTPUT_BUCKET, TRIGGER_BUCKET


def transformed(s3: Any, key: str, body: bytes, job: str, **extra: Any) -> dict[str, Any]:
    s3.put_object(Bucket=TRIGGER_BUCKET, Key=key, Body=body)
    ingested = ingest.handler(
        {"input": {"bucket": TRIGGER_BUCKET, "key": key, **extra}, "job": job}, None
    )
    return transform.handler({"ingest": ingested, "job": job}, None)


def fan_out(state: dict[str, Any], job: str) -> dict[str, Any]:
    """Runs the Map state's items and the merge, as the state machine does."""
    for item in state["ocr"]:
        transform.handler({"action": "ocr", "job": job, "item": item}, None)
    return transform.handler({"action": "ocr_merge", "job": job, "transform": state}, None)


def published(s3: Any, state: dict[str, Any], job: str) -> dict[str, str]:
    """Compresses and publishes; returns the output keys by suffix (pdf, txt, json)."""
    result = compress.handler({"action": "compress", "transform": state, "job": job}, None)
    return {key.rsplit(".", 1)[1]: key for key in result["outputs"]}


def output(s3: Any, key: str) -> bytes:
    return s3.get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read()


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def pdftotext(data: bytes, tmp_path: Path) -> str | None:
    """The text poppler's pdftotext reads, or None where poppler-utils is not installed."""
    if shutil.which("pdftotext") is None:
        return None
    path = tmp_path / "published.pdf"
    path.write_bytes(data)
    done = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True)
    return done.stdout.decode("utf-8")


#: Scans as uploaded: a PNG, and a PDF of a JBIG2 image (most archival scans), which
#: pikepdf cannot decode on Lambda (``no_jbig2dec``) and once failed with INTERNAL_ERROR.
SCANS: dict[str, Callable[[Image.Image], bytes]] = {
    "scan.png": scangen.image_file,
    "scan.pdf": scangen.jbig2_pdf,
}


@pytest.mark.usefixtures("no_jbig2dec")
@pytest.mark.parametrize("key", sorted(SCANS))
@pytest.mark.parametrize("profile", ["lossless", "ebook", "screen"])
def test_a_scan_is_published_searchable_in_every_profile(
    s3: Any, ocr_mount: Path, profile: str, key: str, tmp_path: Path
) -> None:
    """This test ensures that a scanned PNG or JBIG2 PDF becomes a PDF whose text layer
    (after compression with the profile) and .txt hold the scan's words, with per-page
    OCR records in the manifest."""
    lines = scangen.page_lines(11)
    body = SCANS[key](scangen.scan_image(lines))
    keys = published(s3, transformed(s3, key, body, "job-1", profile=profile), "job-1")
    expected = " ".join(lines)
    assert scangen.word_recall(expected, output(s3, keys["txt"]).decode()) >= 0.98
    assert scangen.word_recall(expected, pdf_text(output(s3, keys["pdf"]))) >= 0.98
    poppler = pdftotext(output(s3, keys["pdf"]), tmp_path)
    assert poppler is None or scangen.word_recall(expected, poppler) >= 0.98
    manifest = json.loads(output(s3, keys["json"]))
    ocr = manifest["facts"]["ocr"]
    assert ocr["mode"] == "auto"
    assert ocr["pages_ocr"] == 1
    [page] = ocr["pages"]
    assert page["ocr"] is True
    assert page["language"] == "eng"
    assert page["confidence"] > 80
    assert page["seconds"] > 0


def test_a_pdf_with_text_is_not_ocrd(s3: Any, ocr_mount: Path) -> None:
    """This test ensures that a PDF whose pages carry text is published without OCR."""
    state = transformed(s3, "invoice.pdf", docgen.text_pdf(["Invoice 42", "Terms"]), "job-2")
    assert "ocr" not in state
    keys = published(s3, state, "job-2")
    manifest = json.loads(output(s3, keys["json"]))
    assert "ocr" not in manifest["facts"]
    assert output(s3, keys["txt"]).decode() == "Invoice 42\fTerms"


def test_ocr_off_in_the_object_metadata_leaves_a_scan_without_text(
    s3: Any, ocr_mount: Path
) -> None:
    """This test ensures that docpipe-ocr: off on the object turns OCR off for it."""
    body = scangen.image_file(scangen.scan_image(scangen.page_lines(12)))
    s3.put_object(Bucket=TRIGGER_BUCKET, Key="s.png", Body=body, Metadata={"docpipe-ocr": "off"})
    ingested = ingest.handler(
        {"input": {"bucket": TRIGGER_BUCKET, "key": "s.png"}, "job": "j3"}, None
    )
    keys = published(s3, transform.handler({"ingest": ingested, "job": "j3"}, None), "j3")
    assert "txt" not in keys
    assert "ocr" not in json.loads(output(s3, keys["json"]))["facts"]


def test_fan_out_gives_the_same_text_as_one_invocation(
    s3: Any, ocr_mount: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This test ensures that a scan read in page ranges by several invocations and
    merged gives the same text and text layer as one invocation reading it all."""
    images = [
        scangen.scan_image(scangen.page_lines(seed, 3), height_inches=1.5) for seed in (21, 22, 23)
    ]
    body = scangen.image_pdf(images)
    inline = transformed(s3, "one.pdf", body, "job-inline")
    assert "ocr" not in inline
    one = published(s3, inline, "job-inline")
    monkeypatch.setenv("OCR_PAGES_PER_INVOCATION", "1")
    state = transformed(s3, "many.pdf", body, "job-fan")
    assert [item["pages"] for item in state["ocr"]] == [[1], [2], [3]]
    merged = fan_out(state, "job-fan")
    assert "ocr" not in merged
    many = published(s3, merged, "job-fan")
    assert output(s3, many["txt"]) == output(s3, one["txt"])
    assert pdf_text(output(s3, many["pdf"])) == pdf_text(output(s3, one["pdf"]))
    for seed, page in zip((21, 22, 23), output(s3, many["txt"]).decode().split("\f"), strict=True):
        assert scangen.word_recall(" ".join(scangen.page_lines(seed, 3)), page) >= 0.98
    assert not (ocr_mount / "jobs").exists() or list((ocr_mount / "jobs").iterdir()) == []


def test_without_models_a_scan_is_published_with_a_warning(s3: Any, mount: Path) -> None:
    """This test ensures that a scan is still published when the models are missing, and
    its manifest says which model to provision."""
    body = scangen.image_file(scangen.scan_image(scangen.page_lines(13)))
    keys = published(s3, transformed(s3, "nomodel.png", body, "job-5"), "job-5")
    manifest = json.loads(output(s3, keys["json"]))
    assert any(
        "could not be OCR'd" in warning and "eng" in warning for warning in manifest["warnings"]
    )


def test_an_unknown_ocr_mode_in_the_input_falls_back_with_a_warning(
    s3: Any, ocr_mount: Path
) -> None:
    """This test ensures that an execution input asking for an unknown OCR mode gets the
    configured mode and a warning in the manifest, not a failure."""
    state = transformed(s3, "a.pdf", docgen.text_pdf(["Invoice 42"]), "job-6", ocr="sometimes")
    keys = published(s3, state, "job-6")
    manifest = json.loads(output(s3, keys["json"]))
    assert any("unknown OCR mode 'sometimes'" in warning for warning in manifest["warnings"])


def test_a_signed_pdf_is_not_ocrd_even_when_forced(s3: Any, ocr_mount: Path) -> None:
    """This test ensures that a PDF with an intact signature keeps it: forced OCR leaves
    its pages alone and says why, and the signed bytes are published unchanged."""
    from tests.functions.documents import realworld

    source = realworld.signed_pdf()
    state = transformed(s3, "signed.pdf", source, "job-7", ocr="force")
    assert "ocr" not in state
    keys = published(s3, state, "job-7")
    manifest = json.loads(output(s3, keys["json"]))
    assert any("intact signature" in warning for warning in manifest["warnings"])
    assert "ocr" not in manifest["facts"]
    assert output(s3, keys["pdf"]) == source


def test_forced_ocr_of_a_pdf_without_scanned_pages_leaves_it_unchanged(
    s3: Any, ocr_mount: Path
) -> None:
    """This test ensures that forcing OCR on pages that draw no scanned image records why
    each page was not read, warns, and keeps the pages' own text."""
    source = docgen.text_pdf(["Invoice 42", "Terms"])
    inline = transformed(s3, "plain.pdf", source, "job-8", ocr="force")
    keys = published(s3, inline, "job-8")
    manifest = json.loads(output(s3, keys["json"]))
    assert "OCR read no text on page(s) 1, 2; facts.ocr says why." in manifest["warnings"]
    pages = manifest["facts"]["ocr"]["pages"]
    assert [(page["ocr"], page["reason"]) for page in pages] == [
        (False, "the page draws no image"),
        (False, "the page draws no image"),
    ]
    assert output(s3, keys["txt"]).decode() == "Invoice 42\fTerms"
