"""Images become PDF pages: one page per frame, drawn at the image's own resolution.

Encodings, chosen so that no image becomes a PDF much larger than itself:

- A JPEG is embedded as it is (DCTDecode, the original bytes, never re-encoded); its
  EXIF orientation is applied by the page's transformation matrix. Adobe CMYK JPEGs,
  which store inverted values, get the /Decode array that undoes the inversion.
- Every other frame is Flate-compressed with PNG predictors, produced by Pillow's PNG
  encoder (adaptive row filters, in C) and embedded as the PNG's own IDAT data: palette
  images stay /Indexed palettes at their bit depth, bilevel images stay 1 bit, 16-bit
  greyscale stays 16 bit. Alpha goes to a soft mask (/SMask), never flattened away.
- CMYK frames that are not JPEGs (TIFF) are Flate-compressed as they are.

Pixel limits are decided from each frame's header before it is decoded.
"""

from __future__ import annotations

import contextlib
import mmap
import struct
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from functions.documents.pdfwriter import ImagePdfWriter, pdf_array, pdf_number
from functions.errors import DocumentError, ErrorCode
from functions.settings import Limits

if TYPE_CHECKING:
    from PIL import Image

#: Pillow plugins allowed for each sniffed type; nothing else may parse the file.
PILLOW_FORMATS: dict[str, tuple[str, ...]] = {
    # The JPEG plugin itself returns multi-picture (MPO) files; MPO has no opener.
    "jpeg": ("JPEG",),
    "png": ("PNG",),
    "tiff": ("TIFF",),
    "gif": ("GIF",),
    "bmp": ("BMP",),
    "webp": ("WEBP",),
}

# What Pillow raises for damaged or truncated input (SyntaxError is its "not this
# format" signal, struct.error and EOFError come from short headers, TypeError and
# KeyError from TIFF directories missing required tags). Only Pillow calls are guarded.
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    IndexError,
    TypeError,
    KeyError,
)

#: A resolution outside this range (dots per inch) is a placeholder, not a measurement.
_DPI_RANGE = (20.0, 10_000.0)
#: Acrobat's largest page side (200 inches); a resolution giving more is not plausible.
_MAX_PAGE_POINTS = 14_400.0
#: Without a plausible resolution, small images show at screen size and larger ones
#: are fitted to an A4 page in their own orientation.
_SCREEN_DPI = 96.0
_A4_INCHES = (8.27, 11.69)

_EXIF_ORIENTATION = 0x0112
_TIFF_ORIENTATION = 274

# JPEG start-of-frame markers a PDF DCTDecode filter reads: baseline, extended,
# progressive. Lossless, hierarchical and arithmetic-coded JPEGs are decoded instead.
_DCT_SOF = {0xC0, 0xC1, 0xC2}
_ALL_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}

_ICC_SPACES = {b"GRAY": ("L", "I;16"), b"RGB ": ("RGB", "P"), b"CMYK": ("CMYK",)}
_DEVICE_SPACES = {1: b"/DeviceGray", 3: b"/DeviceRGB", 4: b"/DeviceCMYK"}
#: An ICC profile is embedded only if the image data is at least this many times larger.
_ICC_SHARE = 8


@dataclass(frozen=True)
class ImageDocument:
    """What converting an image produced, for the facts and the warnings."""

    pages: int
    page_sizes: list[list[float]]
    frames: list[dict[str, Any]]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class Placement:
    """Where one frame goes: the page size and the matrix drawing the image on it."""

    width: float
    height: float
    matrix: tuple[float, float, float, float, float, float]
    dpi: tuple[float, float]
    dpi_source: str


def image_to_pdf(src: Path, kind: str, out: IO[bytes], limits: Limits) -> ImageDocument:
    """Writes a PDF with one page per frame of the image at ``src`` to ``out``.

    Args:
        src: The image; only read.
        kind: Its sniffed type, a key of :data:`PILLOW_FORMATS`.
        out: A binary file to write the PDF to.
        limits: The page and pixel limits.

    Raises:
        DocumentError: ``IMAGE_TOO_LARGE`` if a frame declares more pixels than allowed,
            ``TOO_MANY_PAGES`` for too many frames, ``CORRUPT_DOCUMENT`` if the image
            cannot be decoded.
    """
    from PIL import Image

    with _pillow_limits(limits):
        try:
            image = Image.open(src, formats=PILLOW_FORMATS[kind])
        except _DECODE_ERRORS as err:
            raise _corrupt(kind) from err
        with image:
            return _convert(image, src, kind, out, limits)


def _convert(
    image: Image.Image, src: Path, kind: str, out: IO[bytes], limits: Limits
) -> ImageDocument:
    try:
        total = int(getattr(image, "n_frames", 1))
    except _DECODE_ERRORS as err:
        raise _corrupt(kind) from err
    notes: list[str] = []
    frames = total
    if kind == "jpeg" and total > 1:
        # A multi-picture JPEG (MPO) holds a stereo pair or previews of one picture;
        # every viewer shows the first, so that is the document.
        frames = 1
        notes.append(f"Only the first of the {total} pictures in this multi-picture JPEG was kept.")
    if frames > limits.max_pages:
        raise DocumentError(
            ErrorCode.TOO_MANY_PAGES,
            f"The image has {frames} frames; at most {limits.max_pages} pages are allowed.",
        )
    shared_orientation = _exif_orientation(image)
    writer = ImagePdfWriter(out)
    facts: list[dict[str, Any]] = []
    sizes: list[list[float]] = []
    for index in range(frames):
        if index:
            try:
                image.seek(index)
            except _DECODE_ERRORS as err:
                raise _corrupt(kind) from err
        check_pixels(image.size, limits, index, frames)
        orientation = _tiff_orientation(image) if kind == "tiff" else shared_orientation
        fact = _add_frame(writer, image, src, kind, index, orientation)
        facts.append(fact)
        sizes.append(fact.pop("page_size"))
    writer.finish()
    return ImageDocument(pages=frames, page_sizes=sizes, frames=facts, warnings=tuple(notes))


def check_pixels(size: tuple[int, int], limits: Limits, index: int = 0, frames: int = 1) -> None:
    """Refuses a frame whose declared size exceeds the pixel limit, before decoding it.

    Raises:
        DocumentError: ``IMAGE_TOO_LARGE``.
    """
    width, height = size
    if width * height > limits.max_image_pixels:
        where = f"Frame {index + 1} of the image" if frames > 1 else "The image"
        raise DocumentError(
            ErrorCode.IMAGE_TOO_LARGE,
            f"{where} is {width} x {height} pixels ({_megapixels(width * height)}); "
            f"at most {_megapixels(limits.max_image_pixels)} are allowed.",
        )


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:,.1f} megapixels"


@contextlib.contextmanager
def _pillow_limits(limits: Limits) -> Iterator[None]:
    """Applies ``limits`` to Pillow for one call and turns its bomb checks into errors.

    Pillow's own check reads a module-wide limit and only warns between one and two
    times it; setting the limit per call and making the warning an error means its
    verdict can never escape as a warning or depend on the process defaults.
    """
    from PIL import Image

    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limits.max_image_pixels
    try:
        with warnings.catch_warnings():
            # Pillow warns about harmless oddities (corrupt EXIF, palette transparency);
            # they change nothing in the output.
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise DocumentError(
            ErrorCode.IMAGE_TOO_LARGE,
            f"The image declares more pixels than the limit of "
            f"{_megapixels(limits.max_image_pixels)}.",
        ) from err
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _corrupt(kind: str) -> DocumentError:
    return DocumentError(
        ErrorCode.CORRUPT_DOCUMENT,
        f"The {kind.upper()} image is damaged or incomplete and cannot be read.",
    )


def _exif_orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(_EXIF_ORIENTATION, 1)
    except _DECODE_ERRORS:
        return 1  # unreadable EXIF: show the pixels as stored
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _tiff_orientation(image: Image.Image) -> int:
    tags = getattr(image, "tag_v2", None)
    value = tags.get(_TIFF_ORIENTATION, 1) if tags is not None else 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def placement(size: tuple[int, int], dpi: Any, orientation: int = 1) -> Placement:
    """Returns the page for an image of ``size`` pixels with resolution ``dpi``.

    Args:
        size: Width and height in pixels, as stored.
        dpi: The image's (x, y) resolution as Pillow reports it, or None.
        orientation: The EXIF orientation (1-8); 5-8 turn the page a quarter.

    The matrix maps the image's unit square (stored pixels, first row at the top) to the
    page so that it appears as the EXIF orientation says it should.
    """
    width, height = size
    resolution = _plausible_dpi(size, dpi)
    source = "image"
    if resolution is None:
        source = "default"
        short, long = _A4_INCHES
        fit_w, fit_h = (long, short) if width > height else (short, long)
        value = max(_SCREEN_DPI, width / fit_w, height / fit_h)
        resolution = (value, value)
    w = width * 72.0 / resolution[0]
    h = height * 72.0 / resolution[1]
    page_w, page_h = (h, w) if orientation >= 5 else (w, h)
    matrices = {
        1: (w, 0.0, 0.0, h, 0.0, 0.0),
        2: (-w, 0.0, 0.0, h, w, 0.0),
        3: (-w, 0.0, 0.0, -h, w, h),
        4: (w, 0.0, 0.0, -h, 0.0, h),
        5: (0.0, -w, -h, 0.0, h, w),
        6: (0.0, -w, h, 0.0, 0.0, w),
        7: (0.0, w, h, 0.0, 0.0, 0.0),
        8: (0.0, w, -h, 0.0, h, 0.0),
    }
    return Placement(page_w, page_h, matrices.get(orientation, matrices[1]), resolution, source)


def _plausible_dpi(size: tuple[int, int], dpi: Any) -> tuple[float, float] | None:
    try:
        x, y = (float(value) for value in dpi)
    except (TypeError, ValueError):
        return None
    low, high = _DPI_RANGE
    if not (low <= x <= high and low <= y <= high):
        return None
    if size[0] * 72.0 / x > _MAX_PAGE_POINTS or size[1] * 72.0 / y > _MAX_PAGE_POINTS:
        return None
    return (round(x, 4), round(y, 4))


def _add_frame(
    writer: ImagePdfWriter,
    image: Image.Image,
    src: Path,
    kind: str,
    index: int,
    orientation: int,
) -> dict[str, Any]:
    size = image.size
    mode = image.mode
    dpi = image.info.get("dpi")
    icc = image.info.get("icc_profile")
    jpeg = _jpeg_extent(src) if kind == "jpeg" and index == 0 else None
    if jpeg is not None and mode in ("L", "RGB", "CMYK"):
        _verify_jpeg(image, kind)
        adobe = "adobe" in image.info
        xobject = _add_jpeg(writer, src, jpeg, size, mode, adobe, icc)
        encoding, alpha = "jpeg", False
    else:
        try:
            image.load()
        except _DECODE_ERRORS as err:
            raise _corrupt(kind) from err
        if image.mode in ("P", "PA") and image.palette is None:
            raise _corrupt(kind)  # a palette image whose palette was lost
        base, mask = split_alpha(image)
        xobject, alpha = _add_flate(writer, base, mask, icc), mask is not None
        encoding = "flate"
    place = placement(size, dpi, orientation)
    content = b"q %s cm /Im0 Do Q" % b" ".join(pdf_number(v) for v in place.matrix)
    writer.add_page(
        place.width, place.height, b"<< /XObject << /Im0 %d 0 R >> >>" % xobject, content
    )
    return {
        "page": index + 1,
        "width": size[0],
        "height": size[1],
        "mode": mode,
        "encoding": encoding,
        "alpha": alpha,
        "dpi": list(place.dpi),
        "dpi_source": place.dpi_source,
        "orientation": orientation,
        "page_size": [round(place.width, 2), round(place.height, 2)],
    }


def _verify_jpeg(image: Image.Image, kind: str) -> None:
    """Decodes the whole JPEG at 1/8 scale: every byte of entropy data is read, so a
    damaged file is caught, while memory stays at 1/64 of a full decode."""
    width, height = image.size
    try:
        image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
        image.load()
    except _DECODE_ERRORS as err:
        raise _corrupt(kind) from err


def _jpeg_extent(src: Path) -> int | None:
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


def _add_jpeg(
    writer: ImagePdfWriter,
    src: Path,
    length: int,
    size: tuple[int, int],
    mode: str,
    adobe: bool,
    icc: bytes | None,
) -> int:
    components = len(mode)
    entries = _image_entries(size, _colour_space(writer, mode, icc, length), 8)
    entries += b" /Filter /DCTDecode"
    if mode == "CMYK" and adobe:
        # Photoshop writes CMYK JPEGs inverted and marks them with an Adobe segment.
        entries += b" /Decode " + pdf_array([1, 0] * components)

    def copy(write: Callable[[bytes], None]) -> None:
        remaining = length
        with open(src, "rb") as handle:
            while remaining:
                chunk = handle.read(min(remaining, 1 << 20))
                if not chunk:
                    raise DocumentError(
                        ErrorCode.CORRUPT_DOCUMENT, "The JPEG image changed while it was read."
                    )
                write(chunk)
                remaining -= len(chunk)

    return writer.add_stream(entries, length, copy)


def _image_entries(size: tuple[int, int], colour_space: bytes, bits: int) -> bytes:
    return (
        b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s "
        % (
            size[0],
            size[1],
            colour_space,
        )
        + b"/BitsPerComponent %d" % bits
    )


def _colour_space(writer: ImagePdfWriter, mode: str, icc: bytes | None, data_size: int) -> bytes:
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


def _add_flate(
    writer: ImagePdfWriter, base: Image.Image, alpha: Image.Image | None, icc: bytes | None
) -> int:
    smask = _add_flate(writer, alpha, None, None) if alpha is not None else None
    if base.mode == "CMYK":
        data = zlib.compress(base.tobytes(), 6)
        entries = _image_entries(base.size, _colour_space(writer, "CMYK", icc, len(data)), 8)
        entries += b" /Filter /FlateDecode"
    else:
        png = png_parts(base)
        if png.colour_type == 3:
            colour_space = b"[/Indexed %s %d <%s>]" % (
                _colour_space(writer, "RGB", icc, len(png.data)),
                len(png.palette) // 3 - 1,
                png.palette.hex().encode("ascii"),
            )
        else:
            colour_space = _colour_space(writer, base.mode, icc, len(png.data))
        colours = 3 if png.colour_type == 2 else 1
        entries = _image_entries(base.size, colour_space, png.bit_depth)
        entries += (
            b" /Filter /FlateDecode /DecodeParms << /Predictor 15 /Colors %d "
            b"/BitsPerComponent %d /Columns %d >>" % (colours, png.bit_depth, base.size[0])
        )
        data = png.data
    if smask is not None:
        entries += b" /SMask %d 0 R" % smask
    return writer.add_bytes_stream(entries, data)


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
