"""Frames that are not JPEGs, as Flate data with PNG predictors from Pillow's PNG encoder.

The encoder's adaptive row filters run in C and its IDAT data is embedded as it is:
palette images stay /Indexed palettes at their bit depth, bilevel images stay 1 bit,
16-bit greyscale stays 16 bit. Alpha goes to a soft mask (/SMask), never flattened away.
CMYK frames (TIFF) are Flate-compressed as they are.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from functions.documents.normalise.images.colour import colour_space, image_entries
from functions.documents.normalise.pdfwriter import ImagePdfWriter

if TYPE_CHECKING:
    from PIL import Image


def split_alpha(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """Returns a frame in a mode the PDF can hold, and its alpha channel if it has one.

    Modes kept: 1, L, P, RGB, CMYK and 16-bit greyscale (``I;16``). A fully opaque
    alpha channel is dropped; transparency of palette and greyscale images becomes alpha.
    """
    mode = image.mode
    transparent = image.has_transparency_data
    if mode == "P":
        alpha = image.convert("RGBA").getchannel("A") if transparent else None
        base = image
    elif transparent or mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        target = "LA" if mode in ("1", "L", "LA", "La", "I", "I;16", "F") else "RGBA"
        converted = image.convert(target)
        base, alpha = converted.convert(target[:-1]), converted.getchannel("A")
    elif mode in ("1", "L", "RGB", "CMYK"):
        base, alpha = image, None
    elif mode.startswith("I;16"):
        # Pillow's direct conversion between 16-bit layouts clips at 255; through I it
        # keeps every value.
        base, alpha = image.convert("I").convert("I;16"), None
    elif mode in ("I", "F"):
        base, alpha = _to_greyscale(image), None
    else:  # YCbCr, LAB, HSV, RGBX: show as RGB
        base, alpha = image.convert("RGB"), None
    if alpha is not None and alpha.getextrema() == (255, 255):
        alpha = None
    return base, alpha


def _to_greyscale(image: Image.Image) -> Image.Image:
    """32-bit integer or float samples: 16-bit when they fit, else stretched to 8 bits."""
    low, high = cast("tuple[float, float]", image.getextrema())
    if image.mode == "I" and low >= 0 and high <= 65535:
        return image.convert("I;16")
    if high == low:
        return image.point(lambda _: 0).convert("L")
    scale = 255.0 / (float(high) - float(low))
    return image.point(lambda value: (value - low) * scale).convert("L")


def add_flate(
    writer: ImagePdfWriter, base: Image.Image, alpha: Image.Image | None, icc: bytes | None
) -> int:
    smask = add_flate(writer, alpha, None, None) if alpha is not None else None
    if base.mode == "CMYK":
        data = zlib.compress(base.tobytes(), 6)
        entries = image_entries(base.size, colour_space(writer, "CMYK", icc, len(data)), 8)
        entries += b" /Filter /FlateDecode"
    else:
        png = png_parts(_with_full_palette(base) if base.mode == "P" else base)
        if png.colour_type == 3:
            space = b"[/Indexed %s %d <%s>]" % (
                colour_space(writer, "RGB", icc, len(png.data)),
                len(png.palette) // 3 - 1,
                png.palette.hex().encode("ascii"),
            )
        else:
            space = colour_space(writer, base.mode, icc, len(png.data))
        colours = 3 if png.colour_type == 2 else 1
        entries = image_entries(base.size, space, png.bit_depth)
        entries += (
            b" /Filter /FlateDecode /DecodeParms << /Predictor 15 /Colors %d "
            b"/BitsPerComponent %d /Columns %d >>" % (colours, png.bit_depth, base.size[0])
        )
        data = png.data
    if smask is not None:
        entries += b" /SMask %d 0 R" % smask
    return writer.add_bytes_stream(entries, data)


def _with_full_palette(image: Image.Image) -> Image.Image:
    """Returns a palette image whose palette has an entry for every index it uses.

    Reference decoders (libpng, browsers, Pillow) show an index past the end of the
    palette as black; PDF readers would clamp it to the last entry, and Pillow's PNG
    encoder, choosing the bit depth from the palette's length, would cut it. Missing
    entries are added as black, so the page shows what the image shows.
    """
    palette = image.getpalette() or []
    _, highest = cast("tuple[int, int]", image.getextrema())
    if highest < len(palette) // 3:
        return image
    padded = image.copy()
    padded.putpalette(palette + [0] * (3 * (highest + 1) - len(palette)))
    return padded


@dataclass(frozen=True)
class PngParts:
    """The parts of a PNG a PDF image needs: its header fields, palette and IDAT data."""

    bit_depth: int
    colour_type: int
    palette: bytes
    data: bytes


def png_parts(image: Image.Image) -> PngParts:
    """Encodes ``image`` (1, L, P, RGB or I;16) as PNG and returns the parts a PDF uses.

    The concatenated IDAT data is a zlib stream of PNG-filtered rows, which is exactly
    what a PDF FlateDecode filter with /Predictor 15 reads.
    """
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    encoded = buffer.getbuffer()
    pos = 8
    header = b""
    palette = b""
    idat: list[bytes] = []
    while pos + 8 <= len(encoded):
        length = int.from_bytes(encoded[pos : pos + 4], "big")
        chunk = bytes(encoded[pos + 4 : pos + 8])
        body = bytes(encoded[pos + 8 : pos + 8 + length])
        if chunk == b"IHDR":
            header = body
        elif chunk == b"PLTE":
            palette = body
        elif chunk == b"IDAT":
            idat.append(body)
        pos += 12 + length
    del encoded
    return PngParts(
        bit_depth=header[8], colour_type=header[9], palette=palette, data=b"".join(idat)
    )
