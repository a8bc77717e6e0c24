"""Soft masks resized with their image, kept lossless (a mask shows JPEG noise)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.documents.compress.deflate import deflate_level
from functions.documents.compress.images.encode import MAX_DECODED_BYTES, resize
from functions.documents.compress.images.spaces import LOSSLESS_FILTERS, stream_filters

if TYPE_CHECKING:
    import pikepdf


def resize_smask(image: pikepdf.Stream, size: tuple[int, int]) -> tuple[int, int] | None:
    """Resizes an image's 8-bit soft mask to ``size``; returns the mask's objgen if it did."""
    import pikepdf
    from PIL import Image
    from zlib_ng import zlib_ng

    mask = image.get("/SMask")
    if not isinstance(mask, pikepdf.Stream) or mask.get("/BitsPerComponent") != 8:
        return None
    try:
        width, height = int(mask["/Width"]), int(mask["/Height"])
        if set(stream_filters(mask)) - LOSSLESS_FILTERS or width * height > MAX_DECODED_BYTES:
            return None
        data = mask.read_bytes()
    except (KeyError, TypeError, ValueError, pikepdf.PdfError):
        return None
    if len(data) < width * height or (width, height) <= size:
        return None
    alpha = Image.frombuffer("L", (width, height), data[: width * height], "raw", "L", 0, 1)
    alpha = resize(alpha, size)
    pixels = alpha.tobytes()
    mask.write(
        zlib_ng.compress(pixels, deflate_level(len(pixels))),
        filter=pikepdf.Name("/FlateDecode"),
    )
    if "/DecodeParms" in mask:
        del mask["/DecodeParms"]
    mask.Width, mask.Height = alpha.size
    return mask.objgen
