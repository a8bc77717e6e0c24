"""OCR of scanned pages: text read back from the layer, rotation, pages left alone."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pikepdf
import pypdf
import pytest
from PIL import Image

from functions.documents.ocr import engine
from functions.documents.ocr.document import graft_pages, ocr_pages, pages_to_ocr
from functions.documents.ocr.models import OSD
from tests import docgen, scangen

MAX_PIXELS = 178_956_970


def layer_text(path: Path) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(path).pages]


def first_image(pdf: pikepdf.Pdf) -> pikepdf.Object:
    """The one image the first page draws (the text layer is a form beside it)."""
    xobjects = pdf.pages[0].resources.XObject.values()
    [image] = [xobject for xobject in xobjects if xobject.Subtype == "/Image"]
    return image


#: One-page scans by image coding: JPEG (Pillow's PDF writer stores grey scans so);
#: JPEG 2000, which tesserocr once passed on still coded to a Leptonica that cannot read
#: it; JBIG2 (most archival scans), which pikepdf cannot decode on Lambda (no jbig2dec).
CODED: dict[str, Callable[[Image.Image], bytes]] = {
    "/DCTDecode": lambda image: scangen.image_pdf([image]),
    "/JPXDecode": scangen.jpx_pdf,
    "/JBIG2Decode": scangen.jbig2_pdf,
}


@pytest.mark.usefixtures("no_jbig2dec")
@pytest.mark.parametrize("coding", sorted(CODED))
def test_a_scan_becomes_a_pdf_whose_text_layer_matches_its_words(
    ocr_mount: Path, tmp_path: Path, coding: str
) -> None:
    """This test ensures that a page rasterised from known text, whatever its image
    coding, gets a text layer and a text whose words match at least 98 % of the known
    words, and keeps its image untouched."""
    lines = scangen.page_lines(1)
    source = tmp_path / "scan.pdf"
    source.write_bytes(CODED[coding](scangen.scan_image(lines)))
    results = ocr_pages(source, [1], ocr_mount, "eng", MAX_PIXELS)
    out = tmp_path / "searchable.pdf"
    assert graft_pages(source, out, results) == 1
    expected = " ".join(lines)
    assert scangen.word_recall(expected, results[0].text) >= 0.98
    assert scangen.word_recall(expected, layer_text(out)[0]) >= 0.98
    page = results[0]
    assert page.ocr
    assert page.language == "eng"
    assert page.dpi == 300
    assert page.confidence is not None
    assert page.confidence > 80
    with pikepdf.open(source) as before, pikepdf.open(out) as after:
        image, original = (first_image(pdf) for pdf in (after, before))
        assert image.Filter == coding
        assert image.read_raw_bytes() == original.read_raw_bytes()


def test_the_text_layer_is_invisible_and_keeps_the_page_image(
    ocr_mount: Path, tmp_path: Path
) -> None:
    """This test ensures that an image-only PDF keeps its pages and image, and its text
    is drawn in render mode 3 (invisible) over the image."""
    images = [scangen.scan_image(scangen.page_lines(seed)) for seed in (2, 3)]
    source = tmp_path / "scan.pdf"
    source.write_bytes(scangen.image_pdf(images))
    out = tmp_path / "searchable.pdf"
    graft_pages(source, out, ocr_pages(source, [1, 2], ocr_mount, "eng", MAX_PIXELS))
    with pikepdf.open(out) as pdf, pikepdf.open(source) as original:
        assert len(pdf.pages) == 2
        for page, before in zip(pdf.pages, original.pages, strict=True):
            assert list(page.mediabox) == list(before.mediabox)
            xobjects = list(page.resources.XObject.values())
            assert [str(x.Subtype) for x in xobjects].count("/Image") == 1
            forms = [xobject for xobject in xobjects if xobject.Subtype == "/Form"]
            assert len(forms) == 1
            assert b"3 Tr" in forms[0].read_bytes()
    for index, text in enumerate(layer_text(out)):
        assert scangen.word_recall(" ".join(scangen.page_lines(index + 2)), text) >= 0.98


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_a_sideways_or_upside_down_page_is_read_upright(
    ocr_mount: Path, tmp_path: Path, turn: int
) -> None:
    """This test ensures that a page scanned turned by 90, 180 or 270 degrees is read the
    right way up and displayed upright."""
    lines = scangen.page_lines(4)
    source = tmp_path / "turned.pdf"
    source.write_bytes(scangen.image_pdf([scangen.scan_image(lines, turn=turn)]))
    results = ocr_pages(source, [1], ocr_mount, "eng", MAX_PIXELS)
    assert scangen.word_recall(" ".join(lines), results[0].text) >= 0.98
    assert results[0].rotation == turn  # clockwise, undoing a counter-clockwise turn
    out = tmp_path / "searchable.pdf"
    graft_pages(source, out, results)
    assert scangen.word_recall(" ".join(lines), layer_text(out)[0]) >= 0.98
    with pikepdf.open(out) as pdf:
        assert pdf.pages[0].obj.Rotate == turn


def test_an_upright_page_that_reads_well_skips_orientation_detection(
    ocr_mount: Path, tmp_path: Path
) -> None:
    """This test ensures that an upright page read with high confidence is taken as it is,
    without loading or running the orientation model (a quarter of a page's time)."""
    lines = scangen.page_lines(6)
    source = tmp_path / "upright.pdf"
    source.write_bytes(scangen.image_pdf([scangen.scan_image(lines)]))
    [result] = ocr_pages(source, [1], ocr_mount, "eng", MAX_PIXELS)
    assert result.rotation == 0
    assert scangen.word_recall(" ".join(lines), result.text) >= 0.98
    assert (str(ocr_mount), OSD) not in engine.loaded_engines()
    assert (str(ocr_mount), "eng") in engine.loaded_engines()


def test_a_noisy_page_with_little_text_is_read(ocr_mount: Path, tmp_path: Path) -> None:
    """This test ensures that a worn scan (blur, noise, skew) whose few lines sit on a
    mostly empty page is read: a global threshold would split the page along its noise
    and find no word at all."""
    lines = scangen.page_lines(9, 4)
    image = scangen.scan_image(lines, width_inches=6, height_inches=8, degraded=True)
    source = tmp_path / "worn.pdf"
    source.write_bytes(scangen.image_pdf([image]))
    [result] = ocr_pages(source, [1], ocr_mount, "eng", MAX_PIXELS)
    assert result.ocr
    assert scangen.word_recall(" ".join(lines), result.text) >= 0.95


def test_a_page_at_low_resolution_is_resampled_before_reading(
    ocr_mount: Path, tmp_path: Path
) -> None:
    """This test ensures that a page scanned at 150 dpi is read at 300 dpi."""
    lines = scangen.page_lines(5)
    source = tmp_path / "fax.pdf"
    image = scangen.scan_image(lines, dpi=150)
    source.write_bytes(scangen.image_pdf([image], dpi=150))
    results = ocr_pages(source, [1], ocr_mount, "eng", MAX_PIXELS)
    assert results[0].dpi == 300
    assert scangen.word_recall(" ".join(lines), results[0].text) >= 0.9


def test_an_image_wrapped_in_a_form_is_found_and_read(ocr_mount: Path, tmp_path: Path) -> None:
    """This test ensures that a scanner's page that draws its image inside a form XObject
    (scaled by the form's placement) is read, and its layer lands on the page."""
    lines = scangen.page_lines(6)
    source = tmp_path / "scan.pdf"
    source.write_bytes(scangen.image_pdf([scangen.scan_image(lines)]))
    wrapped = tmp_path / "wrapped.pdf"
    with pikepdf.open(source) as pdf:
        page = pdf.pages[0]
        page.contents_coalesce()
        form = pdf.make_stream(
            page.obj.Contents.read_bytes(),
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Form,
            BBox=page.mediabox,
            Resources=page.obj.Resources,
        )
        page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Fm0=form))
        page.obj.Contents = pdf.make_stream(b"q 0.5 0 0 0.5 0 0 cm /Fm0 Do Q")
        pdf.save(wrapped)
    results = ocr_pages(wrapped, [1], ocr_mount, "eng", MAX_PIXELS)
    assert results[0].ocr, results[0].reason
    assert results[0].dpi == 300  # drawn at half size: 600 dpi, resampled
    out = tmp_path / "searchable.pdf"
    graft_pages(wrapped, out, results)
    assert scangen.word_recall(" ".join(lines), layer_text(out)[0]) >= 0.98


def test_pages_with_text_are_left_alone_unless_forced() -> None:
    """This test ensures that auto reads only pages without text, force every page and
    off none."""
    texts = ["Invoice 42", "", "  \n", "Terms"]
    assert pages_to_ocr(texts, "auto") == [2, 3]
    assert pages_to_ocr(texts, "force") == [1, 2, 3, 4]
    assert pages_to_ocr(texts, "off") == []
    with pytest.raises(ValueError, match="OCR mode"):
        pages_to_ocr(texts, "sometimes")


def test_a_page_that_is_not_one_image_is_skipped_with_a_reason(
    ocr_mount: Path, tmp_path: Path
) -> None:
    """This test ensures that a page drawn with text and no image is not OCR'd and the
    result says why."""
    source = tmp_path / "text.pdf"
    source.write_bytes(docgen.text_pdf(["Invoice 42"]))
    results = ocr_pages(source, [1], ocr_mount, "eng", MAX_PIXELS)
    assert not results[0].ocr
    assert results[0].reason == "the page draws no image"
    out = tmp_path / "out.pdf"
    assert graft_pages(source, out, results) == 0
    assert "Invoice 42" in pypdf.PdfReader(io.BytesIO(out.read_bytes())).pages[0].extract_text()


def test_a_blank_scanned_page_is_said_to_have_no_text(ocr_mount: Path, tmp_path: Path) -> None:
    """This test ensures that a blank scanned page (white, or a black separator sheet) is
    reported as having no text, not as an image the engine could not read."""
    source = tmp_path / "blank.pdf"
    blank = [Image.new("L", (1275, 1650), colour) for colour in (255, 0)]
    source.write_bytes(scangen.image_pdf(blank, dpi=150))
    results = ocr_pages(source, [1, 2], ocr_mount, "eng", MAX_PIXELS)
    assert [(result.ocr, result.reason) for result in results] == [
        (False, "no text was recognised"),
        (False, "no text was recognised"),
    ]
