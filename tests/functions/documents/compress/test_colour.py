"""Tests for removing unused /DefaultCMYK spaces (functions/documents/compress/colour.py)."""

from __future__ import annotations

import zlib
from pathlib import Path

import pikepdf
import pytest
from pypdf import PdfReader

from functions.documents.compress import compress_pdf
from functions.documents.compress.colour import drop_unused_default_cmyk

CORPUS = Path(__file__).resolve().parents[4] / ".." / "shared" / "corpus"


def _image(pdf: pikepdf.Pdf, space: pikepdf.Object) -> pikepdf.Stream:
    components = 4 if space == pikepdf.Name.DeviceCMYK else 3
    stream = pikepdf.Stream(pdf, zlib.compress(bytes(8 * 8 * components)))
    stream.Type, stream.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    stream.Width = stream.Height = 8
    stream.ColorSpace, stream.BitsPerComponent = space, 8
    stream.Filter = pikepdf.Name.FlateDecode
    return pdf.make_indirect(stream)


def _form(pdf: pikepdf.Pdf, content: bytes, *, own_resources: bool) -> pikepdf.Stream:
    form = pikepdf.Stream(pdf, content)
    form.Type, form.Subtype = pikepdf.Name.XObject, pikepdf.Name.Form
    form.BBox = [0, 0, 100, 100]
    if own_resources:
        form.Resources = pikepdf.Dictionary()
    return pdf.make_indirect(form)


def _document(contents: list[bytes]) -> pikepdf.Pdf:
    """A document whose pages share one /ColorSpace dictionary with an ICC DefaultCMYK.

    Every page can draw /RGBIm, /CMYKIm, /Form (no resources of its own), /OwnForm (own
    resources), both forms painting in CMYK, and use /CS0 (an Indexed space on CMYK).
    """
    pdf = pikepdf.new()
    profile = pikepdf.Stream(pdf, b"not parsed here")
    profile.N = 4
    spaces = pdf.make_indirect(
        pikepdf.Dictionary(
            DefaultCMYK=pikepdf.Array([pikepdf.Name.ICCBased, pdf.make_indirect(profile)]),
            CS0=pikepdf.Array(
                [pikepdf.Name.Indexed, pikepdf.Name.DeviceCMYK, 0, pikepdf.String(bytes(4))]
            ),
        )
    )
    xobjects = pikepdf.Dictionary(
        RGBIm=_image(pdf, pikepdf.Name.DeviceRGB),
        CMYKIm=_image(pdf, pikepdf.Name.DeviceCMYK),
        Form=_form(pdf, b"0 0 0 1 k 0 0 10 10 re f", own_resources=False),
        OwnForm=_form(pdf, b"0 0 0 1 k 0 0 10 10 re f", own_resources=True),
    )
    for content in contents:
        page = pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=[0, 0, 100, 100],
            Contents=pdf.make_indirect(pikepdf.Stream(pdf, content)),
            Resources=pikepdf.Dictionary(ColorSpace=spaces, XObject=xobjects),
        )
        pdf.pages.append(pikepdf.Page(page))
    return pdf


def _has_default(page: pikepdf.Page) -> bool:
    return "/DefaultCMYK" in page.obj.Resources.ColorSpace


@pytest.mark.parametrize(
    ("content", "kept"),
    [
        (b"1 0 0 rg 0 0 10 10 re f q 10 0 0 10 0 0 cm /RGBIm Do Q", False),
        (b"/DeviceGray cs 0.5 sc 0 0 10 10 re f", False),
        (b"/OwnForm Do", False),
        (b"0 0 0 1 k 0 0 10 10 re f", True),
        (b"0 0 0 1 K 0 0 m 10 10 l S", True),
        (b"/DeviceCMYK CS 0 0 0 1 SC 0 0 m 10 10 l S", True),
        (b"/CS0 cs 0 sc 0 0 10 10 re f", True),
        (b"/Missing cs 0 sc", True),
        (b"/CMYKIm Do", True),
        (b"/Form Do", True),
        (b"BI /W 1 /H 1 /CS /CMYK /BPC 8 ID \x00\x00\x00\xff EI", True),
    ],
)
def test_default_cmyk_goes_only_when_nothing_paints_cmyk(content: bytes, kept: bool) -> None:
    """This test ensures that the entry is removed only when no DeviceCMYK is painted.

    Colour operators, named spaces built on CMYK, CMYK images, forms painting in the
    page's scope and inline images keep it; a form with its own resources is its own
    scope.
    """
    pdf = _document([content])
    dropped = drop_unused_default_cmyk(pdf)
    assert _has_default(pdf.pages[0]) is kept
    assert dropped == (0 if kept else 1)


def test_content_that_cannot_be_decoded_keeps_the_entry() -> None:
    """This test ensures that a page whose content is damaged keeps its default space."""
    pdf = _document([b"not deflated"])
    pdf.pages[0].Contents.Filter = pikepdf.Name.FlateDecode
    assert drop_unused_default_cmyk(pdf) == 0
    assert _has_default(pdf.pages[0])


def test_pages_sharing_a_colour_space_dictionary_decide_each_for_itself() -> None:
    """This test ensures that a page that paints CMYK keeps the entry its neighbour loses."""
    pdf = _document([b"1 0 0 rg 0 0 10 10 re f", b"0 0 0 1 k 0 0 10 10 re f"])
    assert drop_unused_default_cmyk(pdf) == 1
    assert [_has_default(page) for page in pdf.pages] == [False, True]


def test_scanned_cmyk_page_loses_its_print_profile(tmp_path: Path) -> None:
    """This test ensures that ocr_cmyk's 390 KB SWOP profile goes once its images are sRGB.

    Its six CMYK photos are drawn under an ICC DefaultCMYK, which is also the PDF/X
    output intent; ebook converts the photos through it, then nothing needs it.
    """
    src = CORPUS / "ocr_cmyk.pdf"
    if not src.is_file():
        pytest.skip("corpus file ocr_cmyk.pdf missing: python benchmarks/fetch_corpus.py")
    result = compress_pdf(src, tmp_path / "ebook.pdf", "ebook")
    assert result.bytes_out < 50_000 < 850_000 < result.bytes_in
    with pikepdf.open(tmp_path / "ebook.pdf") as pdf:
        assert not _has_default(pdf.pages[0])
        assert not any(
            isinstance(obj, pikepdf.Stream) and obj.get("/N") == 4 for obj in pdf.objects
        )
    assert PdfReader(tmp_path / "ebook.pdf").pages[0].extract_text().strip()
    compress_pdf(src, tmp_path / "lossless.pdf", "lossless")
    with pikepdf.open(tmp_path / "lossless.pdf") as pdf:
        assert _has_default(pdf.pages[0])
