"""Unused page resources and duplicate streams: what the saved file need not hold."""

from __future__ import annotations

import random
from pathlib import Path

import pikepdf
import pytest

from functions.documents.compress import compress_pdf
from functions.documents.compress.sharing import resources_shared, share_identical_streams


def _font(pdf: pikepdf.Pdf, name: str) -> pikepdf.Dictionary:
    return pdf.make_indirect(
        pikepdf.Dictionary(Type="/Font", Subtype="/Type1", BaseFont=pikepdf.Name(name))
    )


def _two_pages(shared: bool) -> pikepdf.Pdf:
    """Two pages drawing with /F1, whose resources also name an unused /F2."""
    pdf = pikepdf.new()
    fonts = pikepdf.Dictionary(F1=_font(pdf, "/Helvetica"), F2=_font(pdf, "/Courier"))
    resources = pdf.make_indirect(pikepdf.Dictionary(Font=fonts))
    for number in (1, 2):
        pdf.add_blank_page()
        page = pdf.pages[-1].obj
        page.Resources = resources if shared else pikepdf.Dictionary(Font=fonts)
        page.Contents = pdf.make_stream(b"BT /F1 12 Tf 72 700 Td (Page %d) Tj ET" % number)
    return pdf


@pytest.mark.parametrize("shared", [True, False])
def test_shared_resources_are_told_apart_from_own_ones(shared: bool) -> None:
    """Pages that share one resource dictionary are found; pages with their own are not."""
    assert resources_shared(_two_pages(shared)) is shared


def test_resources_inherited_from_the_page_tree_count_as_shared() -> None:
    """Resources on the page tree's root, inherited by every page, are shared."""
    pdf = _two_pages(shared=False)
    pdf.Root.Pages.Resources = pdf.pages[0].obj.Resources
    for page in pdf.pages:
        del page.obj["/Resources"]
    assert resources_shared(pdf) is True


def test_unused_fonts_of_shared_resources_are_dropped(tmp_path: Path) -> None:
    """A font no page draws, in resources every page shares, is not written."""
    src = tmp_path / "in.pdf"
    _two_pages(shared=True).save(src)
    compress_pdf(src, tmp_path / "out.pdf", "lossless")
    with pikepdf.open(tmp_path / "out.pdf") as pdf:
        fonts = {str(font.BaseFont) for page in pdf.pages for font in page.Resources.Font.values()}
    assert fonts == {"/Helvetica"}


def test_identical_streams_become_one_object() -> None:
    """Identical streams (a logo, a font program) embedded on several pages are
    redirected to one object, wherever they are referenced from, nested ones too."""
    pdf = pikepdf.new()
    data = random.Random(7).randbytes(4096)  # noqa: S311 (test data, not a secret)
    for _ in range(3):
        pdf.add_blank_page()
        page = pdf.pages[-1].obj
        form = pdf.make_stream(data, Type="/XObject", Subtype="/Form", BBox=[0, 0, 10, 10])
        page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Logo=form))
        page.Contents = pdf.make_stream(b"/Logo Do")
    share_identical_streams(pdf)
    logos = {page.obj.Resources.XObject.Logo.objgen for page in pdf.pages}
    assert len(logos) == 1
