"""Large Flate images inflated and reduced a strip of rows at a time, in bounded memory."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from functions.documents.compress.images.photo import sample_size
from functions.documents.compress.images.spaces import stream_filters

if TYPE_CHECKING:
    import pikepdf
    from PIL import Image


# Flate images larger than this decoded are inflated and reduced a strip of rows at a
# time (when they are downsampled), so that their size never decides peak memory; a
# strip holds about this many decoded bytes.
STRIP_BYTES = 16 * 1024 * 1024


# Compressed input fed to the inflater at once while decoding by strips.
_INFLATE_CHUNK = 1 << 20


def plain_flate(image: pikepdf.Stream) -> bool:
    """Tells whether an image is Flate alone, without a predictor: inflate gives pixels."""
    import pikepdf

    if stream_filters(image) != ["/FlateDecode"]:
        return False
    parms = image.get("/DecodeParms")
    if isinstance(parms, pikepdf.Array):
        parms = parms[0] if len(parms) == 1 else None
    if parms is None:
        return True
    return isinstance(parms, pikepdf.Dictionary) and int(parms.get("/Predictor", 1)) == 1


def reduce_flate_by_strips(
    raw: bytes, mode: str, width: int, height: int, components: int, factor: int
) -> tuple[Image.Image, bool]:
    """Inflates a Flate image a strip of rows at a time and reduces it by ``factor``.

    Strips hold a multiple of ``factor`` rows, so the result is exactly what reducing
    the whole decoded image would give. The rows a nearest-neighbour colour sample
    would pick are kept on the way, to tell a photo from a drawing as :func:`is_photo`
    does on the whole image.

    Returns:
        The reduced image and whether the image is a photo.

    Raises:
        ValueError: The data is damaged or shorter than the image's dimensions.
    """
    from PIL import Image
    from zlib_ng import zlib_ng

    row_bytes = width * components
    rows_per_strip = factor * max(1, STRIP_BYTES // (row_bytes * factor))
    reduced = Image.new(mode, (-(-width // factor), -(-height // factor)))
    sample_w, sample_h = sample_size(width, height)
    # The source row nearest-neighbour resizing picks for each sample row.
    wanted = {min(height - 1, int((i + 0.5) * height / sample_h)): i for i in range(sample_h)}
    sample = Image.new(mode, (sample_w, sample_h))
    # zlib-ng inflates the same format several times faster than zlib (0.12 s against
    # 0.75 s for ocr_enormous's 243 MB image).
    inflater = zlib_ng.decompressobj()
    # zlib-ng's stub declares ``error`` as an instance; it is the exception class.
    inflate_error = cast("type[Exception]", zlib_ng.error)
    source = memoryview(raw)
    position = 0
    try:
        for top in range(0, height, rows_per_strip):
            rows = min(rows_per_strip, height - top)
            need = rows * row_bytes
            # The inflater never gives more than asked, so a strip is its parts joined:
            # no bytes are carried over, and a strip inflated in one call is not copied.
            parts: list[bytes] = []
            got = 0
            while got < need and not inflater.eof:
                if inflater.unconsumed_tail:
                    chunk: bytes | memoryview = inflater.unconsumed_tail
                elif position < len(source):
                    chunk = source[position : position + _INFLATE_CHUNK]
                    position += _INFLATE_CHUNK
                else:
                    break
                part = inflater.decompress(chunk, need - got)
                parts.append(part)
                got += len(part)
            if got < need:
                raise ValueError("image data is shorter than its dimensions")
            pending = parts[0] if len(parts) == 1 else b"".join(parts)
            del parts
            strip = Image.frombuffer(mode, (width, rows), pending, "raw", mode, 0, 1)
            for row in range(top, top + rows):
                if row in wanted:
                    line = strip.crop((0, row - top, width, row - top + 1))
                    line = line.resize((sample_w, 1), Image.Resampling.NEAREST)
                    sample.paste(line, (0, wanted[row]))
            reduced.paste(strip.reduce(factor), (0, top // factor))
            del strip, pending
    except inflate_error as error:
        raise ValueError(f"damaged Flate data: {error}") from None
    return reduced, sample.getcolors(maxcolors=256) is None
