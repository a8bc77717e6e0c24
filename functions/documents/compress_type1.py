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

import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from functions.documents.compress_fonts import font_dictionaries, subset_tag, tag_as_subset

if TYPE_CHECKING:
    import pikepdf

# Font dictionary subtypes whose font program is a Type 1 program in /FontFile.
_TYPE1_SUBTYPES = frozenset({"/Type1", "/MMType1"})
# Keys of a Type 1 FontInfo dictionary that CFF's Top DICT holds too (string or number).
_FONT_INFO_STRINGS = ("version", "Notice", "Copyright", "FullName", "FamilyName", "Weight")
_FONT_INFO_NUMBERS = ("ItalicAngle", "UnderlinePosition", "UnderlineThickness")
# Private dictionary values that describe the whole font (alignment zones, standard stem
# widths) rather than one glyph; CFF's Private DICT has the same keys.
_PRIVATE_ARRAYS = (
    "BlueValues", "OtherBlues", "FamilyBlues", "FamilyOtherBlues", "StemSnapH", "StemSnapV"
)  # fmt: skip
_PRIVATE_NUMBERS = ("BlueScale", "BlueShift", "BlueFuzz", "LanguageGroup", "ExpansionFactor")
# Keys only a Multiple Master program has: its glyphs blend several designs, which a
# plain CFF program cannot express.
_MULTIPLE_MASTER_KEYS = ("BlendDesignPositions", "BlendDesignMap", "WeightVector", "Blend")
# The end of an eexec section: 512 zeros (whitespace allowed between them) and
# cleartomark. PDF producers may leave it out (/Length3 0); fontTools' reader needs it.
_TRAILER = re.compile(rb"(0[ \t\r\n]*){512}")
_ZEROS_TRAILER = b"\n" + (b"0" * 64 + b"\n") * 8 + b"cleartomark\n"
_PS_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}
_PS_ESCAPE = re.compile(rb"\\([0-7]{1,3}|\r\n|[\s\S])")


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


class _UnsupportedProgramError(Exception):
    """The program is readable Type 1, but has something this rewrite cannot carry."""


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
        type1 = _parse_type1(data)
        keep = _reachable_glyphs(fonts, type1.get("Encoding"))
        converted = _cff_program(type1, keep)
    except _UnsupportedProgramError:
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


def _parse_type1(data: bytes) -> dict[str, Any]:
    """Returns the font dictionary of a Type 1 program, its charstrings decrypted.

    This is what ``t1Lib.T1Font.parse`` does, with the decryption done here: fontTools
    decrypts a byte at a time through two function calls, and decrypts the eexec part
    twice (once to find its end), which made it most of the pass's time (sf_multicolumn:
    0.17 s of fontTools decryption for 69 KB of fonts). The eexec part is decrypted once
    and handed to the PostScript interpreter as plain text.

    Raises:
        T1Error, PSError, PSTokenError, KeyError, ValueError, ...: the program is not
            readable Type 1 (see ``_convert_program``).
        _UnsupportedProgramError: it is a Multiple Master program.
    """
    from fontTools import t1Lib
    from fontTools.misc import psCharStrings, psLib

    t1Lib.assertType1(data)
    if _TRAILER.search(data) is None:
        data += _ZEROS_TRAILER
    begin = data.find(t1Lib.EEXECBEGIN)
    if begin < 0:
        raise t1Lib.T1Error("no eexec part")
    start = begin + len(t1Lib.EEXECBEGIN) + 1  # the one whitespace byte after "eexec"
    end = t1Lib.EEXECEND.search(data, start)
    if end is None:
        raise t1Lib.T1Error("can't find end of eexec part")
    cipher = data[start : end.start()]
    if t1Lib.isHex(cipher[:4]):
        cipher = t1Lib.deHexString(cipher)
    plain = _decrypt(cipher, _EEXEC_KEY)[4:]  # four random bytes start the eexec part
    internal_end = plain.find(t1Lib.EEXECINTERNALEND)
    if internal_end < 0:
        raise t1Lib.T1Error("can't find end of eexec part")
    # "mark currentfile closefile" then ends the private part for the interpreter, as
    # it does after decrypting; the zeros and cleartomark follow.
    source = b"\n".join(
        (data[:begin], plain[: internal_end + len(t1Lib.EEXECINTERNALEND)], data[end.start() :])
    )
    parsed: dict[str, Any] = psLib.suckfont(source, "ascii")
    if parsed.get("FontType") != 1:
        raise _UnsupportedProgramError("not FontType 1")
    private = parsed["Private"]
    if any(key in parsed or key in private for key in _MULTIPLE_MASTER_KEYS):
        raise _UnsupportedProgramError("a Multiple Master program")
    # lenIV: the random bytes that start each charstring; -1 means not encrypted.
    skip = int(private.get("lenIV", 4))
    subrs = private.get("Subrs", [])
    charstrings = parsed["CharStrings"]

    def decoded(charstring: bytes) -> Any:
        code = charstring if skip < 0 else _decrypt(charstring, _CHARSTRING_KEY)[skip:]
        return psCharStrings.T1CharString(code, subrs=subrs)

    for name, charstring in charstrings.items():
        charstrings[name] = decoded(charstring)
    for index, charstring in enumerate(subrs):
        subrs[index] = decoded(charstring)
    return parsed


# Initial keys of Type 1 encryption (Adobe Type 1 Font Format, 7.2): the eexec part and
# each charstring.
_EEXEC_KEY = 55665
_CHARSTRING_KEY = 4330


def _decrypt(cipher: bytes, key: int) -> bytes:
    """Decrypts Type 1 ciphertext: each byte is XORed with the key, fed back by the cipher."""
    plain = bytearray(len(cipher))
    for index, byte in enumerate(cipher):
        plain[index] = byte ^ (key >> 8)
        key = ((byte + key) * 52845 + 22719) & 0xFFFF
    return bytes(plain)


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


@dataclass(frozen=True)
class _Program:
    """A compiled CFF program and the glyphs it holds, in charset order."""

    data: bytes
    glyphs: tuple[str, ...]
    kept_all: bool


def _cff_program(type1: dict[str, Any], keep: frozenset[str] | None) -> _Program:
    """Returns the bare CFF program drawing the same glyphs as the parsed Type 1 font.

    Args:
        type1: The font dictionary from :func:`_parse_type1`.
        keep: The glyphs to keep (``.notdef`` always is), or None for all of them.

    Raises:
        KeyError, ValueError, TypeError, MissingComponentError, ...: the program is
            damaged (a missing dictionary, a ``seac`` naming an absent glyph).
        _UnsupportedProgramError: it has something CFF conversion does not carry.
    """
    from fontTools.cffLib.width import optimizeWidths
    from fontTools.encodings.StandardEncoding import StandardEncoding
    from fontTools.fontBuilder import FontBuilder
    from fontTools.misc.roundTools import otRound
    from fontTools.pens.recordingPen import DecomposingRecordingPen, replayRecording
    from fontTools.pens.t2CharStringPen import T2CharStringPen

    glyph_set = type1["CharStrings"]
    builtin = type1["Encoding"]
    if not isinstance(builtin, list) or len(builtin) != 256:
        raise ValueError("the built-in encoding is not an array of 256 names")
    standard = builtin == StandardEncoding
    kept = [name for name in glyph_set if keep is None or name in keep or name == ".notdef"]
    code_of: dict[str, int] = {}
    for code, name in enumerate(builtin):
        if name == ".notdef" or name not in glyph_set or (keep is not None and name not in keep):
            continue
        if name in code_of and not standard:
            # cffLib writes no encoding supplements, which a second code would need.
            raise _UnsupportedProgramError("a glyph at two codes of the built-in encoding")
        code_of.setdefault(name, code)
    # Encoded glyphs first and in code order: cffLib gives code 0 to an unencoded glyph
    # that precedes an encoded one, and trims unencoded glyphs only at the end.
    order = [".notdef", *sorted(code_of, key=code_of.__getitem__)]
    order += [name for name in kept if name not in code_of and name != ".notdef"]

    outlines: dict[str, list[Any]] = {}
    widths: dict[str, int] = {}
    for name in order:
        if name not in glyph_set:  # a program without .notdef: CFF requires one
            outlines[name], widths[name] = [], 0
            continue
        charstring = glyph_set[name]
        pen = DecomposingRecordingPen(glyph_set, skipMissingComponents=False)
        charstring.draw(pen)  # seac accents arrive as components and are decomposed
        if "sbw" in charstring.program:
            # fontTools' interpreter ignores sbw (vertical metrics and side bearing).
            raise _UnsupportedProgramError("sbw metrics")
        outlines[name], widths[name] = pen.value, otRound(charstring.width)
    default_width, nominal_width = optimizeWidths(list(widths.values()))
    charstrings = {}
    for name in order:
        width = widths[name]
        t2_pen = T2CharStringPen(None if width == default_width else width - nominal_width, None)
        replayRecording(outlines[name], t2_pen)
        charstrings[name] = t2_pen.getCharString()

    encoding: str | list[str] = "StandardEncoding"
    if not standard:
        encoding = [
            name if code_of.get(name) == code else ".notdef" for code, name in enumerate(builtin)
        ]
    top: dict[str, Any] = {
        "FontMatrix": _numbers(type1["FontMatrix"], 6),
        "FontBBox": _numbers(type1["FontBBox"], 4),
        "Encoding": encoding,
    }
    info = type1.get("FontInfo", {})
    for key in _FONT_INFO_STRINGS:
        if isinstance(info.get(key), str):
            top[key] = _ps_string(info[key])
    for key in _FONT_INFO_NUMBERS:
        if isinstance(info.get(key), int | float):
            top[key] = info[key]
    if info.get("isFixedPitch"):
        top["isFixedPitch"] = 1
    if type1.get("PaintType", 0) != 0:
        top["PaintType"] = _numbers([type1["PaintType"]], 1)[0]
        top["StrokeWidth"] = _numbers([type1.get("StrokeWidth", 0)], 1)[0]
    private: dict[str, Any] = {"defaultWidthX": default_width, "nominalWidthX": nominal_width}
    source = type1["Private"]
    for key in _PRIVATE_ARRAYS:
        if isinstance(source.get(key), list | tuple) and source[key]:
            private[key] = _numbers(source[key], len(source[key]))
    for key in _PRIVATE_NUMBERS:
        if isinstance(source.get(key), int | float):
            private[key] = source[key]
    for key in ("StdHW", "StdVW"):  # a one-number array in Type 1, a number in CFF
        if isinstance(source.get(key), list | tuple) and len(source[key]) == 1:
            private[key] = _numbers(source[key], 1)[0]
    if source.get("ForceBold"):
        private["ForceBold"] = True

    name = type1["FontName"]
    if not isinstance(name, str):
        raise TypeError("FontName is not a name")
    builder = FontBuilder(1000, isTTF=False)  # units are the FontMatrix's, set below
    builder.setupGlyphOrder(order)
    builder.setupCFF(name, top, charstrings, private)
    builder.font.recalcBBoxes = False  # keep the program's FontBBox
    data = builder.font["CFF "].compile(builder.font)
    return _Program(data, tuple(order), kept_all=len(order) >= len(glyph_set))


def _numbers(values: Any, count: int) -> list[int | float]:
    """Returns ``values`` as a list of ``count`` numbers.

    Raises:
        ValueError: they are not that many numbers.
    """
    numbers = list(values) if isinstance(values, list | tuple) else []
    if len(numbers) != count or not all(
        isinstance(value, int | float) and not isinstance(value, bool) for value in numbers
    ):
        raise ValueError(f"expected {count} numbers, found {values!r}")
    return numbers


def _ps_string(text: str) -> str:
    """Returns a PostScript string's text with its backslash escapes resolved (PLRM 3.2.2).

    fontTools keeps them as written: ``Copyright \\050c\\051`` means ``Copyright (c)``.
    """

    def resolve(match: re.Match[bytes]) -> bytes:
        escape = match.group(1)
        if escape[:1].isdigit():
            return bytes([int(escape, 8) & 0xFF])
        if escape in (b"\n", b"\r", b"\r\n"):
            return b""  # a backslash before a line break continues the line
        return _PS_ESCAPES.get(escape, escape)

    return _PS_ESCAPE.sub(resolve, text.encode("latin-1")).decode("latin-1")
