"""The Flate recompression pass: every plain Flate stream deflated again, the smaller kept."""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.documents.compress.deflate import deflate_level, deflate_smaller
from functions.documents.compress.report import PassResult

if TYPE_CHECKING:
    import pikepdf


def recompress_flate(pdf: pikepdf.Pdf, skip: set[tuple[int, int]]) -> PassResult:
    """Recompresses every plain Flate stream, keeping the smaller encoding.

    This is qpdf's ``recompress_flate`` done with zlib-ng, which inflates about five
    times and deflates about twice as fast as the zlib qpdf uses, for the same format
    (measured in ``benchmarks/``); data of megabytes is deflated at level 6 (see
    :func:`deflate_level`). Streams the image pass has just written (``skip``) are not
    done twice. A stream is inflated and deflated by chunks, and
    given up as soon as the new encoding is not smaller, so a highly compressed stream
    (a Flate bomb) never expands in memory. An image with a PNG or TIFF predictor is
    decoded by qpdf and deflated without it, as qpdf does, when its pixels are known to
    fit in ``_PREDICTOR_DECODED_BYTES``; it keeps the smaller encoding. Damaged data is
    left for qpdf to copy as it is.

    Returns:
        How many streams were recompressed, and their stored sizes before and after.
    """
    import pikepdf

    result = PassResult("recompressed")
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Stream) or obj.objgen in skip:
            continue
        filters = obj.get("/Filter")
        if isinstance(filters, pikepdf.Array) and len(filters) == 1:
            filters = filters[0]
        if filters != pikepdf.Name.FlateDecode:
            continue
        raw = obj.read_raw_bytes()
        if "/DecodeParms" not in obj or _no_parameters(obj.get("/DecodeParms")):
            smaller = deflate_smaller(raw, deflate_level(_image_bytes(obj)))
        else:
            smaller = _without_predictor(obj, len(raw))
        if smaller is not None:
            obj.write(smaller, filter=pikepdf.Name.FlateDecode)
            result = result.add(len(raw), len(smaller))
    return result


def _image_bytes(stream: pikepdf.Stream) -> int | None:
    """Returns an upper bound of an image's decoded size (4 components), None if no image."""
    try:
        if stream.get("/Subtype") != "/Image":
            return None
        width, height = int(stream["/Width"]), int(stream["/Height"])
        bits = int(stream.get("/BitsPerComponent", 8))
    except (KeyError, TypeError, ValueError):
        return None
    return width * height * 4 * max(bits, 1) // 8


# Largest decoded image whose predictor is undone to try it without (qpdf decodes it in
# memory); larger predictor images keep their encoding.
_PREDICTOR_DECODED_BYTES = 64 << 20


def _without_predictor(image: pikepdf.Stream, raw_length: int) -> bytes | None:
    """Returns an image's pixels deflated without its predictor, if that is smaller."""
    import pikepdf
    from zlib_ng import zlib_ng

    try:
        width, height = int(image["/Width"]), int(image["/Height"])
        bits = int(image.get("/BitsPerComponent", 8))
    except (KeyError, TypeError, ValueError):
        return None  # not an image: its size cannot be bounded before decoding
    if image.get("/Subtype") != "/Image" or width * height * 4 * max(bits, 8) // 8 > (
        _PREDICTOR_DECODED_BYTES
    ):
        return None
    try:
        pixels = image.read_bytes()
    except pikepdf.PdfError:
        return None
    compressed = zlib_ng.compress(pixels, deflate_level(len(pixels)))
    return compressed if len(compressed) < raw_length else None


def _no_parameters(parms: object) -> bool:
    import pikepdf

    if isinstance(parms, pikepdf.Array):
        return all(item is None or _no_parameters(item) for item in parms)
    if isinstance(parms, pikepdf.Dictionary):
        return int(parms.get("/Predictor", 1)) == 1
    return parms is None
