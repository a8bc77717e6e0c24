"""normalise(): the transform stage's contract, whatever the document type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from functions.documents.normalise import normalise
from functions.errors import DocumentError, ErrorCode
from functions.settings import Limits
from functions.sniff import DOCUMENT_TYPES, sniff
from tests import docgen

SOURCES = {
    "pdf": docgen.text_pdf(2),
    "jpeg": docgen.image_bytes("JPEG"),
    "png": docgen.image_bytes("PNG"),
    "tiff": docgen.multipage_tiff(2),
    "gif": docgen.animated("GIF", 2),
    "bmp": docgen.image_bytes("BMP"),
    "webp": docgen.image_bytes("WEBP"),
}


@pytest.mark.parametrize("kind", DOCUMENT_TYPES)
def test_output_directory_holds_exactly_the_contract(tmp_path: Path, kind: str) -> None:
    """This test ensures that for every document type the output directory holds
    document.pdf, facts.json (equal to the returned facts) and text.txt only when there
    is text, with no temporary files left, and the source untouched."""
    src = tmp_path / "source"
    src.write_bytes(SOURCES[kind])
    assert sniff(src) == kind
    out = tmp_path / "out"
    out.mkdir()
    result = normalise(src, kind, out, Limits())
    expected = {"document.pdf", "facts.json"} | ({"text.txt"} if result.has_text else set())
    assert {path.name for path in out.iterdir()} == expected
    assert result.has_text is (kind == "pdf")
    facts = json.loads((out / "facts.json").read_text(encoding="utf-8"))
    assert facts == result.facts
    assert facts["source_type"] == kind
    assert facts["pages"] == result.pages == (2 if kind in ("pdf", "tiff", "gif") else 1)
    assert len(facts["page_sizes"]) == result.pages
    assert src.read_bytes() == SOURCES[kind]


def test_empty_file_is_an_empty_document(tmp_path: Path) -> None:
    """This test ensures that a zero-byte source is EMPTY_DOCUMENT, whatever its type."""
    src = tmp_path / "empty.pdf"
    src.write_bytes(b"")
    with pytest.raises(DocumentError) as raised:
        normalise(src, "pdf", tmp_path, Limits())
    assert raised.value.code is ErrorCode.EMPTY_DOCUMENT


def test_unknown_kind_is_a_caller_defect(tmp_path: Path) -> None:
    """This test ensures that asking for a type that is not a document (a ZIP bundle) is a
    programming error (ValueError), not a user's DocumentError."""
    src = tmp_path / "bundle.zip"
    src.write_bytes(docgen.zip_bundle({"a.pdf": docgen.text_pdf(1)}))
    with pytest.raises(ValueError, match="zip"):
        normalise(src, "zip", tmp_path, Limits())


def test_mismatched_content_is_corrupt(tmp_path: Path) -> None:
    """This test ensures that bytes that are not the announced image type are refused as
    CORRUPT_DOCUMENT: only the sniffed format's decoder may read the file."""
    src = tmp_path / "photo.jpg"
    src.write_bytes(docgen.image_bytes("PNG"))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DocumentError) as raised:
        normalise(src, "jpeg", out, Limits())
    assert raised.value.code is ErrorCode.CORRUPT_DOCUMENT
    assert list(out.iterdir()) == []
