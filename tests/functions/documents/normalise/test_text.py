"""Text extraction: per page, in reading order, and never an internal error for a filter.

The documents are generated here: content streams under abbreviated filter names
(``/Fl``, ``/A85``), under an image filter (``/JBIG2Decode``), and pages of known text.
"""

from __future__ import annotations

import base64
import io
import json
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pikepdf
import pytest

from functions import compress, ingest, transform
from functions.documents.normalise import PAGE_BREAK, Normalised, normalise
from functions.documents.normalise.text import extract_text, pypdf_texts
from functions.settings import Limits
from tests.conftest import OUTPUT_BUCKET, TRIGGER_BUCKET

Encoder = Callable[[bytes], bytes]
# Each filter name with the encoding it names; the JBIG2 "data" is never decoded.
FILTERS: dict[str, Encoder] = {
    "/Fl": zlib.compress,
    "/A85": lambda data: base64.a85encode(data) + b"~>",
    "/JBIG2Decode": lambda data: b"\x97JB2\r\n\x1a\n\x01\x00\x00\x00\x01" + data,
}


def _pdf(pages: list[tuple[list[str], str | None]]) -> bytes:
    """A PDF with one page per item: its lines of Helvetica text and its content filter."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type1,
            BaseFont=pikepdf.Name.Helvetica,
            Encoding=pikepdf.Name.WinAnsiEncoding,
        )
    )
    for lines, filter_name in pages:
        pdf.add_blank_page(page_size=(612, 792))
        page = pdf.pages[-1].obj
        page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        shown = b"".join(b"(" + line.encode("cp1252") + b") Tj 0 -20 Td " for line in lines)
        content = b"BT /F1 12 Tf 72 720 Td " + shown + b"ET"
        stream = pdf.make_stream(FILTERS[filter_name](content) if filter_name else content)
        if filter_name:
            stream.Filter = pikepdf.Name(filter_name)
        page.Contents = stream
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def _normalise(tmp_path: Path, data: bytes) -> tuple[Normalised, list[str]]:
    src = tmp_path / "source.pdf"
    src.write_bytes(data)
    out = tmp_path / "out"
    out.mkdir()
    result = normalise(src, "pdf", out, Limits())
    text = out / "text.txt"
    pages = text.read_text(encoding="utf-8").split(PAGE_BREAK) if text.exists() else []
    return result, [page.strip() for page in pages]


@pytest.mark.parametrize("filter_name", ["/Fl", "/A85"])
def test_abbreviated_filter_names_are_read(tmp_path: Path, filter_name: str) -> None:
    """A content stream under an abbreviated filter name (valid per ISO 32000, read by
    qpdf) gives its text, not an internal error or a lost page."""
    data = _pdf([(["Plain page"], None), (["Abbreviated filter"], filter_name)])
    result, texts = _normalise(tmp_path, data)
    assert texts == ["Plain page", "Abbreviated filter"]
    assert result.facts["text_failed_pages"] == []
    assert result.warnings == ()


def test_image_filter_on_a_content_stream_costs_that_page_only(tmp_path: Path) -> None:
    """A content stream under an image filter (JBIG2 data reached through the page's
    content) is never decoded for text: that page is reported in a warning and facts,
    and the other pages keep their text."""
    data = _pdf([(["First page"], None), (["Never read"], "/JBIG2Decode"), (["Third"], None)])
    result, texts = _normalise(tmp_path, data)
    assert texts == ["First page", "", "Third"]
    assert result.facts["text_failed_pages"] == [2]
    assert "The text of page 2 could not be extracted." in result.warnings


@pytest.mark.parametrize("filter_name", ["/Fl", "/A85", "/JBIG2Decode"])
def test_pypdf_errors_on_a_page_become_a_failed_page(tmp_path: Path, filter_name: str) -> None:
    """The pypdf fallback turns what pypdf raises on one page (DeprecationError for
    abbreviated names, DependencyError for JBIG2) into that page's failure."""
    path = tmp_path / "source.pdf"
    path.write_bytes(_pdf([(["Kept"], None), (["Raises in pypdf"], filter_name)]))
    texts = pypdf_texts(path, 2)
    assert (texts[0] or "").strip() == "Kept"
    assert texts[1] is None


def test_every_page_failing_says_the_document_text_failed(tmp_path: Path) -> None:
    """A document none of whose pages can be extracted says so in one sentence."""
    result, texts = _normalise(tmp_path, _pdf([(["Never read"], "/JBIG2Decode")] * 2))
    assert texts == []
    assert result.has_text is False
    assert result.facts["text_failed_pages"] == [1, 2]
    assert "The text of the document could not be extracted." in result.warnings


def test_lines_come_in_reading_order_with_their_characters(tmp_path: Path) -> None:
    """Lines come out in order, one per line, with accented characters intact and no
    carriage returns; every page keeps its place, an empty one included."""
    lines = ["Größe und Maß", "café déjà vu", "the third line"]
    result, texts = _normalise(tmp_path, _pdf([(lines, None), ([], None), (["Last"], None)]))
    assert texts == ["\n".join(lines), "", "Last"]
    raw = (tmp_path / "out" / "text.txt").read_text(encoding="utf-8")
    assert "\r" not in raw
    assert raw.count(PAGE_BREAK) == 2
    assert result.facts["text_failed_pages"] == []


def test_a_form_feed_inside_a_page_never_splits_it(tmp_path: Path) -> None:
    """A form feed the document itself shows stays inside its page's text, so text.txt
    splits into exactly one part per page."""
    path = tmp_path / "source.pdf"
    path.write_bytes(_pdf([(["before\fafter"], None), (["second"], None)]))
    texts, failed = extract_text(path, 2)
    assert len(texts) == 2
    assert all(PAGE_BREAK not in text for text in texts)
    assert failed == []


def test_a_page_whose_text_fails_is_a_warning_in_the_published_manifest(
    s3: Any, mount: Path
) -> None:
    """Through the three stages, a page whose text cannot be extracted gives a
    succeeded job whose manifest carries the warning, not an INTERNAL_ERROR."""
    body = _pdf([(["Readable"], "/Fl"), (["Not readable"], "/JBIG2Decode")])
    s3.put_object(Bucket=TRIGGER_BUCKET, Key="odd.pdf", Body=body)
    state: dict[str, Any] = {"input": {"bucket": TRIGGER_BUCKET, "key": "odd.pdf"}, "job": "j"}
    ingested = ingest.handler(state, None)
    transformed = transform.handler({"ingest": ingested, "job": "j"}, None)
    result = compress.handler({"action": "compress", "transform": transformed, "job": "j"}, None)
    assert result["status"] == "succeeded"
    manifest_key = next(key for key in result["outputs"] if key.endswith(".json"))
    manifest = json.loads(s3.get_object(Bucket=OUTPUT_BUCKET, Key=manifest_key)["Body"].read())
    assert "The text of page 2 could not be extracted." in manifest["warnings"]
    text_key = next(key for key in result["outputs"] if key.endswith(".txt"))
    text = s3.get_object(Bucket=OUTPUT_BUCKET, Key=text_key)["Body"].read().decode()
    assert text.split(PAGE_BREAK)[0].strip() == "Readable"
