"""Minimal reproductions, generated in code, of the real-world document classes that broke.

Each function returns the bytes of one small file showing one class: a damaged trailer
without /Size, a signed PDF, an XFA form with scripts, a file only pypdf cannot read,
palette images with indices past their palette, unsupported TIFF and PDF variants, a
Flate bomb, and deeply nested arrays.
"""

from __future__ import annotations

import io
import re
import struct
import zlib

from tests import docgen


def _stream(data: bytes, entries: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), entries) + data + b"\nendstream"


_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
_TEXT = b"BT /F1 18 Tf 72 700 Td (Signed page) Tj ET"


def without_size(pages: int = 1) -> bytes:
    """A text PDF whose trailer has no /Size (qpdf rebuilds the cross-reference data)."""
    return re.sub(rb"/Size \d+ ", b"", docgen.text_pdf(pages), count=1)


def signed_pdf(*, javascript: bool = False) -> bytes:
    """A one-page PDF with a signature field whose /ByteRange covers the whole file.

    The signature value is zeros (no certificate is involved): what matters to docpipe
    is that the signed bytes are never rewritten. With ``javascript`` the document also
    runs JavaScript when opened.
    """
    open_action = b"/OpenAction 7 0 R " if javascript else b""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /SigFlags 3 >> "
        + open_action
        + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Annots [5 0 R] "
            b"/Resources << /Font << /F1 8 0 R >> >> /Contents 4 0 R >>"
        ),
        _stream(_TEXT),
        (
            b"<< /Type /Annot /Subtype /Widget /FT /Sig /T (Signature1) /Rect [0 0 0 0] "
            b"/F 132 /P 3 0 R /V 6 0 R >>"
        ),
        b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached "
        b"/ByteRange [0 AAAAAAAAAA BBBBBBBBBB CCCCCCCCCC] /Contents <" + b"0" * 4096 + b"> >>",
        b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>",
        _FONT,
    ]
    data = docgen.pdf_of_objects(objects)
    first = data.index(b"/Contents <") + len(b"/Contents ")
    second = data.index(b">", first) + 1
    numbers = b"%-10d %-10d %-10d" % (first, second, len(data) - second)
    return data.replace(b"AAAAAAAAAA BBBBBBBBBB CCCCCCCCCC", numbers)


_XFA_TEMPLATE = (
    b'<template xmlns="http://www.xfa.org/schema/xfa-template/3.3/"><subform name="form1">'
    b'<field name="a"><event activity="click"><script contentType="application/x-javascript">'
    b"app.alert('a &lt; b');</script></event></field>"
    b'<variables><xfa:script xmlns:xfa="http://www.xfa.org/schema/xfa-template/3.3/" '
    b'name="util">function f() { return 1; }</xfa:script></variables>'
    b'<field name="b"><calculate><script/></calculate></field>'
    b"<scriptModel>kept: not a script</scriptModel></subform></template>"
)


def xfa_form(*, single_stream: bool = False) -> bytes:
    """A PDF whose XFA form holds three scripts in its template packet."""
    preamble = b'<xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/">'
    datasets = b"<xfa:datasets><xfa:data><form1><a>1</a></form1></xfa:data></xfa:datasets>"
    postamble = b"</xdp:xdp>"
    if single_stream:
        xfa = b"9 0 R"
        packets = [_stream(preamble + _XFA_TEMPLATE + datasets + postamble)]
    else:
        xfa = b"[(preamble) 9 0 R (template) 10 0 R (datasets) 11 0 R (postamble) 12 0 R]"
        packets = [_stream(p) for p in (preamble, _XFA_TEMPLATE, datasets, postamble)]
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [] /XFA " + xfa + b" >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
        ),
        _stream(b"BT /F1 18 Tf 72 700 Td (XFA form) Tj ET"),
        _FONT,
        b"null",
        b"null",
        b"null",
        *packets,
    ]
    return docgen.pdf_of_objects(objects)


def pypdf_unreadable() -> bytes:
    """A text PDF qpdf reads without a warning but pypdf cannot: it does not end with an
    end-of-file marker."""
    data = docgen.text_pdf(1)
    return data.removesuffix(b"%%EOF\n")


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


#: Palette indices of every row of the palette images: 0 and 1 are in the 2-entry
#: palette (red, green); 3 and 5 are past its end.
PALETTE_ROW = (0, 1, 3, 5)


def short_palette_png() -> bytes:
    """An 8-bit palette PNG (4 x 2) with two palette entries and indices 3 and 5."""
    rows = b"".join(b"\x00" + bytes(PALETTE_ROW) for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 2, 8, 3, 0, 0, 0))
        + _png_chunk(b"PLTE", b"\xff\x00\x00\x00\xff\x00")
        + _png_chunk(b"IDAT", zlib.compress(rows))
        + _png_chunk(b"IEND", b"")
    )


def short_palette_bmp() -> bytes:
    """An 8-bit BMP (4 x 2) whose colour table has two entries, with indices 3 and 5."""
    table = b"\x00\x00\xff\x00" + b"\x00\xff\x00\x00"  # BGRA: red, green
    rows = bytes(PALETTE_ROW) * 2  # 4 bytes a row: already a multiple of 4
    offset = 14 + 40 + len(table)
    header = struct.pack("<2sIHHI", b"BM", offset + len(rows), 0, 0, offset)
    info = struct.pack("<IiiHHIIiiII", 40, 4, 2, 1, 8, 0, len(rows), 2835, 2835, 2, 0)
    return header + info + table + rows


def float_tiff(channels: int = 3, bits: int = 32) -> bytes:
    """A valid uncompressed TIFF (2 x 2) of floating-point samples."""
    fmt = {16: "e", 32: "f", 64: "d"}[bits]
    data = struct.pack(f"<{4 * channels}{fmt}", *([0.5] * 4 * channels))
    arrays = struct.pack(f"<{channels}H", *[bits] * channels)
    arrays += struct.pack(f"<{channels}H", *[3] * channels)
    bits_at = 8 + len(data)
    formats_at = bits_at + 2 * channels
    directory_at = 8 + len(data) + len(arrays)

    def short(tag: int, values: list[int]) -> bytes:
        if len(values) <= 2:
            padded = ([*values, 0])[:2]
            return struct.pack("<HHIHH", tag, 3, len(values), *padded)
        where = bits_at if tag == 258 else formats_at
        return struct.pack("<HHII", tag, 3, len(values), where)

    entries = [
        struct.pack("<HHII", 256, 4, 1, 2),
        struct.pack("<HHII", 257, 4, 1, 2),
        short(258, [bits] * channels),
        struct.pack("<HHIHH", 259, 3, 1, 1, 0),
        struct.pack("<HHIHH", 262, 3, 1, 2 if channels >= 3 else 1, 0),
        struct.pack("<HHII", 273, 4, 1, 8),
        struct.pack("<HHIHH", 277, 3, 1, channels, 0),
        struct.pack("<HHII", 278, 4, 1, 2),
        struct.pack("<HHII", 279, 4, 1, len(data)),
        short(339, [3] * channels),
    ]
    directory = struct.pack("<H", len(entries)) + b"".join(entries) + b"\0\0\0\0"
    return b"II*\x00" + struct.pack("<I", directory_at) + data + arrays + directory


def brotli_object_stream() -> bytes:
    """A PDF whose catalog sits in an object stream compressed with /BrotliDecode.

    The bytes are not real Brotli data: no reader here decodes that filter, which is
    the point. A cross-reference stream points into the object stream.
    """
    catalog = b"<< /Type /Catalog /Pages 2 0 R >>"
    objstm = b"1 0 " + catalog
    body = io.BytesIO()
    body.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    plain = {
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        4: _stream(b"0 0 m 10 10 l S"),
        5: _stream(objstm, b"/Type /ObjStm /N 1 /First 4 /Filter /BrotliDecode "),
    }
    for number, obj in plain.items():
        offsets[number] = body.tell()
        body.write(b"%d 0 obj\n" % number + obj + b"\nendobj\n")
    xref_at = body.tell()
    rows = [b"\x00\x00\x00\x00\x00\xff\xff", b"\x02" + struct.pack(">IH", 5, 0)]
    rows += [b"\x01" + struct.pack(">IH", offsets[n], 0) for n in (2, 3, 4, 5)]
    rows.append(b"\x01" + struct.pack(">IH", xref_at, 0))
    table = b"".join(rows)
    entries = b"/Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R "
    body.write(b"6 0 obj\n" + _stream(table, entries) + b"\nendobj\n")
    body.write(b"startxref\n%d\n%%%%EOF\n" % xref_at)
    return body.getvalue()


def brotli_content() -> bytes:
    """A two-page PDF whose first page's content uses /BrotliDecode (qpdf opens it)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 5 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << >> /Contents 4 0 R >>",
        _stream(b"\x0b\x03\x80not brotli", b"/Filter /BrotliDecode "),
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 6 0 R "
            b"/Resources << /Font << /F1 7 0 R >> >> >>"
        ),
        _stream(b"BT /F1 18 Tf 72 700 Td (Second) Tj ET"),
        _FONT,
    ]
    return docgen.pdf_of_objects(objects)


def deep_arrays(depth: int = 100_000) -> bytes:
    """A PDF whose only page holds an array nested ``depth`` deep."""
    nested = b"[" * depth + b"]" * depth
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /X " + nested + b" >>",
    ]
    return docgen.pdf_of_objects(objects)


def flate_bomb(decoded: int, *, chunk: int = 1 << 20) -> bytes:
    """A one-page PDF whose content stream is ``decoded`` bytes of spaces, deflated."""
    from zlib_ng import zlib_ng

    deflater = zlib_ng.compressobj(9)
    spaces = b" " * chunk
    parts = [deflater.compress(spaces) for _ in range(decoded // chunk)]
    parts.append(deflater.flush())
    data = b"".join(parts)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << >> /Contents 4 0 R >>",
        _stream(data, b"/Filter /FlateDecode "),
    ]
    return docgen.pdf_of_objects(objects)


def old_jpeg_tiff(width: int = 64, height: int = 48) -> tuple[bytes, bytes]:
    """An old-style JPEG TIFF (compression 6) whose image is one whole JPEG stream.

    Returns:
        The TIFF, and the JPEG stream it holds.
    """
    from PIL import Image

    picture = Image.effect_noise((width, height), 40).convert("RGB")
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=80)
    jpeg = buffer.getvalue()
    bits_at = 8 + len(jpeg)
    directory_at = bits_at + 6 + (bits_at % 2)
    entries = [
        struct.pack("<HHII", 256, 4, 1, width),
        struct.pack("<HHII", 257, 4, 1, height),
        struct.pack("<HHII", 258, 3, 3, bits_at),
        struct.pack("<HHIHH", 259, 3, 1, 6, 0),
        struct.pack("<HHIHH", 262, 3, 1, 6, 0),  # YCbCr, as JPEG stores it
        struct.pack("<HHII", 273, 4, 1, 8),
        struct.pack("<HHIHH", 277, 3, 1, 3, 0),
        struct.pack("<HHII", 278, 4, 1, height),
        struct.pack("<HHII", 279, 4, 1, len(jpeg)),
        struct.pack("<HHII", 513, 4, 1, 8),
        struct.pack("<HHII", 514, 4, 1, len(jpeg)),
    ]
    head = b"II*\x00" + struct.pack("<I", directory_at) + jpeg + struct.pack("<3H", 8, 8, 8)
    head += b"\0" * (directory_at - len(head))
    directory = struct.pack("<H", len(entries)) + b"".join(entries) + b"\0\0\0\0"
    return head + directory, jpeg
