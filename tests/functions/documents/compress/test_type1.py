"""Tests for Type 1 to CFF font conversion (functions/documents/compress/type1.py)."""

from __future__ import annotations

import io
import random
import re
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from fontTools import t1Lib
from fontTools.cffLib import CFFFontSet
from fontTools.encodings.StandardEncoding import StandardEncoding
from fontTools.pens.boundsPen import BoundsPen
from fontTools.pens.statisticsPen import StatisticsPen
from pypdf import PdfReader

from functions.documents.compress.type1 import convert_type1_fonts
from tests import docgen

CORPUS = Path(__file__).resolve().parents[4] / ".." / "shared" / "corpus"
# pdfTeX documents embedding subsets of the Computer Modern Type 1 fonts.
LATEX = [
    "sf_minimal-document.pdf",
    "sf_multicolumn.pdf",
    "sf_pdflatex-4-pages.pdf",
    "sf_pdflatex-forms.pdf",
    "sf_pdflatex-outline.pdf",
    "sf_with-attachment.pdf",
]
# The eexec trailer fontTools' file reader needs and pdfTeX leaves out (/Length3 0).
TRAILER = b"\n" + b"0" * 512 + b"\ncleartomark\n"


def _corpus_file(name: str) -> Path:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"corpus file {name} missing: python benchmarks/fetch_corpus.py")
    return path


def _type1_descriptors(pdf: pikepdf.Pdf) -> list[pikepdf.Dictionary]:
    return [
        obj
        for obj in pdf.objects
        if isinstance(obj, pikepdf.Dictionary) and "/FontFile" in obj and "/FontName" in obj
    ]


def _read_type1(program: bytes, tmp_path: Path) -> t1Lib.T1Font:
    """Parses a Type 1 program with fontTools' own file reader, independently of the pass."""
    path = tmp_path / "program.pfa"
    path.write_bytes(program + TRAILER)
    font = t1Lib.T1Font(str(path), kind="OTHER")
    font.parse()
    return font


def _read_cff(program: bytes) -> Any:
    font_set = CFFFontSet()
    font_set.decompile(io.BytesIO(program), None)
    return font_set, font_set[font_set.fontNames[0]]


def _geometry(glyph: Any, glyph_set: Any) -> tuple[list[float], list[float]]:
    """Returns a glyph's area, centroid and spread, and its bounds (seac drawn in full)."""
    statistics = StatisticsPen(glyphset=glyph_set)
    glyph.draw(statistics)
    bounds = BoundsPen(glyph_set)
    glyph.draw(bounds)
    moments = [statistics.area, statistics.meanX, statistics.meanY]
    moments += [statistics.stddevX, statistics.stddevY]
    return moments, list(bounds.bounds or (0, 0, 0, 0))


def _save(pdf: pikepdf.Pdf, path: Path) -> Path:
    pdf.save(path, object_stream_mode=pikepdf.ObjectStreamMode.generate, recompress_flate=True)
    return path


def _texts(path: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(path).pages]


@pytest.mark.parametrize("name", LATEX)
def test_latex_fonts_become_smaller_cff_programs(name: str, tmp_path: Path) -> None:
    """This test ensures that every Type 1 program of a LaTeX document becomes a smaller
    CFF program, and the document keeps its pages and its extractable text."""
    src = _corpus_file(name)
    # Saved once as is, so that both sides hold only reachable objects (one corpus file
    # has an unused font) and differ only by the conversion.
    with pikepdf.open(src) as pdf:
        before = _save(pdf, tmp_path / "before.pdf")
    with pikepdf.open(before) as pdf:
        font_names = sorted(str(d.FontName) for d in _type1_descriptors(pdf))
        report = convert_type1_fonts(pdf)
        after = _save(pdf, tmp_path / "after.pdf")
    assert report.programs_converted == len(font_names) > 0
    assert report.unreadable == report.unsupported == []
    assert 0 < report.bytes_after < report.bytes_before / 2
    assert after.stat().st_size < before.stat().st_size
    with pikepdf.open(after) as converted, pikepdf.open(src) as original:
        assert len(converted.pages) == len(original.pages)
        assert _type1_descriptors(converted) == []
        cff = [
            obj
            for obj in converted.objects
            if isinstance(obj, pikepdf.Dictionary) and "/FontFile3" in obj
        ]
        assert sorted(str(d.FontName) for d in cff) == font_names
        assert all(d.FontFile3.Subtype == "/Type1C" for d in cff)
    assert _texts(after) == _texts(src)


@pytest.mark.parametrize("name", LATEX)
def test_outlines_widths_names_and_encoding_are_kept(name: str, tmp_path: Path) -> None:
    """This test ensures that each CFF program draws every glyph of its Type 1 original
    with the same outline (to a unit), width and name, and has the same built-in encoding,
    font name, FontMatrix and FontBBox."""
    with pikepdf.open(_corpus_file(name)) as pdf:
        descriptors = _type1_descriptors(pdf)
        originals = [_read_type1(d.FontFile.read_bytes(), tmp_path) for d in descriptors]
        convert_type1_fonts(pdf)
        converted = [_read_cff(d.FontFile3.read_bytes()) for d in descriptors]
    for type1, (font_set, cff) in zip(originals, converted, strict=True):
        glyphs = type1.getGlyphSet()
        assert font_set.fontNames == [type1["FontName"]]
        assert list(cff.FontMatrix) == list(type1["FontMatrix"])
        assert list(cff.FontBBox) == list(type1["FontBBox"])
        assert set(cff.CharStrings.keys()) == set(glyphs.keys())
        for glyph_name in glyphs:
            moments, bounds = _geometry(glyphs[glyph_name], glyphs)
            new_moments, new_bounds = _geometry(cff.CharStrings[glyph_name], None)
            assert new_bounds == pytest.approx(bounds, abs=1), glyph_name
            assert new_moments[1:] == pytest.approx(moments[1:], abs=1), glyph_name
            assert new_moments[0] == pytest.approx(moments[0], rel=0.01, abs=1), glyph_name
            assert cff.CharStrings[glyph_name].width == pytest.approx(
                glyphs[glyph_name].width, abs=0.5
            ), glyph_name
        encoding = StandardEncoding if cff.Encoding == "StandardEncoding" else cff.Encoding
        assert list(encoding) == [
            code_name if code_name in glyphs else ".notdef" for code_name in type1["Encoding"]
        ]


def test_glyphs_no_code_reaches_are_dropped(tmp_path: Path) -> None:
    """This test ensures that a glyph outside the built-in encoding, which the font
    dictionary without /Encoding cannot select, is left out of the CFF program and out of
    the descriptor's /CharSet, while every encoded glyph stays."""
    with pikepdf.open(_corpus_file("sf_minimal-document.pdf")) as pdf:
        (descriptor,) = _type1_descriptors(pdf)
        program = descriptor.FontFile.read_bytes()
        # Take the glyph "a" out of the built-in encoding: no code of the font reaches it.
        unencoded, count = re.subn(rb"dup 97 /a put\s*", b"", program)
        assert count == 1
        descriptor.FontFile.write(unencoded)
        report = convert_type1_fonts(pdf)
        _, cff = _read_cff(descriptor.FontFile3.read_bytes())
        charset = str(descriptor.CharSet)
    assert report.programs_converted == 1
    assert "a" not in cff.CharStrings
    assert {".notdef", "b", "e"} <= set(cff.CharStrings.keys())
    assert "/a/" not in charset + "/"
    assert "/b/" in charset + "/"


@pytest.mark.parametrize("encoding", ["/WinAnsiEncoding", "differences"])
def test_glyphs_a_named_or_differences_encoding_reaches_are_kept(
    encoding: str, tmp_path: Path
) -> None:
    """This test ensures that a glyph outside the built-in encoding stays in the CFF
    program when the font dictionary can select it: by a named encoding or /Differences."""
    with pikepdf.open(_corpus_file("sf_minimal-document.pdf")) as pdf:
        (descriptor,) = _type1_descriptors(pdf)
        program = descriptor.FontFile.read_bytes()
        descriptor.FontFile.write(re.sub(rb"dup 97 /a put\s*", b"", program))
        font = next(
            obj
            for obj in pdf.objects
            if isinstance(obj, pikepdf.Dictionary) and obj.get("/FontDescriptor") == descriptor
        )
        font.Encoding = (
            pikepdf.Name(encoding)
            if encoding.startswith("/")
            else pikepdf.Dictionary(Differences=[200, pikepdf.Name("/a")])
        )
        report = convert_type1_fonts(pdf)
        _, cff = _read_cff(descriptor.FontFile3.read_bytes())
    assert report.programs_converted == 1
    assert "a" in cff.CharStrings


def _font_pdf(program: bytes, *, subtype: str = "/Type1") -> pikepdf.Pdf:
    """Returns a one-page PDF drawing text with a simple font embedding ``program``."""
    pdf = pikepdf.new()
    font_file = pdf.make_indirect(pikepdf.Stream(pdf, program))
    font_file.Length1 = len(program)
    descriptor = docgen.font_descriptor("/Broken", FontFile=font_file)
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name(subtype),
            BaseFont=pikepdf.Name("/Broken"),
            FirstChar=32,
            LastChar=126,
            Widths=[500] * 95,
            FontDescriptor=pdf.make_indirect(descriptor),
        )
    )
    page = pdf.add_blank_page(page_size=(200, 100))
    page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    page.Contents = pdf.make_stream(b"BT /F1 12 Tf 10 50 Td (Hello) Tj ET")
    return pdf


def test_damaged_program_is_kept_byte_for_byte(tmp_path: Path) -> None:
    """This test ensures that a /FontFile whose header looks like Type 1 but whose
    encrypted part is random bytes is reported unreadable and saved exactly as it was."""
    rng = random.Random(5)  # noqa: S311 - reproducible damage, not secrets
    program = (
        b"%!PS-AdobeFont-1.0: Broken 001.000\n"
        b"11 dict begin\n/FontType 1 def\n/FontName /Broken def\n"
        b"currentfile eexec\n" + bytes(rng.randrange(256) for _ in range(4000))
    )
    pdf = _font_pdf(program)
    report = convert_type1_fonts(pdf)
    assert report.programs_converted == 0
    assert len(report.unreadable) == 1
    saved = _save(pdf, tmp_path / "out.pdf")
    with pikepdf.open(saved) as reopened:
        (descriptor,) = _type1_descriptors(reopened)
        assert "/FontFile3" not in descriptor
        assert descriptor.FontFile.read_bytes() == program


def test_truncated_program_is_kept(tmp_path: Path) -> None:
    """This test ensures that a real Type 1 program cut short in its charstrings is
    reported unreadable and left in place, and the rest of the document still converts."""
    with pikepdf.open(_corpus_file("sf_multicolumn.pdf")) as pdf:
        descriptors = _type1_descriptors(pdf)
        damaged = descriptors[0].FontFile
        program = damaged.read_bytes()
        damaged.write(program[: len(program) * 2 // 3])
        report = convert_type1_fonts(pdf)
        assert report.unreadable == [f"font program {damaged.objgen[0]}"]
        assert report.programs_converted == len(descriptors) - 1
        assert descriptors[0].FontFile.read_bytes() == program[: len(program) * 2 // 3]
        assert all("/FontFile3" in d for d in descriptors[1:])


def test_program_shared_with_a_truetype_font_is_left_alone() -> None:
    """This test ensures that a program some non-Type 1 font also uses is not rewritten."""
    with pikepdf.open(_corpus_file("sf_minimal-document.pdf")) as pdf:
        (descriptor,) = _type1_descriptors(pdf)
        program = descriptor.FontFile.read_raw_bytes()
        font = next(
            obj
            for obj in pdf.objects
            if isinstance(obj, pikepdf.Dictionary) and obj.get("/FontDescriptor") == descriptor
        )
        other = pdf.make_indirect(pikepdf.Dictionary(dict(font.items())))
        other.Subtype = pikepdf.Name.TrueType
        pdf.pages[0].Resources.Font.Fshared = other
        report = convert_type1_fonts(pdf)
        assert report.programs_converted == 0
        assert descriptor.FontFile.read_raw_bytes() == program


def test_program_with_hexadecimal_eexec_part_converts(tmp_path: Path) -> None:
    """This test ensures that a program whose encrypted part is written in hexadecimal
    (allowed by the Type 1 format) converts to the same glyphs as its binary form."""
    with pikepdf.open(_corpus_file("sf_minimal-document.pdf")) as pdf:
        (descriptor,) = _type1_descriptors(pdf)
        program = descriptor.FontFile.read_bytes()
        cleartext = int(descriptor.FontFile.Length1)
        encrypted = program[cleartext:]
        lines = [encrypted[i : i + 32].hex().encode() for i in range(0, len(encrypted), 32)]
        descriptor.FontFile.write(program[:cleartext] + b"\n".join(lines) + b"\n")
        original = _read_type1(program, tmp_path)
        report = convert_type1_fonts(pdf)
        _, cff = _read_cff(descriptor.FontFile3.read_bytes())
    assert report.programs_converted == 1
    glyphs = original.getGlyphSet()
    assert set(cff.CharStrings.keys()) == set(glyphs.keys())
    for glyph_name in glyphs:
        assert _geometry(cff.CharStrings[glyph_name], None) == _geometry(glyphs[glyph_name], glyphs)
