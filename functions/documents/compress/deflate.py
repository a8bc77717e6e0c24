"""Flate data deflated again with zlib-ng, by chunks, at the level its size calls for."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

# Decoded size from which Flate data is deflated at level 6 rather than 9. Measured on the
# corpus (benchmarks/compress.py): zlib-ng's level 9 takes 7x as long as level 6 on a
# 60 MB drawing for 5 % less, and images of megabytes are where the time goes. With
# this threshold lossless gives 0.896 instead of 0.891 at 8.8 instead of 5.2 MB/s, ebook
# is unchanged (0.536) at 4.9 instead of 4.4 MB/s. Content streams and fonts, smaller
# and where level 9's lazy matching pays, keep level 9.
_LARGE_DEFLATE_BYTES = 1 << 20


def deflate_level(decoded_bytes: int | None) -> int:
    """Returns the Flate level for data of this decoded size (None: not known, small)."""
    return 6 if decoded_bytes is not None and decoded_bytes > _LARGE_DEFLATE_BYTES else 9


# Compressed bytes fed to the inflater at once, and the most it may expand them to.
_RECOMPRESS_CHUNK = 1 << 20
_RECOMPRESS_WINDOW = 16 << 20
# Decoded bytes after which a stream is left as it is: memory stays bounded by a window
# whatever the data, and time too (a Flate bomb of 1 GiB is given up after this).
MAX_RECOMPRESS_DECODED = 256 << 20


def inflate_windows(raw: bytes) -> Iterator[bytes]:
    """Yields Flate data decoded a window at a time, holding one window in memory.

    Raises:
        ValueError: The data is damaged, or ends before its end marker.
    """
    from zlib_ng import zlib_ng

    # zlib-ng's stub declares ``error`` as an instance; it is the exception class.
    inflate_error = cast("type[Exception]", zlib_ng.error)
    inflater = zlib_ng.decompressobj()
    view = memoryview(raw)
    try:
        for start in range(0, len(raw), _RECOMPRESS_CHUNK):
            chunk: bytes | memoryview = view[start : start + _RECOMPRESS_CHUNK]
            while chunk and not inflater.eof:
                data = inflater.decompress(chunk, _RECOMPRESS_WINDOW)
                chunk = inflater.unconsumed_tail
                yield data
            if inflater.eof:
                return
    except inflate_error as error:
        raise ValueError(f"damaged Flate data: {error}") from None
    raise ValueError("truncated Flate data")


def deflate_smaller(raw: bytes, level: int) -> bytes | None:
    """Returns ``raw`` inflated and deflated again at ``level`` if that is smaller, else None.

    None too for damaged or truncated data (qpdf copies it as it is), and for data that
    decodes to more than :data:`MAX_RECOMPRESS_DECODED`.
    """
    from zlib_ng import zlib_ng

    deflater = zlib_ng.compressobj(level)
    out: list[bytes] = []
    size = 0
    decoded = 0
    try:
        for data in inflate_windows(raw):
            decoded += len(data)
            if decoded > MAX_RECOMPRESS_DECODED:
                return None
            compressed = deflater.compress(data)
            size += len(compressed)
            if size >= len(raw):
                return None
            out.append(compressed)
    except ValueError:
        return None
    tail = deflater.flush()
    if size + len(tail) >= len(raw):
        return None
    out.append(tail)
    return b"".join(out)
