"""An image XObject's dictionary entries and colour space (its ICC profile when worth it)."""

from __future__ import annotations

import zlib

from functions.documents.normalise.pdfwriter import ImagePdfWriter

_ICC_SPACES = {b"GRAY": ("L", "I;16"), b"RGB ": ("RGB", "P"), b"CMYK": ("CMYK",)}


_DEVICE_SPACES = {1: b"/DeviceGray", 3: b"/DeviceRGB", 4: b"/DeviceCMYK"}


#: An ICC profile is embedded only if the image data is at least this many times larger.
_ICC_SHARE = 8


def image_entries(size: tuple[int, int], colour_space: bytes, bits: int) -> bytes:
    return (
        b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s "
        % (
            size[0],
            size[1],
            colour_space,
        )
        + b"/BitsPerComponent %d" % bits
    )


def colour_space(writer: ImagePdfWriter, mode: str, icc: bytes | None, data_size: int) -> bytes:
    """The image's ICC profile as an /ICCBased space when it matches the mode and is
    small beside the image (print profiles reach megabytes; without one, a reader shows
    the device colours), else the device space."""
    components = 1 if mode in ("1", "L", "I;16", "P") else len(mode)
    device = _DEVICE_SPACES[components]
    if mode == "1" or not icc or len(icc) < 128 or mode not in _ICC_SPACES.get(icc[16:20], ()):
        return device
    compressed = zlib.compress(icc, 9)
    if len(compressed) * _ICC_SHARE > data_size:
        return device
    profile = writer.add_shared_stream(
        b"/N %d /Alternate %s /Filter /FlateDecode" % (components, device), compressed
    )
    return b"[/ICCBased %d 0 R]" % profile
