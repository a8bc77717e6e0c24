"""Font subsetting for the lossy profiles: keep every glyph a document can draw, no more.

Form producers embed whole font programs: Acrobat puts all of Arial (4,503 glyphs, 1 MB)
into a form's ``/AcroForm /DR`` so that fields can be filled. A *simple* font (``/Subtype
/TrueType`` or ``/Type1``, one byte per character) can only ever draw the glyphs its 256
codes reach, so the rest of the program is dead weight: subsetting to those glyphs
shrinks such a font about tenfold (1.1 MB to 100 KB in one corpus form) and changes no
rendering. TrueType programs (``/FontFile2``) and OpenType programs with CFF outlines
(``/FontFile3 /Subtype /OpenType``) are subset; bare CFF and Type 1 programs are not.

What is kept, so that no code a viewer can look up loses its glyph:

- glyph ids and glyph names are retained (``retain_gids``): the subset draws each glyph
  with the same id, through whichever cmap subtable or name the viewer uses;
- for each of the 256 codes, the glyphs every cmap subtable maps it to (the Macintosh
  ``(1, 0)`` table at the code, the symbol ``(3, 0)`` table at the code and at
  ``0xF000 + code``, and so on), and the glyphs of every Unicode value the code can mean
  under the standard, WinAnsi, MacRoman and PDFDoc encodings and the font's own
  ``/Differences``, by Unicode and by glyph name;
- the hinting programs and instructions, so small text renders as before.

Layout tables (``GSUB``, ``GPOS``, ``kern``...) are dropped first: a PDF positions every
glyph itself and no viewer shapes a simple font's text. Composite (``Type0``) fonts, whose
two-byte codes can reach any glyph, and font programs that fontTools cannot read are left
exactly as they are. The font is renamed with a subset tag (``ABCDEF+ArialMT``,
PDF 32000-1 §9.6.4), which tells a form filler the program no longer holds every glyph.
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pikepdf

# Only programs larger than this are worth parsing: the subset of a small font saves a
# few kilobytes at most, and most small programs are already subsets.
_MIN_PROGRAM_BYTES = 16 * 1024
# A subset replaces the program only when it saves at least this share of it.
_MIN_SAVING = 0.1
# Tables a PDF viewer reads from an embedded TrueType program (PDF 32000-1 §9.9 lists the
# first nine; the cmaps, glyph names, metrics and names are read for lookup and display),
# and the outlines of an OpenType program with CFF outlines.
_KEEP_TABLES = frozenset(
    {"head", "hhea", "loca", "maxp", "cvt ", "prep", "glyf", "hmtx", "fpgm", "cmap", "post",
     "OS/2", "name", "gasp", "CFF ", "GlyphOrder"}
)  # fmt: skip
# Font dictionaries that address glyphs with one-byte codes.
_SIMPLE_FONTS = frozenset({"/TrueType", "/Type1", "/MMType1"})
# Encodings a viewer may apply to a simple font's codes when the font dictionary says
# nothing, or says one of them; their union bounds what a code can mean.
_CODECS = ("latin-1", "cp1252", "mac_roman")


@dataclass
class FontReport:
    """What the font pass did (sizes are of decoded programs), for benchmarks and tests."""

    fonts_subset: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    unreadable: list[str] = field(default_factory=list)


def subset_fonts(pdf: pikepdf.Pdf, fonts: list[pikepdf.Dictionary] | None = None) -> FontReport:
    """Subsets every embedded TrueType or OpenType program that only simple fonts use.

    Args:
        pdf: The open document; its font programs are rewritten in place.
        fonts: The document's :func:`font_dictionaries`, when the caller has them already.

    Returns:
        What was subset, and which programs could not be read (kept as they were).
    """
    import pikepdf

    report = FontReport()
    users: dict[tuple[int, int], list[pikepdf.Dictionary]] = {}
    programs: dict[tuple[int, int], pikepdf.Stream] = {}
    for font in font_dictionaries(pdf) if fonts is None else fonts:
        descriptor = font.get("/FontDescriptor")
        if not isinstance(descriptor, pikepdf.Dictionary):
            continue
        program = descriptor.get("/FontFile2")
        if program is None:
            program = descriptor.get("/FontFile3")
            if isinstance(program, pikepdf.Stream) and program.get("/Subtype") != "/OpenType":
                continue  # a bare CFF (Type1C, CIDFontType0C) program
        if isinstance(program, pikepdf.Stream) and program.is_indirect:
            programs[program.objgen] = program
            users.setdefault(program.objgen, []).append(font)
    for objgen, program in programs.items():
        fonts = users[objgen]
        if not all(font.get("/Subtype") in _SIMPLE_FONTS for font in fonts):
            continue  # a CIDFont addresses glyphs by id: every glyph may be drawn
        _subset_program(program, fonts, report)
    return report


def font_dictionaries(pdf: pikepdf.Pdf) -> list[pikepdf.Dictionary]:
    """Returns every dictionary with a ``/FontDescriptor``, indirect or nested directly.

    A program shared by a simple font and a composite one must be seen through both, so
    fonts nested as direct objects (in a ``/DescendantFonts`` array, a resource
    dictionary) are found too, not only indirect ones.
    """
    import pikepdf

    found: list[pikepdf.Dictionary] = []
    seen: set[int] = set()

    def visit(obj: Any) -> None:
        if isinstance(obj, pikepdf.Dictionary):
            if "/FontDescriptor" in obj and id(obj) not in seen:
                seen.add(id(obj))
                found.append(obj)
            children = obj.values()
        elif isinstance(obj, pikepdf.Array):
            children = list(obj)
        else:
            return
        for child in children:
            if isinstance(child, pikepdf.Dictionary | pikepdf.Array) and not child.is_indirect:
                visit(child)

    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Dictionary | pikepdf.Array):
            visit(obj)
    return found


def _subset_program(
    program: pikepdf.Stream, fonts: list[pikepdf.Dictionary], report: FontReport
) -> None:
    import pikepdf
    from fontTools.ttLib import TTLibError

    name = f"font program {program.objgen[0]}"
    try:
        raw_length = len(program.read_raw_bytes())
        if raw_length < _MIN_PROGRAM_BYTES:
            return
        data = program.read_bytes()
    except pikepdf.PdfError:
        report.unreadable.append(name)
        return
    try:
        subset = _subset_sfnt(data, _codes_meaning(fonts))
    except (TTLibError, struct.error, ValueError, KeyError, IndexError, AssertionError):
        # fontTools raises these for damaged or unusual programs; such a font is kept as
        # it was, and the document still compresses.
        report.unreadable.append(name)
        return
    if subset is None or len(subset) > len(data) * (1 - _MIN_SAVING):
        return
    program.write(subset)  # unfiltered: the save compresses it once, at level 9
    for key in ("/DecodeParms", "/Length2", "/Length3"):
        if key in program:
            del program[key]
    if "/Subtype" not in program:
        program.Length1 = len(subset)  # a FontFile2's decoded length (FontFile3 has none)
    tag = subset_tag(subset)
    for font in fonts:
        tag_as_subset(font, tag)
    report.fonts_subset += 1
    report.bytes_before += len(data)
    report.bytes_after += len(subset)


@dataclass(frozen=True)
class _Meanings:
    """What the 256 codes of the fonts sharing one program can stand for."""

    unicodes: frozenset[int]
    glyph_names: frozenset[str]


def _codes_meaning(fonts: list[pikepdf.Dictionary]) -> _Meanings:
    """Returns every Unicode value and glyph name the fonts' one-byte codes may denote."""
    import pikepdf
    from fontTools import agl
    from fontTools.encodings.StandardEncoding import StandardEncoding

    codes = bytes(range(256))
    unicodes = {ord(char) for codec in _CODECS for char in codes.decode(codec, "replace")}
    names = {name for name in StandardEncoding if name != ".notdef"}
    for font in fonts:
        encoding = font.get("/Encoding")
        differences = (
            encoding.get("/Differences") if isinstance(encoding, pikepdf.Dictionary) else None
        )
        if isinstance(differences, pikepdf.Array):
            names.update(str(item)[1:] for item in differences if isinstance(item, pikepdf.Name))
    for glyph_name in names:
        unicodes.update(ord(char) for char in agl.toUnicode(glyph_name))
    unicodes.update(range(0xF000, 0xF100))  # symbol fonts' (3, 0) cmap range
    unicodes.discard(0xFFFD)
    return _Meanings(frozenset(unicodes), frozenset(names))


def _subset_sfnt(data: bytes, meanings: _Meanings) -> bytes | None:
    """Returns the program with only the glyphs the codes can reach, or None if unsuitable.

    Raises:
        TTLibError, struct.error, ValueError, KeyError, IndexError, AssertionError: the
            program is damaged in a way fontTools reports.
    """
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(io.BytesIO(data), lazy=True, recalcBBoxes=False, recalcTimestamp=False)
    if ("glyf" not in font and "CFF " not in font) or "cmap" not in font:
        return None  # CFF2 (variable) outlines, or no cmap to find the glyphs with
    for tag in list(font.keys()):
        if tag not in _KEEP_TABLES:
            # Deleting before subsetting also saves decoding them: GPOS alone is most of
            # the subsetting time of a full Arial.
            del font[tag]
    order = set(font.getGlyphOrder())
    glyphs = {".notdef"} | (meanings.glyph_names & order)
    for table in font["cmap"].tables:
        mapping = table.cmap
        if table.isUnicode():
            glyphs.update(mapping[u] for u in meanings.unicodes if u in mapping)
        else:
            # (1, 0), (3, 0) and other byte-coded tables: a viewer looks codes up directly.
            for code in range(256):
                for key in (code, 0xF000 + code, 0xF100 + code, 0xF200 + code):
                    if key in mapping:
                        glyphs.add(mapping[key])
    options = subset.Options()
    options.retain_gids = True
    options.notdef_outline = True
    options.glyph_names = True
    options.legacy_cmap = True
    options.symbol_cmap = True
    options.hinting = True
    options.layout_features = []
    options.layout_closure = False
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.name_legacy = True
    options.recalc_bounds = False
    options.recalc_timestamp = False
    options.canonical_order = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(glyphs=sorted(glyphs), unicodes=sorted(meanings.unicodes))
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def subset_tag(program: bytes) -> str:
    """Returns six capital letters derived from the program (stable across retries)."""
    digest = hashlib.sha256(program).digest()
    return "".join(chr(ord("A") + byte % 26) for byte in digest[:6])


def tag_as_subset(font: pikepdf.Dictionary, tag: str) -> None:
    """Prefixes the font's names with the subset tag, unless they carry one already."""
    import pikepdf

    descriptor = font.get("/FontDescriptor")
    for holder, key in ((font, "/BaseFont"), (descriptor, "/FontName")):
        if not isinstance(holder, pikepdf.Dictionary):
            continue
        value = holder.get(key)
        if isinstance(value, pikepdf.Name) and not _has_subset_tag(str(value)[1:]):
            holder[key] = pikepdf.Name(f"/{tag}+{str(value)[1:]}")


def _has_subset_tag(name: str) -> bool:
    prefix, plus, _ = name.partition("+")
    return bool(plus) and len(prefix) == 6 and prefix.isalpha() and prefix.isupper()
