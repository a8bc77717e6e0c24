"""The invisible text layer: recognised words drawn where they are on the page image.

Like Tesseract's text-only PDF renderer (and OCRmyPDF's hocrtransform), every word is
drawn in text render mode 3 (neither filled nor stroked) in a glyphless font whose every
glyph is half an em wide, scaled horizontally (``Tz``) to the width of the word's box
and set on the line's baseline. A viewer then selects and finds exactly the words of the
image; ``pdftotext`` and pypdf read them back. The font is a Type0/CIDFontType2 whose
CIDs are the Unicode code points, with a ToUnicode map, so any script Tesseract reads
round-trips as text.

Layers are content streams in the page's user space; :func:`graft` puts one onto a page
as a form XObject drawn after the page's own content, in a saved graphics state.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable
from typing import TYPE_CHECKING

from functions.documents.matrices import Matrix, multiply
from functions.documents.ocr.engine import Word

if TYPE_CHECKING:
    import pikepdf

FONT_NAME = "GlyphLessFont"
FONT_RESOURCE = "/DocpipeOCR"
_UNITS_PER_EM = 1000
_ADVANCE = 500


@functools.cache
def glyphless_font() -> bytes:
    """Returns a TrueType font with one empty glyph, half an em wide, for every CID."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    builder = FontBuilder(_UNITS_PER_EM, isTTF=True)
    builder.setupGlyphOrder([".notdef", "space"])
    builder.setupCharacterMap({0x20: "space"})
    empty = TTGlyphPen(None).glyph()
    builder.setupGlyf({".notdef": empty, "space": empty})
    builder.setupHorizontalMetrics({".notdef": (_ADVANCE, 0), "space": (_ADVANCE, 0)})
    builder.setupHorizontalHeader(ascent=_UNITS_PER_EM, descent=0)
    builder.setupNameTable({"familyName": FONT_NAME, "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=_UNITS_PER_EM, usWinAscent=_UNITS_PER_EM, usWinDescent=0)
    builder.setupPost()
    out = io.BytesIO()
    builder.save(out)
    return out.getvalue()


def _to_unicode() -> bytes:
    # One range per high byte: CID = code point (the surrogate block maps to nothing).
    ranges = [
        f"<{high:02X}00> <{high:02X}FF> <{high:02X}00>"
        for high in range(256)
        if not 0xD8 <= high <= 0xDF
    ]
    chunks = [ranges[i : i + 100] for i in range(0, len(ranges), 100)]
    body = "".join(
        f"{len(chunk)} beginbfrange\n" + "\n".join(chunk) + "\nendbfrange\n" for chunk in chunks
    )
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        f"{body}endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    ).encode("ascii")


def add_font(pdf: pikepdf.Pdf) -> pikepdf.Object:
    """Adds the glyphless Type0 font to ``pdf`` and returns it (an indirect object)."""
    import zlib

    import pikepdf
    from pikepdf import Array, Dictionary, Name

    font_file = pikepdf.Stream(pdf, glyphless_font())
    # Every CID draws glyph 1 (the empty "space" glyph): 65,536 big-endian 0x0001.
    cid_to_gid = pikepdf.Stream(pdf, zlib.compress(b"\x00\x01" * 65536, 9))
    cid_to_gid.Filter = Name.FlateDecode
    descriptor = Dictionary(
        Type=Name.FontDescriptor,
        FontName=Name("/" + FONT_NAME),
        Flags=5,
        FontBBox=Array([0, 0, _ADVANCE, _UNITS_PER_EM]),
        ItalicAngle=0,
        Ascent=_UNITS_PER_EM,
        Descent=0,
        CapHeight=_UNITS_PER_EM,
        StemV=80,
        FontFile2=font_file,
    )
    cid_font = Dictionary(
        Type=Name.Font,
        Subtype=Name.CIDFontType2,
        BaseFont=Name("/" + FONT_NAME),
        CIDSystemInfo=Dictionary(Registry="Adobe", Ordering="Identity", Supplement=0),
        FontDescriptor=pdf.make_indirect(descriptor),
        DW=_ADVANCE,
        CIDToGIDMap=cid_to_gid,
    )
    font = Dictionary(
        Type=Name.Font,
        Subtype=Name.Type0,
        BaseFont=Name("/" + FONT_NAME),
        Encoding=Name("/Identity-H"),
        DescendantFonts=Array([pdf.make_indirect(cid_font)]),
        ToUnicode=pikepdf.Stream(pdf, _to_unicode()),
    )
    return pdf.make_indirect(font)


def _hex(text: str) -> str:
    codes = (ord(char) if ord(char) <= 0xFFFF else 0xFFFD for char in text)
    return "".join(f"{code:04X}" for code in codes)


def _number(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in {"", "-0"} else text


def layer_stream(words: Iterable[Word], pixels_to_page: Matrix) -> bytes:
    """Returns the content stream drawing ``words`` invisibly in the page's user space.

    Args:
        words: Words in pixels of the upright image (origin top left, y down).
        pixels_to_page: Maps those pixels to the page's user space.
    """
    parts = [f"BT 3 Tr {FONT_RESOURCE} 1 Tf"]
    for index, word in enumerate(words):
        left, _top, right, _bottom = word.box
        size = max(1.0, float(word.line_height))
        natural = len(word.text) * size * _ADVANCE / _UNITS_PER_EM
        scale = 100.0 * max(1, right - left) / natural
        # Text space: x to the right, y up from the baseline, one unit per pixel.
        placed = multiply((size, 0.0, 0.0, -size, float(left), word.baseline), pixels_to_page)
        # A space before every word but the first keeps words apart for text extraction;
        # it is drawn left of the word's box, so the word itself still fills the box.
        text = word.text if index == 0 else " " + word.text
        if index:
            placed = multiply((1.0, 0, 0, 1.0, -_ADVANCE / _UNITS_PER_EM * scale / 100, 0), placed)
        matrix = " ".join(_number(value) for value in placed)
        parts.append(f"{_number(scale)} Tz {matrix} Tm <{_hex(text)}> Tj")
    parts.append("ET")
    return "\n".join(parts).encode("ascii")


def graft(pdf: pikepdf.Pdf, page: pikepdf.Page, layer: bytes, font: pikepdf.Object) -> None:
    """Draws ``layer`` over ``page`` as a form XObject, after the page's own content."""
    import pikepdf
    from pikepdf import Array, Dictionary, Name

    box = [float(value) for value in page.mediabox]
    form = pikepdf.Stream(pdf, layer)
    form.Type = Name.XObject
    form.Subtype = Name.Form
    form.BBox = Array(box)
    form.Resources = Dictionary(Font=Dictionary({FONT_RESOURCE: font}))
    name = page.add_resource(pdf.make_indirect(form), Name.XObject, prefix="OCR")
    page.contents_add(pikepdf.Stream(pdf, b"q\n"), prepend=True)
    page.contents_add(pikepdf.Stream(pdf, b"\nQ\nq " + bytes(str(name), "ascii") + b" Do Q\n"))
