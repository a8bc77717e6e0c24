"""JPEG frames embedded as they are: DCTDecode data copied from the file, never re-encoded.

Adobe CMYK JPEGs, which store inverted values, get the /Decode array that undoes the
inversion.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from functions.documents.normalise.images.colour import colour_space, image_entries
from functions.documents.normalise.pdfwriter import ImagePdfWriter, pdf_array
from functions.errors import DocumentError, ErrorCode

if TYPE_CHECKING:
    from PIL import Image

# JPEG start-of-frame markers a PDF DCTDecode filter reads: baseline, extended,
# progressive. Lossless, hierarchical and arithmetic-coded JPEGs are decoded instead.
_DCT_SOF = {0xC0, 0xC1, 0xC2}


_ALL_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_extent(src: Path) -> int | None:
    """Returns the length of the first JPEG in ``src`` (up to its EOI marker), or None
    when it cannot be embedded as DCT data (not baseline or progressive, or malformed)."""
    with open(src, "rb") as handle:
        try:
            data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # empty file
            return None
        with data:
            return _scan_jpeg(data)


def _scan_jpeg(data: mmap.mmap | bytes) -> int | None:
    size = len(data)
    if data[:2] != b"\xff\xd8":
        return None
    pos = 2
    sof = None
    while pos + 2 <= size:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xD9:
            return pos + 2 if sof in _DCT_SOF else None
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2 or pos + 4 > size:
            return None
        if marker in _ALL_SOF and sof is None:
            sof = marker
        pos += 2 + length
        if marker == 0xDA:
            pos = _skip_entropy(data, pos)
            if pos < 0:
                return None
    return None


def _skip_entropy(data: mmap.mmap | bytes, pos: int) -> int:
    """Returns the offset of the next marker after entropy-coded data, or -1."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            return -1
        following = data[pos + 1]
        # 0xFF00 is a stuffed data byte, 0xFFD0-D7 restart markers inside the scan.
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            pos += 1 if following == 0xFF else 2
            continue
        return pos


def add_jpeg(
    writer: ImagePdfWriter,
    src: Path,
    extent: tuple[int, int],
    size: tuple[int, int],
    mode: str,
    adobe: bool,
    icc: bytes | None,
) -> int:
    """Adds the JPEG at ``extent`` (offset, length) of ``src`` as a DCTDecode image."""
    offset, length = extent
    components = len(mode)
    entries = image_entries(size, colour_space(writer, mode, icc, length), 8)
    entries += b" /Filter /DCTDecode"
    if mode == "CMYK" and adobe:
        # Photoshop writes CMYK JPEGs inverted and marks them with an Adobe segment.
        entries += b" /Decode " + pdf_array([1, 0] * components)

    def copy(write: Callable[[bytes], None]) -> None:
        remaining = length
        with open(src, "rb") as handle:
            handle.seek(offset)
            while remaining:
                chunk = handle.read(min(remaining, 1 << 20))
                if not chunk:
                    raise DocumentError(
                        ErrorCode.CORRUPT_DOCUMENT, "The JPEG image changed while it was read."
                    )
                write(chunk)
                remaining -= len(chunk)

    return writer.add_stream(entries, length, copy)


#: TIFF tags of an old-style JPEG TIFF (compression 6) holding one whole JPEG stream.
_COMPRESSION, _OLD_JPEG = 259, 6
_INTERCHANGE_FORMAT, _INTERCHANGE_LENGTH = 513, 514


def tiff_jpeg_extent(image: Image.Image, src: Path) -> tuple[int, int] | None:
    """Returns (offset, length) of the whole-image JPEG of an old-style JPEG TIFF frame.

    Such a TIFF (compression 6) often stores its image as one complete JPEG stream,
    named by JPEGInterchangeFormat and its length; that stream is embedded as it is
    rather than decoded and deflated (about nine times larger). Only a baseline or
    progressive stream of the frame's own size and colour components qualifies.
    """
    tags = getattr(image, "tag_v2", None)
    if tags is None or tags.get(_COMPRESSION) != _OLD_JPEG:
        return None
    offset, length = tags.get(_INTERCHANGE_FORMAT), tags.get(_INTERCHANGE_LENGTH)
    if not isinstance(offset, int) or not isinstance(length, int) or length <= 0:
        return None
    with open(src, "rb") as handle:
        try:
            data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:
            return None
        with data:
            stream = data[offset : offset + length]
    if len(stream) != length or _scan_jpeg(stream) is None:
        return None
    return (offset, length) if _matches(stream, image) else None


def _matches(stream: bytes, image: Image.Image) -> bool:
    """Tells whether a JPEG stream decodes (at 1/8 scale) to the frame's size and mode."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(stream), formats=("JPEG",)) as jpeg:
            if jpeg.size != image.size or jpeg.mode != image.mode:
                return False
            jpeg.draft(jpeg.mode, (max(1, jpeg.width // 8), max(1, jpeg.height // 8)))
            jpeg.load()
    except (OSError, SyntaxError, ValueError, EOFError):
        return False
    return True
