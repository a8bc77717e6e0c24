"""The image of a scanned page, at its own resolution, and where it sits on the page.

A scanned PDF page draws one image (from a scanner, or from docpipe's own conversion of
an image input). :func:`page_image` finds it by walking the page's content stream with
its graphics state (``q``/``Q``/``cm``), decodes it at the resolution it was scanned at,
and returns the matrix that maps the image's pixels to the page's user space, so the
text layer lands on the words. A page drawn some other way (several images, forms,
vector art) is left alone with a reason.

pikepdf (with Pillow) decodes the image; what it cannot, PDFium decodes from the same
page. That matters for JBIG2, the format of most archival scans: pikepdf runs the
``jbig2dec`` program for it, which Lambda does not have, while PDFium has its own decoder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from functions.documents.matrices import IDENTITY, Matrix, multiply

if TYPE_CHECKING:
    import pikepdf
    from PIL import Image

#: Tesseract reads best near 300 dpi; images between these are used as they are.
MIN_DPI, MAX_DPI = 200.0, 450.0
TARGET_DPI = 300


class NotScannedError(Exception):
    """The page is not one image OCR can read; the message says why."""


@dataclass(frozen=True)
class PageImage:
    """A page's image, ready for OCR.

    Attributes:
        image: Greyscale pixels (resampled to 300 dpi when far from it).
        dpi: The image's resolution as placed on the page.
        image_to_page: Maps the image's unit square (the PDF image space) to user space.
    """

    image: Image.Image
    dpi: int
    image_to_page: Matrix

    def pixels_to_page(self, turn: int) -> Matrix:
        """Maps pixels of the image turned ``turn`` degrees counter-clockwise to user space.

        Pixels have their origin at the top left and y down; the PDF image space is the
        unit square with its origin at the bottom left.
        """
        width, height = self.image.size
        # Upright pixels -> pixels of the image as stored (undoing the turn).
        undo = {
            0: IDENTITY,
            90: (0.0, 1.0, -1.0, 0.0, float(width), 0.0),
            180: (-1.0, 0.0, 0.0, -1.0, float(width), float(height)),
            270: (0.0, -1.0, 1.0, 0.0, 0.0, float(height)),
        }[turn]
        to_unit: Matrix = (1.0 / width, 0.0, 0.0, -1.0 / height, 0.0, 1.0)
        return multiply(multiply(undo, to_unit), self.image_to_page)

    @property
    def axis_aligned(self) -> bool:
        """The image is drawn upright and unflipped (a page /Rotate can then turn it)."""
        a, b, c, d, _e, _f = self.image_to_page
        return a > 0 and d > 0 and b == 0 and c == 0


#: Forms nested deeper than this are not followed (a scan wraps its image in one, at most).
_MAX_FORM_DEPTH = 3


def _drawn_images(
    content: pikepdf.Object, resources: pikepdf.Object, ctm: Matrix, depth: int = 0
) -> list[tuple[pikepdf.Stream, Matrix]]:
    """The images a content stream draws (following forms), each with its matrix."""
    import pikepdf

    xobjects: Any = resources.get("/XObject", pikepdf.Dictionary()) if resources else {}
    stack: list[Matrix] = []
    drawn: list[tuple[pikepdf.Stream, Matrix]] = []
    for instruction in pikepdf.parse_content_stream(content):
        if isinstance(instruction, pikepdf.ContentStreamInlineImage):
            raise NotScannedError("the page draws an inline image")
        operands, op = instruction.operands, str(instruction.operator)
        if op == "q":
            stack.append(ctm)
        elif op == "Q":
            ctm = stack.pop() if stack else ctm
        elif op == "cm" and len(operands) == 6:
            ctm = multiply(tuple(float(x) for x in operands), ctm)  # type: ignore[arg-type]
        elif op == "Do" and operands:
            xobject = xobjects.get(str(operands[0]))
            if not isinstance(xobject, pikepdf.Stream):
                continue
            if xobject.get("/Subtype") == "/Image":
                drawn.append((xobject, ctm))
            elif xobject.get("/Subtype") == "/Form" and depth < _MAX_FORM_DEPTH:
                matrix = [float(x) for x in xobject.get("/Matrix", [1, 0, 0, 1, 0, 0])]
                placed = multiply(tuple(matrix), ctm)  # type: ignore[arg-type]
                own = xobject.get("/Resources", resources)
                drawn += _drawn_images(xobject, own, placed, depth + 1)
            else:
                raise NotScannedError("the page nests its drawing too deeply")
    return drawn


def page_image(page: pikepdf.Page, max_pixels: int, document: Path | None = None) -> PageImage:
    """Returns the one image the page draws, greyscale, at a resolution OCR reads well.

    Args:
        page: The page.
        max_pixels: The largest image decoded (the pixel-bomb limit).
        document: The PDF file the page is in, for PDFium to decode an image pikepdf
            cannot (None: pikepdf alone).

    Raises:
        NotScannedError: The page draws no image, several, or one too large or undecodable.
    """
    from PIL import Image

    drawn = _drawn_images(page.obj, page.resources, IDENTITY)
    if not drawn:
        raise NotScannedError("the page draws no image")
    if len(drawn) > 1:
        raise NotScannedError(f"the page draws {len(drawn)} images")
    xobject, matrix = drawn[0]
    width, height = int(xobject.get("/Width", 0)), int(xobject.get("/Height", 0))
    if width <= 0 or height <= 0 or width * height > max_pixels:
        raise NotScannedError("the page's image is empty or too large to read")
    placed_width = math.hypot(matrix[0], matrix[1]) / 72
    placed_height = math.hypot(matrix[2], matrix[3]) / 72
    if placed_width <= 0 or placed_height <= 0:
        raise NotScannedError("the page's image is drawn with no size")
    dpi = min(width / placed_width, height / placed_height)
    image = _grey(_decoded(xobject, (width, height), document, page.index))
    if not MIN_DPI <= dpi <= MAX_DPI:
        factor = TARGET_DPI / dpi
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        if size[0] * size[1] > max_pixels:
            raise NotScannedError("the page's image would be too large at 300 dpi")
        image = image.resize(size, Image.Resampling.LANCZOS)
        dpi = TARGET_DPI
    return PageImage(image=image, dpi=round(dpi), image_to_page=matrix)


def _decoded(
    xobject: pikepdf.Stream, size: tuple[int, int], document: Path | None, index: int
) -> Image.Image:
    """Decodes the page's image: pikepdf first, then PDFium from ``document``."""
    import pikepdf

    try:
        return _plain_pixels(xobject, *size) or pikepdf.PdfImage(xobject).as_pil_image()
    except (pikepdf.PikepdfError, NotImplementedError, ValueError, OSError) as err:
        # PikepdfError covers qpdf's errors, an unsupported image and a missing jbig2dec.
        failure = type(err).__name__
    image = _pdfium_pixels(document, index) if document is not None else None
    if image is None or image.size != size:
        raise NotScannedError(f"the page's image cannot be decoded ({failure})")
    return image


def _pdfium_pixels(document: Path, index: int) -> Image.Image | None:
    """Decodes the one image page ``index`` draws with PDFium, or returns None when
    PDFium cannot or finds other than one image on the page."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(document))
    except pdfium.PdfiumError:
        return None
    try:
        if index >= len(pdf):
            return None  # PDFium repaired a damaged file into another page tree
        kinds = [pdfium.raw.FPDF_PAGEOBJ_IMAGE]
        images = list(pdf[index].get_objects(filter=kinds, max_depth=_MAX_FORM_DEPTH + 1))
        if len(images) != 1:
            return None
        # A copy: the bitmap's buffer belongs to PDFium and goes with the document.
        return images[0].get_bitmap(render=False).to_pil().copy()
    except pdfium.PdfiumError:
        return None
    finally:
        pdf.close()


#: Filters qpdf undoes when it reads a stream's data (``read_bytes``).
_GENERAL_FILTERS = {
    "/FlateDecode",
    "/LZWDecode",
    "/ASCIIHexDecode",
    "/ASCII85Decode",
    "/RunLengthDecode",
}
_PLAIN_MODES = {"/DeviceGray": ("L", 1), "/DeviceRGB": ("RGB", 3)}


def _plain_pixels(xobject: pikepdf.Stream, width: int, height: int) -> Image.Image | None:
    """Decodes a plain 8-bit grey or RGB image (Flate, as scanners and docpipe's own image
    conversion write them) in one pass, or returns None for anything else.

    pikepdf's ``PdfImage.as_pil_image`` decodes such a stream twice (about 25 ms of an A4
    page at 300 dpi); JPEG, CCITT, JBIG2, palettes, masks and decode arrays go through it.
    """
    import pikepdf
    from PIL import Image

    filters = xobject.get("/Filter")
    if isinstance(filters, pikepdf.Array):
        names = [str(name) for name in filters]
    else:
        names = [] if filters is None else [str(filters)]
    plain = _PLAIN_MODES.get(str(xobject.get("/ColorSpace")))
    if (
        plain is None
        or int(xobject.get("/BitsPerComponent", 0)) != 8
        or "/Decode" in xobject
        or bool(xobject.get("/ImageMask", False))
        or not set(names) <= _GENERAL_FILTERS
    ):
        return None
    mode, channels = plain
    data = xobject.read_bytes()
    if len(data) < width * height * channels:
        return None  # short data: let pikepdf say what is wrong
    return Image.frombytes(mode, (width, height), data[: width * height * channels])


def _grey(image: Image.Image) -> Image.Image:
    if image.mode == "L":
        return image
    if image.mode in {"I;16", "I;16B", "I"}:
        # 16-bit grey: keep the high byte (Pillow's convert would clip to white).
        return image.point(lambda value: value / 256).convert("L")
    return image.convert("RGB").convert("L")
