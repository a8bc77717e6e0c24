"""Scans generated in code: pages of known text, rasterised at 300 dpi like a scanner.

The text is drawn with Pillow's built-in scalable font, so the pages are the same on
every machine; a "degraded" page adds blur, noise and a slight skew, as a worn copy
through a cheap scanner would.
"""

from __future__ import annotations

import io
import random
import struct
import textwrap
from collections.abc import Sequence

import pikepdf
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps, TiffImagePlugin

DPI = 300
SENTENCES = (
    "Searchable scans need a text layer aligned with every word on the page.",
    "The quarterly report lists revenue, costs and the margin for each region.",
    "Please return the signed contract before the end of the month.",
    "Invoice number 4821 is due within thirty days of delivery.",
    "A pipeline turns every uploaded document into a compressed searchable file.",
    "Meeting notes: the committee approved the budget and the new schedule.",
)


def page_lines(seed: int, count: int = 6) -> list[str]:
    """Returns ``count`` lines of known English text, different for each seed."""
    rng = random.Random(seed)  # noqa: S311 (reproducible test text, not a secret)
    text = " ".join(rng.choice(SENTENCES) for _ in range(count))
    return textwrap.wrap(text, 44)[:count]


def scan_image(
    lines: Sequence[str],
    *,
    width_inches: float = 4.5,
    height_inches: float = 3.0,
    dpi: int = DPI,
    turn: int = 0,
    degraded: bool = False,
    band: int | None = None,
) -> Image.Image:
    """Returns a greyscale page image with ``lines`` of 12-point text at ``dpi``.

    Args:
        turn: Degrees counter-clockwise the page is turned (a sideways scan).
        degraded: Blur, noise and a 0.7 degree skew.
        band: The grey level of a shaded band the second and third lines are printed on
            (a highlighted passage or a form's field), or None for none.
    """
    size = (round(width_inches * dpi), round(height_inches * dpi))
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=round(12 / 72 * dpi))
    y = round(0.3 * dpi)
    step = round(18 / 72 * dpi)
    if band is not None:
        top = y + step - step // 3
        draw.rectangle((0, top, size[0], top + 2 * step + step // 3), fill=band)
    for line in lines:
        draw.text((round(0.3 * dpi), y), line, fill=0, font=font)
        y += step
    if degraded:
        image = image.rotate(0.7, fillcolor=255, resample=Image.Resampling.BICUBIC)
        image = image.filter(ImageFilter.GaussianBlur(1.2))
        rng = random.Random(7)  # noqa: S311 (reproducible noise, not a secret)
        noise = Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))
        image = Image.blend(image, noise, 0.25)
    return image.rotate(turn, expand=True) if turn else image


def image_pdf(images: Sequence[Image.Image], dpi: int = DPI) -> bytes:
    """Returns an image-only PDF, one page per image, each filling its page (a scan)."""
    out = io.BytesIO()
    first, *rest = images
    first.save(out, "PDF", resolution=dpi, save_all=True, append_images=rest)
    return out.getvalue()


def jbig2_pdf(image: Image.Image, dpi: int = DPI) -> bytes:
    """Returns a one-page PDF drawing ``image``, made bilevel, as a JBIG2 image: the
    format of most archival scans (the page's generic region coded with MMR, T.6)."""
    bitmap = image.convert("1", dither=Image.Dither.NONE)  # thresholded, as a scanner does
    width, height = bitmap.size
    info = struct.pack(">IIIIBH", width, height, dpi, dpi, 0, 0)  # page information
    region = struct.pack(">IIIIBB", width, height, 0, 0, 0, 1) + _t6(bitmap)  # MMR on
    stream = _segment(0, 48, info) + _segment(1, 39, region)
    return coded_pdf(stream, bitmap.size, "/JBIG2Decode", bits=1, dpi=dpi)


def jpx_pdf(image: Image.Image, dpi: int = DPI) -> bytes:
    """Returns a one-page PDF drawing the grey ``image`` as a lossless JPEG 2000 image."""
    out = io.BytesIO()
    image.convert("L").save(out, "JPEG2000", irreversible=False)
    return coded_pdf(out.getvalue(), image.size, "/JPXDecode", bits=8, dpi=dpi)


def coded_pdf(data: bytes, size: tuple[int, int], coding: str, bits: int, dpi: int) -> bytes:
    """Returns a one-page PDF whose page is one grey image stored as ``data`` with the
    filter ``coding``."""
    width, height = size
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(width * 72 / dpi, height * 72 / dpi))
    image = pikepdf.Stream(pdf, data)
    image.update(
        {
            "/Type": pikepdf.Name.XObject,
            "/Subtype": pikepdf.Name.Image,
            "/Width": width,
            "/Height": height,
            "/ColorSpace": pikepdf.Name.DeviceGray,
            "/BitsPerComponent": bits,
            "/Filter": pikepdf.Name(coding),
        }
    )
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    drawn = f"q {width * 72 / dpi} 0 0 {height * 72 / dpi} 0 0 cm /Im0 Do Q"
    page.Contents = pdf.make_stream(drawn.encode("ascii"))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _segment(number: int, kind: int, data: bytes) -> bytes:
    """A JBIG2 segment of page 1, referring to no other segment."""
    return struct.pack(">IBBBI", number, kind, 0, 1, len(data)) + data


def _t6(bitmap: Image.Image) -> bytes:
    """Returns the T.6 (CCITT G4) coding of a bilevel image, black as 1 (JBIG2's sense),
    taken from the single strip of a group 4 TIFF."""
    out = io.BytesIO()
    ImageOps.invert(bitmap.convert("L")).convert("1").save(
        out, "TIFF", compression="group4", strip_size=1 << 30
    )
    tiff = Image.open(out)
    assert isinstance(tiff, TiffImagePlugin.TiffImageFile)
    offset, count = tiff.tag_v2[273], tiff.tag_v2[279]  # StripOffsets, StripByteCounts
    first = offset[0] if isinstance(offset, tuple) else offset
    size = count[0] if isinstance(count, tuple) else count
    return out.getvalue()[first : first + size]


def image_file(image: Image.Image, fmt: str = "PNG", dpi: int = DPI) -> bytes:
    """Returns the image as a file of ``fmt`` carrying its resolution."""
    out = io.BytesIO()
    image.save(out, fmt, dpi=(dpi, dpi))
    return out.getvalue()


def words(text: str) -> list[str]:
    """Splits text into words without surrounding punctuation (how a search sees it)."""
    stripped = (word.strip(".,:;!?\"'()") for word in text.split())
    return [word for word in stripped if word]


def word_recall(expected: str, found: str) -> float:
    """Returns the share of the expected words (with repeats) found in ``found``."""
    wanted = words(expected)
    available: dict[str, int] = {}
    for word in words(found):
        available[word] = available.get(word, 0) + 1
    hits = 0
    for word in wanted:
        if available.get(word, 0) > 0:
            available[word] -= 1
            hits += 1
    return hits / len(wanted) if wanted else 1.0
