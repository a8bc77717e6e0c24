"""Valid TIFF variants Pillow cannot decode, named so the owner is told "not supported".

When Pillow fails on a TIFF, its first image file directory is read here: samples of
floating point (other than the single-channel 32-bit kind Pillow reads), more than
16 bits per sample in colour, or a compression scheme outside Pillow's list make the
file valid but unsupported, not damaged.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

_BITS, _COMPRESSION, _SAMPLES, _SAMPLE_FORMAT = 258, 259, 277, 339
_SHORT, _LONG = 3, 4
#: Compression schemes Pillow (with libtiff) decodes.
_PILLOW_COMPRESSIONS = frozenset(
    {1, 2, 3, 4, 5, 6, 7, 8, 32771, 32773, 32809, 32946, 34676, 34677, 34925, 50000, 50001}
)
_FORMATS = {1: "unsigned integer", 2: "signed integer", 3: "floating-point"}


def unsupported_tiff_variant(src: Path) -> str | None:
    """Describes what makes the TIFF at ``src`` unsupported, or None (damaged, or fine)."""
    with open(src, "rb") as handle:
        head = handle.read(1 << 16)
        try:
            tags = _first_directory(handle, head)
        except (struct.error, ValueError, OSError):
            return None
    if tags is None:
        return None
    compression = tags.get(_COMPRESSION, [1])[0]
    if compression not in _PILLOW_COMPRESSIONS:
        return f"compression scheme {compression}"
    samples = tags.get(_SAMPLES, [1])[0]
    bits = tags.get(_BITS, [1])[0]
    sample_format = tags.get(_SAMPLE_FORMAT, [1])[0]
    if not (0 < bits <= 64 and 0 < samples <= 16):
        return None  # no TIFF has samples of no bits, or no samples: damaged
    if sample_format == 3 and not (samples == 1 and bits == 32):
        return f"{bits}-bit floating-point samples in {samples} channel(s)"
    if sample_format in _FORMATS and bits > 16 and samples > 1:
        return f"{bits}-bit {_FORMATS[sample_format]} samples in {samples} channels"
    if sample_format in (1, 2, 3) and bits not in (1, 2, 4, 8, 16, 32):
        return f"{bits}-bit samples"
    return None


def _first_directory(handle: BinaryIO, head: bytes) -> dict[int, list[int]] | None:
    """Returns the SHORT and LONG values of the first directory's tags (classic TIFF)."""
    order = {b"II": "<", b"MM": ">"}.get(head[:2])
    if order is None or struct.unpack(order + "H", head[2:4])[0] != 42:
        return None  # not a classic TIFF (BigTIFF is left to Pillow's verdict)
    (offset,) = struct.unpack(order + "I", head[4:8])
    data = _read_at(handle, offset, 2 + 12 * 256)
    (count,) = struct.unpack(order + "H", data[:2])
    tags: dict[int, list[int]] = {}
    for index in range(min(count, 256)):
        entry = data[2 + 12 * index : 14 + 12 * index]
        tag, kind, number = struct.unpack(order + "HHI", entry[:8])
        if kind not in (_SHORT, _LONG) or not 0 < number <= 64:
            continue
        size = 2 if kind == _SHORT else 4
        raw = entry[8:12]
        if number * size > 4:
            raw = _read_at(handle, struct.unpack(order + "I", raw)[0], number * size)
        letter = "H" if kind == _SHORT else "I"
        tags[tag] = list(struct.unpack(order + letter * number, raw[: number * size]))
    return tags


def _read_at(handle: BinaryIO, offset: int, length: int) -> bytes:
    handle.seek(offset)
    return handle.read(length)
