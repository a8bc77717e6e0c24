"""Type 1 font programs re-embedded as CFF for the lossy profiles.

LaTeX and older producers embed PostScript Type 1 programs (``/FontFile``): a cleartext
part, then an eexec-encrypted part whose glyphs are charstrings encrypted a second time.
Encryption makes the program incompressible, so a subset of CMR10 costs 14 KB in a PDF.
The same outlines as a bare CFF program (``/FontFile3 /Subtype /Type1C``, PDF 32000-1
§9.9) are unencrypted, use the denser Type 2 charstring encoding, and deflate well: about
a third of the bytes. ghostscript's ``/ebook`` does this rewrite; this pass does it
without ghostscript's losses.

What the CFF program keeps, so that every page draws the same glyphs:

- every glyph outline, redrawn by fontTools' Type 1 charstring interpreter (subroutines,
  flex, hint replacement and ``seac`` accented characters, which become plain outlines);
- each glyph's name (the charset) and advance width; the PDF's ``/Widths`` still govern
  positioning, as they did;
- the font's built-in encoding, which PDF font dictionaries without ``/Encoding`` (or with
  ``/Differences`` over it) rely on; a standard-encoded font keeps CFF's standard encoding;
- the font name, ``FontMatrix`` (fonts with other than 1000 units exist), ``FontBBox``,
  the ``FontInfo`` strings (the copyright notice among them) and the font-wide alignment
  zones and stem widths of the ``Private`` dictionary.

What it does not keep: the glyphs' own stem hints. fontTools' Type 2 charstring pen writes
outlines only, so the CFF glyphs are unhinted. PDF viewers render unhinted CFF with their
own anti-aliasing: ghostscript 10 draws the corpus LaTeX documents pixel for pixel the
same before and after (100 DPI with and without anti-aliasing, and 300 DPI), since its
rasteriser does not grid-fit Type 1 glyphs either. A viewer that does apply Type 1 hints
at small sizes may move a few edge pixels: the trade the lossy profiles make. The
font-wide alignment zones are kept. Glyphs that none of the fonts' 256 codes can reach are
dropped when the fonts use the built-in encoding or ``/Differences`` over it (LaTeX's
programs are subsets already, so this rarely matters).

A program is rewritten only when every font using it is a simple ``/Type1`` (or
``/MMType1``) font and the CFF program is smaller once deflated. Programs that fontTools
cannot read (damaged, hex or binary oddities it rejects), Multiple Master programs, and
programs whose features the rewrite cannot carry (``sbw`` metrics, a glyph at two codes of
the built-in encoding) are left exactly as they were.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from functions.documents.compress.fonts import font_dictionaries, subset_tag, tag_as_subset
from functions.documents.compress.type1_cff import cff_program
from functions.documents.compress.type1_parse import UnsupportedProgramError, parse_type1

if TYPE_CHECKING:
    import pikepdf


# Font dictionary subtypes whose font program is a Type 1 program in /FontFile.
_TYPE1_SUBTYPES = frozenset({"/Type1", "/MMType1"})


@dataclass
class Type1Report:
    """What the Type 1 pass did, for the benchmarks and the tests.

    Attributes:
        programs_converted: Type 1 programs replaced by CFF programs.
        bytes_before: Stored (filtered) size of the replaced Type 1 programs.
        bytes_after: Size of their CFF replacements deflated at level 9, as the save
            stores them.
        unreadable: Programs fontTools could not read, kept as they were.
        unsupported: Programs it could read whose features CFF conversion does not
            carry (Multiple Master, ``sbw`` metrics, ...), kept as they were.
    """

    programs_converted: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    unreadable: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)


def convert_type1_fonts(
    pdf: pikepdf.Pdf, fonts: list[pikepdf.Dictionary] | None = None
) -> Type1Report:
    """Replaces every Type 1 program that only simple Type 1 fonts use by a CFF program.

    Args:
        pdf: The open document; its font descriptors are rewritten in place (``/FontFile``
            becomes ``/FontFile3`` with ``/Subtype /Type1C``).
        fonts: The document's :func:`font_dictionaries`, when the caller has them already.

    Returns:
        What was converted, and which programs were kept as they were, and why.
    """
    import pikepdf

    report = Type1Report()
    users: dict[tuple[int, int], list[pikepdf.Dictionary]] = {}
    programs: dict[tuple[int, int], pikepdf.Stream] = {}
    for font in font_dictionaries(pdf) if fonts is None else fonts:
        descriptor = font.get("/FontDescriptor")
        if not isinstance(descriptor, pikepdf.Dictionary) or "/FontFile3" in descriptor:
            continue
        program = descriptor.get("/FontFile")
        if isinstance(program, pikepdf.Stream) and program.is_indirect:
            programs[program.objgen] = program
            users.setdefault(program.objgen, []).append(font)
    for objgen, program in programs.items():
        fonts = users[objgen]
        if all(font.get("/Subtype") in _TYPE1_SUBTYPES for font in fonts):
            _convert_program(pdf, program, fonts, report)
    return report


def _convert_program(
    pdf: pikepdf.Pdf,
    program: pikepdf.Stream,
    fonts: list[pikepdf.Dictionary],
    report: Type1Report,
) -> None:
    import pikepdf
    from fontTools.misc.psLib import PSError, PSTokenError
    from fontTools.pens.basePen import MissingComponentError
    from fontTools.t1Lib import T1Error

    name = f"font program {program.objgen[0]}"
    try:
        raw_length = len(program.read_raw_bytes())
        data = program.read_bytes()
    except pikepdf.PdfError:
        report.unreadable.append(name)
        return
    try:
        type1 = parse_type1(data)
        keep = _reachable_glyphs(fonts, type1.get("Encoding"))
        converted = cff_program(type1, keep)
    except UnsupportedProgramError:
        report.unsupported.append(name)
        return
    except (
        T1Error,
        PSError,
        PSTokenError,
        MissingComponentError,
        KeyError,
        IndexError,
        ValueError,
        TypeError,
        AssertionError,
        struct.error,
        RecursionError,
        ZeroDivisionError,
    ):
        # fontTools' PostScript and charstring interpreters raise these for damaged or
        # unusual programs (a missing dictionary, a truncated charstring, a subroutine
        # calling itself); such a font is kept as it was, and the document still compresses.
        report.unreadable.append(name)
        return
    stored = len(zlib.compress(converted.data, 9))
    if stored >= raw_length:
        return
    # Unfiltered: the save deflates it once, at level 9.
    replacement = pdf.make_indirect(pikepdf.Stream(pdf, converted.data))
    replacement.Subtype = pikepdf.Name("/Type1C")
    descriptors = {id(font.FontDescriptor): font.FontDescriptor for font in fonts}
    for descriptor in descriptors.values():
        del descriptor["/FontFile"]
        descriptor.FontFile3 = replacement
        if not converted.kept_all and "/CharSet" in descriptor:
            # The glyph list a descriptor declares must name the glyphs the program has.
            descriptor.CharSet = pikepdf.String(
                "".join(f"/{glyph}" for glyph in converted.glyphs if glyph != ".notdef")
            )
    if not converted.kept_all:
        # Glyphs were dropped: the font is now a subset, which its name must say.
        tag = subset_tag(converted.data)
        for font in fonts:
            tag_as_subset(font, tag)
    report.programs_converted += 1
    report.bytes_before += raw_length
    report.bytes_after += stored


def _reachable_glyphs(fonts: list[pikepdf.Dictionary], builtin: Any) -> frozenset[str] | None:
    """Returns the glyph names the fonts' codes can select, or None for "any glyph".

    A font without ``/Encoding``, or with ``/Differences`` and no ``/BaseEncoding``, maps
    its codes through the program's built-in encoding (PDF 32000-1 §9.6.5.1), changed by
    the differences; nothing else can be drawn. A named encoding (WinAnsi, MacRoman...)
    may select any glyph by name, so every glyph is kept then.
    """
    import pikepdf

    if not isinstance(builtin, list):
        return None
    names = {name for name in builtin if isinstance(name, str)}
    for font in fonts:
        encoding = font.get("/Encoding")
        if encoding is None:
            continue
        if not isinstance(encoding, pikepdf.Dictionary) or "/BaseEncoding" in encoding:
            return None
        differences = encoding.get("/Differences", pikepdf.Array())
        if not isinstance(differences, pikepdf.Array):
            return None
        names.update(str(item)[1:] for item in differences if isinstance(item, pikepdf.Name))
    return frozenset(names)
