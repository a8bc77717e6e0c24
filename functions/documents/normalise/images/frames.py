"""Image frames become PDF pages: opened under the pixel limits, one page per frame.

Pixel limits are decided from each frame's header before it is decoded. A JPEG frame is
embedded as it is (:mod:`.jpeg`), every other frame as Flate data (:mod:`.flate`), on a
page its resolution and orientation give (:mod:`.placement`).
"""

from __future__ import annotations

import contextlib
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from functions.documents.normalise.images.flate import add_flate, split_alpha
from functions.documents.normalise.images.jpeg import add_jpeg, jpeg_extent, tiff_jpeg_extent
from functions.documents.normalise.images.placement import placement
from functions.documents.normalise.images.tiff_variant import unsupported_tiff_variant
from functions.documents.normalise.pdfwriter import ImagePdfWriter, pdf_number
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


_EXIF_ORIENTATION = 0x0112


_TIFF_ORIENTATION = 274


@dataclass(frozen=True)
class ImageDocument:
    """What converting an image produced, for the facts and the warnings."""

    pages: int
    page_sizes: list[list[float]]
    frames: list[dict[str, Any]]
    warnings: tuple[str, ...]


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

    try:
        with _pillow_limits(limits):
            try:
                image = Image.open(src, formats=PILLOW_FORMATS[kind])
            except _DECODE_ERRORS as err:
                raise corrupt_image(kind) from err
            with image:
                return _convert(image, src, kind, out, limits)
    except DocumentError as err:
        variant = unsupported_tiff_variant(src) if kind == "tiff" else None
        if err.code != ErrorCode.CORRUPT_DOCUMENT or variant is None:
            raise
        raise DocumentError(
            ErrorCode.UNSUPPORTED_TYPE, f"The TIFF image uses {variant}, which is not supported."
        ) from err


def _convert(
    image: Image.Image, src: Path, kind: str, out: IO[bytes], limits: Limits
) -> ImageDocument:
    try:
        total = int(getattr(image, "n_frames", 1))
    except _DECODE_ERRORS as err:
        raise corrupt_image(kind) from err
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
                raise corrupt_image(kind) from err
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


def corrupt_image(kind: str) -> DocumentError:
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
    jpeg = _jpeg_extent(image, src, kind, index)
    if jpeg is not None and mode in ("L", "RGB", "CMYK"):
        if kind == "jpeg":
            _verify_jpeg(image, kind)  # an old-style JPEG TIFF's stream was checked
        adobe = "adobe" in image.info
        xobject = add_jpeg(writer, src, jpeg, size, mode, adobe, icc)
        encoding, alpha = "jpeg", False
    else:
        try:
            image.load()
        except _DECODE_ERRORS as err:
            raise corrupt_image(kind) from err
        if image.mode in ("P", "PA") and image.palette is None:
            raise corrupt_image(kind)  # a palette image whose palette was lost
        base, mask = split_alpha(image)
        xobject, alpha = add_flate(writer, base, mask, icc), mask is not None
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


def _jpeg_extent(image: Image.Image, src: Path, kind: str, index: int) -> tuple[int, int] | None:
    """Where the frame's JPEG data is in ``src``, if it can be embedded as it is."""
    if kind == "jpeg" and index == 0:
        length = jpeg_extent(src)
        return (0, length) if length is not None else None
    if kind == "tiff":
        return tiff_jpeg_extent(image, src)
    return None


def _verify_jpeg(image: Image.Image, kind: str) -> None:
    """Decodes the whole JPEG at 1/8 scale: every byte of entropy data is read, so a
    damaged file is caught, while memory stays at 1/64 of a full decode."""
    width, height = image.size
    try:
        image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
        image.load()
    except _DECODE_ERRORS as err:
        raise corrupt_image(kind) from err
