"""Type 1 font programs read with fontTools: decrypted, parsed, Multiple Master refused."""

from __future__ import annotations

import re
from typing import Any

# Keys only a Multiple Master program has: its glyphs blend several designs, which a
# plain CFF program cannot express.
_MULTIPLE_MASTER_KEYS = ("BlendDesignPositions", "BlendDesignMap", "WeightVector", "Blend")


# The end of an eexec section: 512 zeros (whitespace allowed between them) and
# cleartomark. PDF producers may leave it out (/Length3 0); fontTools' reader needs it.
_TRAILER = re.compile(rb"(0[ \t\r\n]*){512}")


_ZEROS_TRAILER = b"\n" + (b"0" * 64 + b"\n") * 8 + b"cleartomark\n"


class UnsupportedProgramError(Exception):
    """The program is readable Type 1, but has something this rewrite cannot carry."""


def parse_type1(data: bytes) -> dict[str, Any]:
    """Returns the font dictionary of a Type 1 program, its charstrings decrypted.

    This is what ``t1Lib.T1Font.parse`` does, with the decryption done here: fontTools
    decrypts a byte at a time through two function calls, and decrypts the eexec part
    twice (once to find its end), which made it most of the pass's time (sf_multicolumn:
    0.17 s of fontTools decryption for 69 KB of fonts). The eexec part is decrypted once
    and handed to the PostScript interpreter as plain text.

    Raises:
        T1Error, PSError, PSTokenError, KeyError, ValueError, ...: the program is not
            readable Type 1 (see ``_convert_program``).
        UnsupportedProgramError: it is a Multiple Master program.
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
        raise UnsupportedProgramError("not FontType 1")
    private = parsed["Private"]
    if any(key in parsed or key in private for key in _MULTIPLE_MASTER_KEYS):
        raise UnsupportedProgramError("a Multiple Master program")
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
