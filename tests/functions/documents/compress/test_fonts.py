"""Tests for font subsetting in the lossy profiles (functions/documents/compress/fonts.py)."""

from __future__ import annotations

import io
import os
import random
import re
import zlib
from pathlib import Path

import pikepdf
import pytest
from fontTools import agl
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.recordingPen import RecordingPen
from fontTools.pens.t2CharStringPen import T2CharStringPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from functions.documents.compress import compress_pdf
from tests import docgen

CORPUS = Path(__file__).resolve().parents[4] / ".." / "shared" / "corpus"
# Unicode values a WinAnsi-encoded simple font can draw (codes 32 to 255).
WINANSI = sorted({ord(c) for c in bytes(range(32, 256)).decode("cp1252", "ignore")})
CYRILLIC = list(range(0x0400, 0x0500))
GREEK = list(range(0x0370, 0x0400))
PRIVATE = list(range(0xE000, 0xE600))  # glyphs no one-byte code reaches


def _truetype(unicodes: list[int], *, symbol: bool = False, cff: bool = False) -> bytes:
    """Builds a font with one distinct random outline per Unicode value.

    Random outlines do not compress, so the program is as large as a real full font
    relative to its glyph count (about 40 KB deflated here). Glyphs are named by AGL
    (``A``, ``Euro``, ``uni0416``) as real fonts name them. With ``cff``, the outlines
    are CFF (an OpenType font as ``/FontFile3 /OpenType`` embeds), else TrueType.
    """
    rng = random.Random(1)  # noqa: S311 - reproducible outlines, not secrets
    names = [".notdef"] + [agl.UV2AGL.get(u, f"uni{u:04X}") for u in unicodes]
    builder = FontBuilder(1000, isTTF=not cff)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap(dict(zip(unicodes, names[1:], strict=True)))
    outlines = {}
    for name in names:
        pen = T2CharStringPen(500, None) if cff else TTGlyphPen(None)
        pen.moveTo((rng.randrange(0, 500), rng.randrange(0, 700)))
        for _ in range(8):
            pen.lineTo((rng.randrange(0, 500), rng.randrange(0, 700)))
        pen.closePath()
        outlines[name] = pen.getCharString() if isinstance(pen, T2CharStringPen) else pen.glyph()
    if cff:
        builder.setupCFF("DocpipeTest", {"FullName": "DocpipeTest"}, outlines, {})
    else:
        builder.setupGlyf(outlines)
    builder.setupHorizontalMetrics({name: (500 + i % 100, 0) for i, name in enumerate(names)})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "DocpipeTest", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    builder.setupMaxp()
    font = builder.font
    if symbol:
        # A symbol font maps its codes at 0xF000 + code in a (3, 0) cmap.
        for table in font["cmap"].tables:
            table.platEncID = 0 if table.platformID == 3 else table.platEncID
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def _font_pdf(
    path: Path,
    program: bytes,
    *,
    text: bytes = b"Hello",
    composite: bool = False,
    cff: bool = False,
) -> Path:
    """Writes a one-page PDF drawing ``text`` with a simple font embedding ``program``.

    The font is TrueType (``/FontFile2``), or with ``cff`` Type 1 with an OpenType
    program (``/FontFile3 /Subtype /OpenType``). With ``composite``, a Type0 font on the
    same page shares the same program.
    """
    pdf = pikepdf.new()
    stream = pikepdf.Stream(pdf, zlib.compress(program, 9))
    stream.Filter = pikepdf.Name.FlateDecode
    if cff:
        stream.Subtype = pikepdf.Name.OpenType
    else:
        stream.Length1 = len(program)
    font_file = pdf.make_indirect(stream)
    embedded = {"FontFile3" if cff else "FontFile2": font_file}
    descriptor = pdf.make_indirect(docgen.font_descriptor("/DocpipeTest", **embedded))
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type1 if cff else pikepdf.Name.TrueType,
            BaseFont=pikepdf.Name("/DocpipeTest"),
            FirstChar=32,
            LastChar=255,
            Widths=[500] * 224,
            Encoding=pikepdf.Name.WinAnsiEncoding,
            FontDescriptor=descriptor,
        )
    )
    fonts = pikepdf.Dictionary(F1=font)
    if composite:
        cid_font = pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.CIDFontType2,
            BaseFont=pikepdf.Name("/DocpipeTest"),
            CIDSystemInfo=pikepdf.Dictionary(Registry="Adobe", Ordering="Identity", Supplement=0),
            FontDescriptor=descriptor,
            CIDToGIDMap=pikepdf.Name.Identity,
        )
        fonts.F2 = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Font,
                Subtype=pikepdf.Name.Type0,
                BaseFont=pikepdf.Name("/DocpipeTest"),
                Encoding=pikepdf.Name("/Identity-H"),
                DescendantFonts=[cid_font],  # direct, as some producers write it
            )
        )
    content = b"BT /F1 24 Tf 20 20 Td (" + text + b") Tj ET"
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=[0, 0, 300, 100],
        Contents=pdf.make_indirect(pikepdf.Stream(pdf, content)),
        Resources=pikepdf.Dictionary(Font=fonts),
    )
    pdf.pages.append(pikepdf.Page(page))
    pdf.save(path)
    return path


def _programs(path: Path) -> list[tuple[pikepdf.Object, bytes]]:
    """Returns (font descriptor, decoded program) for every embedded TrueType or OpenType."""
    with pikepdf.open(path) as pdf:
        found = []
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary) and "/FontFile2" in obj:
                program = obj.FontFile2
                data = program.read_bytes()
                assert int(program.Length1) == len(data)
                found.append((obj.copy(), bytes(data)))
            elif isinstance(obj, pikepdf.Dictionary) and "/FontFile3" in obj:
                found.append((obj.copy(), bytes(obj.FontFile3.read_bytes())))
        return found


def _outline(font: TTFont, unicode: int) -> tuple:
    """Returns a glyph's id, name and drawing, found through the font's Unicode cmap."""
    name = font.getBestCmap()[unicode]
    pen = RecordingPen()
    font.getGlyphSet()[name].draw(pen)
    return (font.getGlyphID(name), name, tuple(pen.value))


@pytest.mark.parametrize(("profile", "cff"), [("ebook", False), ("screen", False), ("ebook", True)])
def test_full_font_is_subset_to_every_glyph_its_codes_reach(
    tmp_path: Path, profile: str, cff: bool
) -> None:
    """This test ensures that a full font keeps exactly the glyphs a simple font can draw.

    Every WinAnsi character keeps its glyph id, name and outline; Cyrillic, Greek and
    private glyphs, which no one-byte code reaches, are dropped; the font is tagged as a
    subset. TrueType and CFF-flavoured OpenType programs alike.
    """
    program = _truetype(WINANSI + CYRILLIC + GREEK + PRIVATE, cff=cff)
    src = _font_pdf(tmp_path / "in.pdf", program, cff=cff)
    dest = tmp_path / "out.pdf"
    result = compress_pdf(src, dest, profile)

    [(descriptor, subset)] = _programs(dest)
    assert len(subset) < len(program) / 4
    before, after = TTFont(io.BytesIO(program)), TTFont(io.BytesIO(subset))
    for unicode in WINANSI:
        assert _outline(after, unicode) == _outline(before, unicode)
    cmap = after.getBestCmap()
    # MacRoman has two Greek letters, and a viewer may read the codes as MacRoman.
    assert [u for u in CYRILLIC + GREEK + PRIVATE if u in cmap] == [ord("Ω"), ord("π")]
    assert re.fullmatch(r"/[A-Z]{6}\+DocpipeTest", str(descriptor.FontName))
    with pikepdf.open(dest) as pdf:
        font = pdf.pages[0].Resources.Font.F1
        assert str(font.BaseFont) == str(descriptor.FontName)
    assert PdfReader(dest).pages[0].extract_text() == "Hello"
    assert result.bytes_out < result.bytes_in / 3


def test_symbol_font_keeps_its_private_use_glyphs(tmp_path: Path) -> None:
    """This test ensures that a symbol font's glyphs at 0xF000 + code survive subsetting."""
    reachable = list(range(0xF020, 0xF100))
    program = _truetype(reachable + PRIVATE + CYRILLIC, symbol=True)
    src = _font_pdf(tmp_path / "in.pdf", program)
    dest = tmp_path / "out.pdf"
    compress_pdf(src, dest, "ebook")

    [(_, subset)] = _programs(dest)
    before, after = TTFont(io.BytesIO(program)), TTFont(io.BytesIO(subset))
    assert len(subset) < len(program) / 2
    for unicode in reachable:
        assert _outline(after, unicode) == _outline(before, unicode)


def test_lossless_keeps_font_programs_as_they_are(tmp_path: Path) -> None:
    """This test ensures that lossless never rewrites a font program."""
    program = _truetype(WINANSI + CYRILLIC + GREEK + PRIVATE)
    src = _font_pdf(tmp_path / "in.pdf", program)
    dest = tmp_path / "out.pdf"
    compress_pdf(src, dest, "lossless")
    [(descriptor, kept)] = _programs(dest)
    assert kept == program
    assert str(descriptor.FontName) == "/DocpipeTest"


def test_program_shared_with_a_composite_font_is_kept(tmp_path: Path) -> None:
    """This test ensures that a program a Type0 font also uses keeps every glyph.

    Two-byte codes can reach any glyph id, so subsetting would break the composite font,
    even when its CIDFont is a direct object inside ``/DescendantFonts``.
    """
    program = _truetype(WINANSI + CYRILLIC + GREEK + PRIVATE)
    src = _font_pdf(tmp_path / "in.pdf", program, composite=True)
    dest = tmp_path / "out.pdf"
    compress_pdf(src, dest, "ebook")
    [(_, kept)] = _programs(dest)
    assert kept == program


def test_damaged_font_program_is_kept_and_the_document_compresses(tmp_path: Path) -> None:
    """This test ensures that a font program fontTools cannot read is left as it was."""
    program = b"\x00\x01\x00\x00" + os.urandom(40_000)
    src = _font_pdf(tmp_path / "in.pdf", program)
    dest = tmp_path / "out.pdf"
    result = compress_pdf(src, dest, "ebook")
    [(_, kept)] = _programs(dest)
    assert kept == program
    assert result.pages == 1


def test_real_form_keeps_its_fields_with_subset_fonts(tmp_path: Path) -> None:
    """This test ensures that a real form's 1 MB of full Arial shrinks and its fields stay.

    pk_form_210966 embeds all of Arial and Arial Bold in ``/AcroForm /DR`` for filling.
    """
    src = CORPUS / "pk_form_210966.pdf"
    if not src.is_file():
        pytest.skip("corpus file pk_form_210966.pdf missing: python benchmarks/fetch_corpus.py")
    dest = tmp_path / "out.pdf"
    result = compress_pdf(src, dest, "ebook")
    assert result.bytes_out < result.bytes_in * 0.4
    before, after = PdfReader(src), PdfReader(dest)
    assert (after.get_fields() or {}).keys() == (before.get_fields() or {}).keys()
    with pikepdf.open(dest) as pdf:
        resources = pdf.Root.AcroForm.DR.Font
        assert {"/ArialMT", "/Arial-BoldMT"} <= set(resources.keys())
        for key in ("/ArialMT", "/Arial-BoldMT"):
            assert re.fullmatch(r"/[A-Z]{6}\+" + key[1:], str(resources[key].BaseFont))
