"""A parsed Type 1 font rebuilt as a bare CFF program with fontTools' FontBuilder."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from functions.documents.compress.type1_parse import UnsupportedProgramError

# Keys of a Type 1 FontInfo dictionary that CFF's Top DICT holds too (string or number).
_FONT_INFO_STRINGS = ("version", "Notice", "Copyright", "FullName", "FamilyName", "Weight")


_FONT_INFO_NUMBERS = ("ItalicAngle", "UnderlinePosition", "UnderlineThickness")


# Private dictionary values that describe the whole font (alignment zones, standard stem
# widths) rather than one glyph; CFF's Private DICT has the same keys.
_PRIVATE_ARRAYS = (
    "BlueValues", "OtherBlues", "FamilyBlues", "FamilyOtherBlues", "StemSnapH", "StemSnapV"
)  # fmt: skip


_PRIVATE_NUMBERS = ("BlueScale", "BlueShift", "BlueFuzz", "LanguageGroup", "ExpansionFactor")


_PS_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


_PS_ESCAPE = re.compile(rb"\\([0-7]{1,3}|\r\n|[\s\S])")


@dataclass(frozen=True)
class CffProgram:
    """A compiled CFF program and the glyphs it holds, in charset order."""

    data: bytes
    glyphs: tuple[str, ...]
    kept_all: bool


def cff_program(type1: dict[str, Any], keep: frozenset[str] | None) -> CffProgram:
    """Returns the bare CFF program drawing the same glyphs as the parsed Type 1 font.

    Args:
        type1: The font dictionary from :func:`parse_type1`.
        keep: The glyphs to keep (``.notdef`` always is), or None for all of them.

    Raises:
        KeyError, ValueError, TypeError, MissingComponentError, ...: the program is
            damaged (a missing dictionary, a ``seac`` naming an absent glyph).
        UnsupportedProgramError: it has something CFF conversion does not carry.
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
            raise UnsupportedProgramError("a glyph at two codes of the built-in encoding")
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
            raise UnsupportedProgramError("sbw metrics")
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
    return CffProgram(data, tuple(order), kept_all=len(order) >= len(glyph_set))


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
